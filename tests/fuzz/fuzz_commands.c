/*
 * fuzz_commands.c - libFuzzer target for rcached's command layer: an
 * arbitrary RESP byte stream is parsed (src/server/resp.c) and every
 * command run through rcache__dispatch() (src/server/commands*.c) for one
 * in-memory client, with no socket and no event loop; then the cache's
 * invariants are checked.
 *
 * Why: every byte a client sends ends up here. A crash empties the cache
 * (and sends the whole load to the slow path it protects); a command that
 * corrupts the cache's counters breaks eviction and the memory bound
 * silently. Fuzzing the layer directly reaches far more command/argument
 * combinations per second than going through sockets.
 *
 * Input: byte 0 picks the cache limits (items/bytes small enough that
 * eviction happens, or unbounded) and whether a password is required; the
 * rest is the client's byte stream. Checked:
 *  - after each command: its output is exactly one well-formed RESP2 reply
 *    (simple string, error, integer, bulk or nested array), and both limits
 *    in force hold;
 *  - at the end: the cache's counters equal a recount of every shard
 *    (items, bytes, entries with a TTL, LRU list and hash chains agree),
 *    as tests/unit/testutil.h's check_invariants does; nothing leaks.
 * The cache clock is a manual one moved 100 ms per command, so an input
 * behaves the same on every run.
 *
 * The server's own main.c is not linked; rcache__server_request_shutdown()
 * is defined here (SHUTDOWN only stops this input's stream).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "internal.h"
#include "server.h"

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_commands: check failed: %s (line %d)\n",   \
                    #cond, __LINE__);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

static rcache__server_t srv;
static rcache__worker_t worker;
static uint64_t clock_base, clock_now;
static int shutdown_requested;

void rcache__server_request_shutdown(rcache__server_t *s) {
    (void)s;
    shutdown_requested = 1;
}

static uint64_t fuzz_clock(void *ctx) {
    (void)ctx;
    return clock_now;
}

/* ---- reply validation ----------------------------------------------------- */

/* Length of a line starting at p (up to CRLF, which must follow with no
 * bare CR or LF before it); -1 if malformed or incomplete. */
static long line_len(const char *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\r')
            return p[i + 1] == '\n' ? (long)i : -1;
        if (p[i] == '\n')
            return -1;
    }
    return -1;
}

static int parse_int(const char *p, long len, long long *out) {
    unsigned long long v = 0;
    int neg = 0;
    long i = 0;
    if (len > 0 && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= len || len - i > 19)
        return -1;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10u + (unsigned)(p[i] - '0');
    }
    if (v > (unsigned long long)LLONG_MAX)
        v = (unsigned long long)LLONG_MAX; /* only lengths are used */
    *out = neg ? -(long long)v : (long long)v;
    return 0;
}

/* Parse one RESP2 value at p[*off]; 0 if well formed. */
static int reply_value(const char *p, size_t n, size_t *off, int depth) {
    if (depth > 16 || *off >= n)
        return -1;
    char t = p[*off];
    const char *body = p + *off + 1;
    long l = line_len(body, n - *off - 1);
    long long v;
    if (l < 0)
        return -1;
    size_t after = *off + 1 + (size_t)l + 2;
    switch (t) {
    case '+':
    case '-':
        if (t == '-' && l == 0)
            return -1; /* an error needs a message */
        *off = after;
        return 0;
    case ':':
        if (parse_int(body, l, &v))
            return -1;
        *off = after;
        return 0;
    case '$':
        if (parse_int(body, l, &v) || v < -1)
            return -1;
        if (v == -1) {
            *off = after;
            return 0;
        }
        if (n - after < (size_t)v + 2 || p[after + (size_t)v] != '\r' ||
            p[after + (size_t)v + 1] != '\n')
            return -1;
        *off = after + (size_t)v + 2;
        return 0;
    case '*':
        if (parse_int(body, l, &v) || v < -1)
            return -1;
        *off = after;
        for (long long i = 0; i < v; i++)
            if (reply_value(p, n, off, depth + 1))
                return -1;
        return 0;
    default:
        return -1;
    }
}

static void check_one_reply(rcache__client_t *c, const rcache__arg_t *argv,
                            size_t argc) {
    size_t n = evbuffer_get_length(c->out);
    const char *p = (const char *)evbuffer_pullup(c->out, -1);
    size_t off = 0;
    if (n == 0 && shutdown_requested)
        return; /* SHUTDOWN that succeeds replies nothing, as in Redis */
    if (n == 0 || !p || reply_value(p, n, &off, 0) != 0 || off != n) {
        fprintf(stderr, "fuzz_commands: bad reply (%zu bytes, parsed %zu) to '%.*s' (%zu args): ",
                n, off, (int)(argv[0].len > 40 ? 40 : argv[0].len), argv[0].ptr, argc);
        fwrite(p ? p : "", 1, n > 300 ? 300 : n, stderr);
        fputc('\n', stderr);
        abort();
    }
    evbuffer_drain(c->out, n); /* releases zero-copy references too */
}

/* ---- invariants ------------------------------------------------------------ */

static void check_limits(rcache_t *cache) {
    rcache_stats_t st;
    rcache_stats(cache, &st);
    if (st.max_items)
        CHECK(st.items <= st.max_items);
    if (st.max_bytes)
        CHECK(st.bytes <= st.max_bytes);
}

