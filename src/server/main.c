/*
 * main.c - rcached's entry point: parse the command line, config file and
 * environment (config.c), answer --help and --version, and hand the
 * settings to rcache__server_run (server.c), which owns everything else.
 */
#include "server.h"
#include "version.h"

#include <event2/event.h>
#include <stdio.h>

static void usage(FILE *f) {
    fprintf(f,
            "Usage: rcached [config-file] [--option value ...]\n"
            "       rcached --help | --version\n\n"
            "rcached is a Redis-protocol (RESP2/RESP3) server for librcache.\n"
            "Every option can also be set in the config file ('name value' lines)\n"
            "or in the environment as RCACHED_NAME (upper case, '-' -> '_');\n"
            "flags win over the file, the file over the environment. The library's\n"
            "CACHE_MAX_SIZE, CACHE_MAX_MEMORY_MB, CACHE_TTL_SECONDS, RCACHE_MAX_ITEMS,\n"
            "RCACHE_MAX_BYTES, RCACHE_DEFAULT_TTL_MS, RCACHE_SHARDS and\n"
            "DISABLE_RESULT_CACHE are read too.\n\nOptions:\n");
    fprintf(f, "  %-42s %s\n", "--config <file>", "read options from a redis.conf-style file");
    for (size_t i = 0; i < rcache__config_count(); i++) {
        char left[80];
        snprintf(left, sizeof left, "--%s %s", rcache__config_name(i),
                 rcache__config_metavar(i));
        fprintf(f, "  %-42s %s (default: %s)\n", left, rcache__config_help_text(i),
                rcache__config_default_text(i));
    }
    fprintf(f, "  %-42s %s\n", "-h, --help", "show this help");
    fprintf(f, "  %-42s %s\n", "-v, --version", "show the version");
}

int main(int argc, char **argv) {
    static rcache__server_t srv; /* zeroed; passed around, not used as a global */
    rcache__server_t *s = &srv;
    char err[1024] = "";

    if (rcache__config_from_argv(&s->cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "rcached: %s\n", err);
        fprintf(stderr, "rcached: see 'rcached --help'\n");
        rcache__config_free(&s->cfg);
        return 1;
    }
    if (s->cfg.show_help) {
        usage(stdout);
        rcache__config_free(&s->cfg);
        return 0;
    }
    if (s->cfg.show_version) {
        printf("rcached v=%s librcache=%d.%d.%d libevent=%s\n", RCACHED_VERSION,
               RCACHE_VERSION_MAJOR, RCACHE_VERSION_MINOR, RCACHE_VERSION_PATCH,
               event_get_version());
        rcache__config_free(&s->cfg);
        return 0;
    }
    return rcache__server_run(s);
}
