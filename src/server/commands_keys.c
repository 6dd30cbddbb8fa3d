/*
 * commands_keys.c - keyspace commands: DEL, UNLINK, EXISTS, TOUCH, TYPE,
 * RENAME, RENAMENX, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL,
 * RCACHE.INVALIDATE, OBJECT and MEMORY.
 *
 * Every key is a string, so TYPE says "string" or "none". KEYS and SCAN
 * walk the cache with rcache_scan() (never listing expired entries);
 * OBJECT and MEMORY read entry metadata with rcache_entry_info(), which
 * neither counts a hit nor changes the LRU order.
 *
 * Keyspace events as Redis 7.0: "del" per key DEL/UNLINK removed; RENAME
 * "new" (the destination), "rename_from", "rename_to"; "keymiss" when
 * EXISTS, TYPE or TOUCH find no key. FLUSHDB/FLUSHALL publish none.
 */
#include "commands_admin.h"
#include "db.h"
#include "keyargs.h"
#include "notify.h"
#include "node.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rcache__cmd_del(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long n = 0;
    for (size_t i = 1; i < argc; i++) {
        if (rcache__key_valid(&argv[i]) && rcache__node_delete(c, &argv[i]) == RCACHE_OK) {
            n++;
            rcache__notify(RCACHE__NOTIFY_GENERIC, "del", argv[i].ptr, argv[i].len);
        }
    }
    rcache__reply_int(c, n);
}

void rcache__cmd_exists(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long n = 0;
    for (size_t i = 1; i < argc; i++) {
        if (rcache__key_valid(&argv[i]) &&
            rcache_exists(RCACHE__CACHE(c), RCACHE__KEY(argv[i])))
            n++;
        else
            rcache__notify(RCACHE__NOTIFY_KEY_MISS, "keymiss", argv[i].ptr, argv[i].len);
    }
    rcache__reply_int(c, n);
}

/* TOUCH moves each key to the most recently used end and resets its idle
 * time (rcache_touch); it counts no hit, see include/rcache.h. */
void rcache__cmd_touch(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    long long n = 0;
    for (size_t i = 1; i < argc; i++) {
        if (rcache__key_valid(&argv[i]) &&
            rcache_touch(RCACHE__CACHE(c), RCACHE__KEY(argv[i])) == RCACHE_OK)
            n++;
        else
            rcache__notify(RCACHE__NOTIFY_KEY_MISS, "keymiss", argv[i].ptr, argv[i].len);
    }
    rcache__reply_int(c, n);
}

void rcache__cmd_type(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    if (rcache__key_valid(&argv[1]) && rcache_exists(RCACHE__CACHE(c), RCACHE__KEY(argv[1]))) {
        rcache__reply_status(c, "string");
    } else {
        rcache__notify(RCACHE__NOTIFY_KEY_MISS, "keymiss", argv[1].ptr, argv[1].len);
        rcache__reply_status(c, "none");
    }
}

static void rename_common(rcache__client_t *c, const rcache__arg_t *argv, int nx) {
    if (!rcache__key_valid(&argv[1])) {
        rcache__reply_error(c, "ERR no such key");
        return;
    }
    if (!rcache__key_ok(c, &argv[2]))
        return;
    rcache_t *cache = RCACHE__CACHE(c);
    if (argv[1].len == argv[2].len && memcmp(argv[1].ptr, argv[2].ptr, argv[1].len) == 0) {
        if (!rcache_exists(cache, RCACHE__KEY(argv[1])))
            rcache__reply_error(c, "ERR no such key");
        else if (nx)
            rcache__reply_int(c, 0);
        else
            rcache__reply_ok(c);
        return;
    }
    int rc = rcache_rename(cache, RCACHE__KEY(argv[1]), RCACHE__KEY(argv[2]), nx);
    if (rc == RCACHE_OK) {
        rcache__notify(RCACHE__NOTIFY_NEW, "new", argv[2].ptr, argv[2].len);
        rcache__notify(RCACHE__NOTIFY_GENERIC, "rename_from", argv[1].ptr, argv[1].len);
        rcache__notify(RCACHE__NOTIFY_GENERIC, "rename_to", argv[2].ptr, argv[2].len);
    }
    if (rc == RCACHE_ENOTFOUND)
        rcache__reply_error(c, "ERR no such key");
    else if (rc == RCACHE_EEXIST)
        rcache__reply_int(c, 0);
    else if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else if (nx)
        rcache__reply_int(c, 1);
    else
        rcache__reply_ok(c);
}