static void check_invariants(rcache_t *cache) {
    uint64_t items = 0, bytes = 0;
    for (uint32_t i = 0; i < cache->nshards; i++) {
        rcache__shard_t *s = &cache->shards[i];
        uint64_t n = 0, lru_n = 0, nttl = 0;
        pthread_mutex_lock(&s->lock);
        for (size_t b = 0; b <= s->mask; b++)
            for (rcache__entry_t *e = s->buckets[b]; e; e = e->hnext) {
                n++;
                bytes += rcache__entry_charge(e);
                nttl += e->expire_at_ms != 0;
                CHECK((e->hash & s->mask) == b);
                CHECK(atomic_load(&e->refs) >= 1);
            }
        for (rcache__entry_t *e = s->lru.next; e != &s->lru; e = e->next) {
            CHECK(e->next->prev == e);
            lru_n++;
        }
        CHECK(n == s->count);
        CHECK(lru_n == s->count);
        CHECK(nttl == s->nttl);
        items += n;
        pthread_mutex_unlock(&s->lock);
    }
    rcache_stats_t st;
    rcache_stats(cache, &st);
    CHECK(items == st.items);
    CHECK(bytes == st.bytes);
    CHECK(rcache_count(cache) == items);
    check_limits(cache);
}

/* ---- the target -------------------------------------------------------------- */

static void init_once(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    clock_base = (uint64_t)tv.tv_sec * 1000u;
    rcache__log_set_level(RCACHE__LOG_WARNING + 1); /* quiet */
    rcache__commands_init();
    pthread_mutex_init(&srv.cfg_lock, NULL);
    pthread_mutex_init(&srv.clients_lock, NULL);
    srv.base = event_base_new();
    CHECK(srv.base != NULL);
    worker.base = srv.base;
    worker.srv = &srv;
    worker.index = 0;
    srv.workers = &worker;
    srv.nworkers = 1;
    srv.start_ms = clock_base;
    memcpy(srv.run_id, "0123456789012345678901234567890123456789", 41);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int inited;
    if (!inited) {
        init_once();
        inited = 1;
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;

    /* the server's settings and a fresh cache for this input */
    rcache__config_defaults(&srv.cfg);
    static const char *const maxmem[4] = {"0", "4kb", "64kb", "1mb"};
    static const char *const items[4] = {"0", "3", "50", "0"};
    char err[256];
    CHECK(rcache__config_set(&srv.cfg, "maxmemory", maxmem[mode & 3], err, sizeof err) == 0);
    CHECK(rcache__config_set(&srv.cfg, "max-items", items[(mode >> 2) & 3], err, sizeof err) == 0);
    CHECK(rcache__config_set(&srv.cfg, "loglevel", "warning", err, sizeof err) == 0);
    if (mode & 0x10)
        CHECK(rcache__config_set(&srv.cfg, "requirepass", "pw", err, sizeof err) == 0);
    rcache_config_t lc;
    rcache_config_init(&lc);
    lc.max_items = srv.cfg.max_items;
    lc.max_bytes = srv.cfg.maxmemory;
    lc.default_ttl_ms = 0;
    lc.shards = (mode & 0x20) ? 1 : 4;
    lc.clock = fuzz_clock;
    clock_now = clock_base;
    CHECK(rcache_open(&lc, &srv.cache) == RCACHE_OK);
    rcache__server_apply_config(&srv);
    shutdown_requested = 0;

    /* one in-memory client, registered like a real one */
    rcache__client_t *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    c->fd = -1;
    c->srv = &srv;
    c->w = &worker;
    c->out = evbuffer_new();
    CHECK(c->out != NULL);
    rcache__resp_limits_t lim;
    rcache__resp_limits_default(&lim);
    lim.max_bulk_len = 1u << 20;
    CHECK(rcache__resp_parser_init(&c->parser, &lim) == 0);
    c->id = 1;
    c->authed = !atomic_load(&srv.auth_required);
    c->ctime_ms = rcache__mono_ms();
    atomic_store(&c->last_ms, c->ctime_ms);
    atomic_store(&c->last_cmd, "NULL");
    snprintf(c->addr, sizeof c->addr, "127.0.0.1:50000");
    snprintf(c->laddr, sizeof c->laddr, "127.0.0.1:6380");
    srv.all_clients = c;

    /* an exact-size copy, so reads past the end are caught */
    char *buf = malloc(size ? size : 1);
    CHECK(buf != NULL);
    memcpy(buf, data, size);

    size_t off = 0;
    while (off < size && !shutdown_requested &&
           !(c->flags & (RCACHE__CLIENT_CLOSE_AFTER_REPLY | RCACHE__CLIENT_CLOSING))) {
        size_t argc = 0, consumed = 0;
        int r = rcache__resp_parse(&c->parser, buf + off, size - off, &c->argv,
                                   &c->argv_cap, &argc, &consumed);
        if (r != RCACHE_RESP_OK)
            break; /* incomplete or a protocol error: the stream ends */
        CHECK(consumed > 0 && consumed <= size - off);
        off += consumed;
        if (argc == 0)
            continue;
        clock_now += 100;
        rcache__dispatch(c, argc, c->argv);
        check_one_reply(c, c->argv, argc);
        check_limits(srv.cache);
    }

    check_invariants(srv.cache);

    /* tear down */
    free(buf);
    srv.all_clients = NULL;
    free(c->name);
    free(c->argv);
    rcache__resp_parser_free(&c->parser);
    evbuffer_free(c->out);
    free(c);
    rcache_close(srv.cache);
    srv.cache = NULL;
    rcache__config_free(&srv.cfg);
    return 0;
}
