/*
 * db.c - numbered databases (db.h): key prefixes and the rewriting of a
 * command's key arguments for a client that selected a database above 0.
 *
 * Why prefixes in one cache rather than sixteen caches: the databases must
 * share maxmemory and max-items (Redis's databases share maxmemory), and
 * one cache keeps one LRU across them. The prefix 0x00 0xFF N is reserved:
 * a database-0 key that starts with those two bytes would be seen as a key
 * of database N (docs/SERVER.md).
 */
#include "db.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int used;

int rcache__db_used(void) {
    return atomic_load_explicit(&used, memory_order_relaxed);
}

void rcache__db_mark_used(void) {
    atomic_store_explicit(&used, 1, memory_order_relaxed);
}

static int is_key(const rcache__cmd_t *cmd, size_t argc, size_t i) {
    if (cmd->first_key <= 0 || i < (size_t)cmd->first_key)
        return 0;
    size_t last = cmd->last_key < 0 ? argc - 1 : (size_t)cmd->last_key;
    size_t step = cmd->step > 0 ? (size_t)cmd->step : 1;
    return i <= last && (i - (size_t)cmd->first_key) % step == 0;
}

void rcache__db_run(rcache__client_t *c, const rcache__cmd_t *cmd, size_t argc,
                    const rcache__arg_t *argv,
                    void (*run)(rcache__client_t *, const rcache__cmd_t *, size_t,
                                const rcache__arg_t *)) {
    size_t bytes = argc * sizeof(rcache__arg_t);
    for (size_t i = 0; i < argc; i++)
        if (is_key(cmd, argc, i))
            bytes += RCACHE__DB_PREFIX_LEN + argv[i].len;
    rcache__arg_t *v = malloc(bytes);
    if (!v) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    char *data = (char *)(v + argc);
    for (size_t i = 0; i < argc; i++) {
        if (!is_key(cmd, argc, i)) {
            v[i] = argv[i];
            continue;
        }
        rcache__db_prefix(c->db, data);
        if (argv[i].len)
            memcpy(data + RCACHE__DB_PREFIX_LEN, argv[i].ptr, argv[i].len);
        v[i].ptr = data;
        v[i].len = RCACHE__DB_PREFIX_LEN + argv[i].len;
        data += v[i].len;
    }
    run(c, cmd, argc, v);
    free(v);
}
