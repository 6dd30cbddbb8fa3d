/*
 * commands_persist.c - SAVE and BGSAVE [SCHEDULE] (persist.c does the
 * work; LASTSAVE and INFO persistence read its figures).
 */
#include "command.h"
#include "persist.h"

void rcache__cmd_save(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    char err[512];
    (void)argc;
    (void)argv;
    if (rcache__persist_save_now(c->srv, err, sizeof err) != 0)
        rcache__reply_error(c, err);
    else
        rcache__reply_ok(c);
}

void rcache__cmd_bgsave(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    char err[512];
    int schedule = 0, rc;
    if (argc > 2 || (argc == 2 && !(schedule = rcache__arg_is(&argv[1], "schedule")))) {
        rcache__reply_syntax_error(c);
        return;
    }
    rc = rcache__persist_bgsave(c->srv, schedule, err, sizeof err);
    if (rc < 0)
        rcache__reply_error(c, err);
    else if (rc == 1)
        rcache__reply_status(c, "Background saving scheduled");
    else
        rcache__reply_status(c, "Background saving started");
}