void rcache__cmd_rename(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    rename_common(c, argv, 0);
}

void rcache__cmd_renamenx(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    rename_common(c, argv, 1);
}

/* ---- KEYS / SCAN ------------------------------------------------------
 *
 * Both collect their keys into a scratch evbuffer first (the count goes
 * before the keys) and move it into the output buffer at the end. The
 * collection is bounded twice: each library call copies out about
 * KEYS_PAGE_BYTES of keys at most (the page size adapts to the keys' mean
 * length), and the client's output limit is checked after every key, so a
 * reply larger than client-output-buffer-limit closes the client as soon
 * as it goes over instead of after the whole reply was built.
 *
 * Patterns follow Redis 7.0: a malformed one (unterminated '[', trailing
 * '\') is not an error; the library's listing refuses those, so for them
 * the keys are listed unfiltered and matched here with
 * rcache_glob_match_lenient(). */

#define KEYS_PAGE_BYTES ((size_t)256 * 1024)
#define KEYS_PAGE_MAX ((size_t)1024)

typedef struct key_sink {
    rcache__client_t *c;
    struct evbuffer *b;  /* the keys, as RESP bulk strings */
    const char *pat;     /* NULL = every key */
    size_t plen;
    int lenient;         /* pat is malformed: match here, not in the library */
    int list;            /* 0: walk only (SCAN TYPE other than string) */
    int db;              /* list only this database's keys (db.h) */
    long long n;         /* keys in b */
    uint64_t seen, seen_bytes; /* keys copied out so far, their bytes */
} key_sink_t;

static void sink_init(key_sink_t *k, rcache__client_t *c, struct evbuffer *b,
                      const char *pat, size_t plen) {
    memset(k, 0, sizeof *k);
    k->c = c;
    k->b = b;
    k->list = 1;
    if (pat && !(plen == 1 && pat[0] == '*')) {
        k->pat = pat;
        k->plen = plen;
        /* Above database 0 the pattern applies to the key without its
         * prefix: match here. */
        k->lenient = c->db > 0 || rcache_glob_validate(pat, plen) != RCACHE_OK;
    }
    k->db = c->db;
}

/* Entries to ask the library for next: KEYS_PAGE_BYTES of keys at the mean
 * key length seen so far (one at first). */
static size_t sink_step(const key_sink_t *k) {
    if (k->seen == 0)
        return 1;
    uint64_t mean = k->seen_bytes / k->seen + 1;
    uint64_t n = KEYS_PAGE_BYTES / mean;
    return n < 1 ? 1 : n > KEYS_PAGE_MAX ? KEYS_PAGE_MAX : (size_t)n;
}

/* One library call of about `count` entries from *cursor. Returns 0, or -1
 * when an error was replied or the client went over its output limit. */
static int sink_page(key_sink_t *k, uint64_t *cursor, size_t count) {
    rcache_scan_page_t page = {0};
    uint64_t next = 0;
    int rc = rcache_scan(RCACHE__CACHE(k->c), *cursor, count,
                         k->lenient ? NULL : k->pat, k->lenient ? 0 : k->plen, 0,
                         &page, &next);
    if (rc != RCACHE_OK) {
        rcache__reply_lib_error(k->c, rc);
        return -1;
    }
    for (size_t i = 0; i < page.count; i++) {
        const rcache_entry_info_t *e = &page.entries[i];
        k->seen++;
        k->seen_bytes += e->key_len;
        const char *key;
        size_t klen;
        if (rcache__db_of_key(e->key, e->key_len, &key, &klen) != k->db)
            continue;
        if (!k->list || (k->lenient && !rcache_glob_match_lenient(k->pat, k->plen, key, klen)))
            continue;
        char hdr[RCACHE_RESP_HDR_MAX];
        evbuffer_add(k->b, hdr, rcache__resp_fmt_bulk_hdr(hdr, klen));
        evbuffer_add(k->b, key, klen);
        evbuffer_add(k->b, "\r\n", 2);
        k->n++;
        if (rcache__client_output_over(k->c, evbuffer_get_length(k->b))) {
            rcache_scan_page_free(&page);
            return -1;
        }
    }
    rcache_scan_page_free(&page);
    *cursor = next;
    return 0;
}

void rcache__cmd_keys(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    key_sink_t k;
    sink_init(&k, c, b, argv[1].ptr, argv[1].len);
    uint64_t cursor = 0;
    do {
        if (sink_page(&k, &cursor, sink_step(&k)) != 0) {
            evbuffer_free(b);
            return;
        }
    } while (cursor != 0);
    rcache__reply_array(c, k.n);
    rcache__reply_buffer(c, b);
    evbuffer_free(b);
}

/* SCAN's arguments after the cursor; 0, or -1 after replying an error. */
static int scan_args(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                     const rcache__arg_t **pat, long long *count, int *type_ok) {
    for (size_t i = 2; i < argc; i++) {
        int more = i + 1 < argc;
        if (rcache__arg_is(&argv[i], "count") && more) {
            if (!rcache__str2ll(argv[i + 1].ptr, argv[i + 1].len, count)) {
                rcache__reply_not_int(c);
                return -1;
            }
            if (*count < 1) {
                rcache__reply_syntax_error(c);
                return -1;
            }
            i++;
        } else if (rcache__arg_is(&argv[i], "match") && more) {
            *pat = &argv[i + 1];
            i++;
        } else if (rcache__arg_is(&argv[i], "type") && more) {
            *type_ok = rcache__arg_is(&argv[i + 1], "string");
            i++;
        } else {
            rcache__reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

void rcache__cmd_scan(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    char cbuf[32];
    unsigned long long cursor = 0;
    if (rcache__arg_cstr(&argv[1], cbuf, sizeof cbuf) != 0 || !cbuf[0]) {
        rcache__reply_error(c, "ERR invalid cursor");
        return;
    }
    for (const char *p = cbuf; *p; p++) {
        if (*p < '0' || *p > '9' || cursor > (~0ull - (unsigned)(*p - '0')) / 10) {
            rcache__reply_error(c, "ERR invalid cursor");
            return;
        }
        cursor = cursor * 10 + (unsigned)(*p - '0');
    }
    const rcache__arg_t *pat = NULL;
    long long count = 10;
    int type_ok = 1;
    if (scan_args(c, argc, argv, &pat, &count, &type_ok) != 0)
        return;
    if (count > 100000)
        count = 100000;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
        return;
    }
    key_sink_t k;
    sink_init(&k, c, b, pat ? pat->ptr : NULL, pat ? pat->len : 0);
    k.list = type_ok;
    /* COUNT is split over several library calls (each a valid cursor
     * step), so the keys copied out at once stay bounded. */
    uint64_t cur = cursor;
    size_t left = (size_t)count;
    do {
        size_t step = sink_step(&k);
        if (step > left)
            step = left;
        if (sink_page(&k, &cur, step) != 0) {
            evbuffer_free(b);
            return;
        }
        left -= step;
    } while (left > 0 && cur != 0);
    rcache__reply_array(c, 2);
    char nb[32];
    int n = snprintf(nb, sizeof nb, "%llu", (unsigned long long)cur);
    rcache__reply_bulk(c, nb, (size_t)n);
    rcache__reply_array(c, k.n);
    rcache__reply_buffer(c, b);
    evbuffer_free(b);
}

/* Scan calls one RANDOMKEY may make (each bounded to 16 x 10 buckets). */
#define RANDOMKEY_MAX_SCANS 256

/* Per-thread xorshift: RANDOMKEY needs variety, not cryptographic quality. */
static uint64_t next_random(void) {
    static _Thread_local uint64_t x;
    if (!x)
        x = rcache__wall_ms() * 6364136223846793005ull + (uint64_t)(uintptr_t)&x;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

void rcache__cmd_randomkey(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    rcache_t *cache = RCACHE__CACHE(c);
    if (rcache_count(cache) == 0) {
        rcache__reply_null(c);
        return;
    }
    /* Any value is a valid scan cursor (shard in the low bits, bucket
     * cursor above), so start at a random one and take a random key of the
     * first page that has any, wrapping around once at the end. Each scan
     * call visits at most 160 buckets and tables shrink when sparse, so a
     * few calls find a key; the cap bounds the work when nearly every key
     * has expired unreclaimed (then the reply is nil, as for an empty
     * database). */
    uint64_t cursor = next_random();
    int wrapped = 0;
    for (int rounds = 0; rounds < RANDOMKEY_MAX_SCANS; rounds++) {
        rcache_scan_page_t page = {0};
        uint64_t next = 0;
        if (rcache_scan(cache, cursor, 16, NULL, 0, 0, &page, &next) != RCACHE_OK)
            break;
        size_t start = page.count ? (size_t)(next_random() % page.count) : 0;
        for (size_t i = 0; i < page.count; i++) {
            const rcache_entry_info_t *e = &page.entries[(start + i) % page.count];
            const char *key;
            size_t klen;
            if (rcache__db_of_key(e->key, e->key_len, &key, &klen) != c->db)
                continue;
            rcache__reply_bulk(c, key, klen);
            rcache_scan_page_free(&page);
            return;
        }
        rcache_scan_page_free(&page);
        if (next == 0 && wrapped++)
            break;
        cursor = next;
    }
    rcache__reply_null(c);
}

/* Keys of the client's database (expired ones not yet reclaimed
 * included, as Redis's DBSIZE): the library's count of its key class. */
static uint64_t db_keys(rcache__client_t *c) {
    rcache_class_stats_t cls[RCACHE__DB_COUNT];
    if (rcache_class_stats(RCACHE__CACHE(c), cls, RCACHE__DB_COUNT) != RCACHE_OK)
        return 0;
    return cls[c->db].items;
}

void rcache__cmd_dbsize(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    (void)argv;
    rcache_config_t cfg;
    rcache_get_config(RCACHE__CACHE(c), &cfg);
    if (cfg.disabled) /* keys a read can see: none (KEYS/SCAN list none) */
        rcache__reply_int(c, 0);
    else if (c->db == 0 && !rcache__db_used())
        rcache__reply_int(c, (long long)rcache_count(RCACHE__CACHE(c)));
    else
        rcache__reply_int(c, (long long)db_keys(c));
}

void rcache__cmd_flushdb(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    if (argc > 2 || (argc == 2 && !rcache__arg_is(&argv[1], "async") &&
                     !rcache__arg_is(&argv[1], "sync"))) {
        rcache__reply_syntax_error(c);
        return;
    }
    uint64_t removed = 0;
    if (rcache__arg_is(&argv[0], "flushall") || (c->db == 0 && !rcache__db_used()))
        (void)rcache__node_clear(c->srv, &removed);
    else /* this database's keys, in this node's L1 (as DEL of each) */
        (void)rcache_invalidate_class(RCACHE__CACHE(c), (uint32_t)c->db, NULL, 0, &removed);
    rcache__log(RCACHE__LOG_VERBOSE, "FLUSH removed %llu keys", (unsigned long long)removed);
    rcache__reply_ok(c);
}

void rcache__cmd_invalidate(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    uint64_t removed = 0;
    (void)argc;
    int rc = rcache__node_invalidate(c, &argv[1], &removed);
    if (rc == RCACHE_EPATTERN)
        rcache__reply_error(c, "ERR invalid pattern");
    else if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, (long long)removed);
}

/* ---- tags ------------------------------------------------------------- */

void rcache__cmd_tag_invalidate(rcache__client_t *c, size_t argc,
                                const rcache__arg_t *argv) {
    uint64_t removed = 0;
    (void)argc;
    int rc = rcache__node_invalidate_tag(c->srv, argv[1].ptr, argv[1].len, &removed);
    if (rc == RCACHE_EINVAL || rc == RCACHE_ETOOBIG)
        rcache__reply_errorf(c, "ERR a tag must be 1 to %u bytes", RCACHE_MAX_TAG_LEN);
    else if (rc != RCACHE_OK)
        rcache__reply_lib_error(c, rc);
    else
        rcache__reply_int(c, (long long)removed);
}

/* RCACHE.TAGS key: the key's tags (an empty array when it has none), or
 * a null array when the key does not exist. */
void rcache__cmd_tags(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache_tag_list_t *l = NULL;
    (void)argc;
    if (!rcache__key_valid(&argv[1])) {
        rcache__reply_null_array(c);
        return;
    }
    int rc = rcache_get_tags(RCACHE__CACHE(c), RCACHE__KEY(argv[1]), &l);
    if (rc == RCACHE_ENOTFOUND) {
        rcache__reply_null_array(c);
    } else if (rc != RCACHE_OK) {
        rcache__reply_lib_error(c, rc);
    } else {
        rcache__reply_array(c, (long long)l->count);
        for (size_t i = 0; i < l->count; i++)
            rcache__reply_bulk(c, l->tags[i].data, l->tags[i].len);
    }
    rcache_tag_list_free(l);
}

/* ---- OBJECT / MEMORY -------------------------------------------------- */

static int encoding_cb(rcache_update_t *u, void *arg) {
    const char **enc = arg;
    long long v;
    if (!u->found)
        *enc = NULL;
    else if (u->old_len <= 20 && rcache__str2ll(u->old_val, u->old_len, &v))
        *enc = "int";
    else if (u->old_len <= 44)
        *enc = "embstr";
    else
        *enc = "raw";
    return RCACHE_UPDATE_KEEP;
}

static const char *const OBJECT_HELP[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key> (hits since stored, at most 255).",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
};

void rcache__cmd_object(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, OBJECT_HELP, sizeof OBJECT_HELP / sizeof OBJECT_HELP[0]);
        return;
    }
    int known = rcache__arg_is(sub, "idletime") || rcache__arg_is(sub, "freq") ||
                rcache__arg_is(sub, "encoding") || rcache__arg_is(sub, "refcount");
    if (!known) {
        rcache__reply_unknown_subcommand(c, sub, "OBJECT");
        return;
    }
    if (argc != 3) {
        char lower[16];
        size_t n = sub->len < sizeof lower - 1 ? sub->len : sizeof lower - 1;
        rcache__lower_copy(lower, sub->ptr, n);
        lower[n] = '\0';
        rcache__reply_errorf(c, "ERR wrong number of arguments for 'object|%s' command", lower);
        return;
    }
    const rcache__arg_t *key = &argv[2];
    rcache_entry_info_t info;
    if (!rcache__key_valid(key) ||
        rcache_entry_info(RCACHE__CACHE(c), RCACHE__KEY(*key), &info) != RCACHE_OK) {
        rcache__reply_null(c);
        return;
    }
    if (rcache__arg_is(sub, "idletime")) {
        uint64_t now = rcache_now_ms(RCACHE__CACHE(c));
        uint64_t idle = now > info.last_access_ms ? (now - info.last_access_ms) / 1000 : 0;
        rcache__reply_int(c, (long long)idle);
    } else if (rcache__arg_is(sub, "freq")) {
        rcache__reply_int(c, (long long)(info.access_count > 255 ? 255 : info.access_count));
    } else if (rcache__arg_is(sub, "refcount")) {
        rcache__reply_int(c, 1);
    } else {
        const char *enc = NULL;
        rcache_update(RCACHE__CACHE(c), RCACHE__KEY(*key), encoding_cb, &enc);
        if (enc)
            rcache__reply_bulk_cstr(c, enc);
        else
            rcache__reply_null(c);
    }
}

void rcache__cmd_memory(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (rcache__arg_is(sub, "help") && argc == 2) {
        rcache__reply_array(c, 7);
        rcache__reply_status(c, "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        rcache__reply_status(c, "STATS");
        rcache__reply_status(c, "    Return information about the memory usage of the server.");
        rcache__reply_status(c, "USAGE <key> [SAMPLES <count>]");
        rcache__reply_status(c, "    Return memory in bytes used by <key> (what it counts against maxmemory).");
        rcache__reply_status(c, "HELP");
        rcache__reply_status(c, "    Print this help.");
        return;
    }
    if (rcache__arg_is(sub, "stats") && argc == 2) {
        rcache__memory_stats(c); /* commands_admin.c */
        return;
    }
    if (!rcache__arg_is(sub, "usage")) {
        rcache__reply_unknown_subcommand(c, sub, "MEMORY");
        return;
    }
    if (argc < 3) {
        rcache__reply_arity(c, "memory|usage");
        return;
    }
    for (size_t i = 3; i < argc; i++) {
        long long samples;
        if (rcache__arg_is(&argv[i], "samples") && i + 1 < argc) {
            if (!rcache__str2ll(argv[i + 1].ptr, argv[i + 1].len, &samples)) {
                rcache__reply_not_int(c);
                return;
            }
            if (samples < 0) {
                rcache__reply_error(c, "ERR value is out of range, must be positive");
                return;
            }
            i++;
        } else {
            rcache__reply_syntax_error(c);
            return;
        }
    }
    rcache_entry_info_t info;
    if (!rcache__key_valid(&argv[2]) ||
        rcache_entry_info(RCACHE__CACHE(c), RCACHE__KEY(argv[2]), &info) != RCACHE_OK)
        rcache__reply_null(c);
    else
        rcache__reply_int(c, (long long)info.size_bytes);
}
