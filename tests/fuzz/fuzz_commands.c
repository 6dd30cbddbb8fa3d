/*
 * fuzz_commands.c - libFuzzer target for rcached's command layer: an
 * arbitrary RESP byte stream is given to one client of a real worker
 * (rcache__client_new() on one end of a socketpair, so the client is built
 * and torn down by the server's own code) and its commands run, either
 * directly through rcache__dispatch() or through the worker's event loop
 * (client.c's reading, query-buffer and reply path); then the cache's
 * invariants are checked.
 *
 * Why: every byte a client sends ends up here. A crash empties the cache
 * (and sends the whole load to the slow path it protects); a command that
 * corrupts the cache's counters breaks eviction and the memory bound
 * silently. Fuzzing the layer directly reaches far more command/argument
 * combinations per second than going through sockets.
 *
 * Input: byte 0 picks the cache limits (items/bytes small enough that
 * eviction happens, or unbounded), whether a password is required, the
 * shard count and the mode; byte 1 the worker's read-buffer size (small
 * sizes split commands across reads); bytes 2-3 two cut points; the rest is
 * the client's byte stream. Checked:
 *  - direct mode, after each command: its output is exactly one well-formed
 *    RESP2 reply (simple string, error, integer, bulk or nested array) -
 *    none only for a client being closed or a SHUTDOWN - and both limits
 *    in force hold;
 *  - loop mode: the stream is written in up to three chunks at the cut
 *    points, the worker's loop runs after each, and everything the client
 *    receives is a sequence of complete, well-formed RESP2 replies;
 *  - at the end: the cache's counters equal a recount of every shard
 *    (items, bytes, entries with a TTL, LRU list and hash chains agree),
 *    as tests/unit/testutil.h's check_invariants does; the client is gone
 *    from the worker and the server's client count; nothing leaks.
 * The cache clock is a manual one moved 100 ms per command (or chunk), so
 * an input behaves the same on every run.
 *
 * The server's own main.c is not linked, and server.c's main loop never
 * runs: SHUTDOWN (server.c's rcache__server_request_shutdown) activates
 * srv.stop_timer, which here only stops this input's stream.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "internal.h"
#include "../common/recount.h"
#include "pubsub.h"
#include "server.h"
#include "admin_diag.h"

/* The dashboard's embedded files are generated at build time for rcached
 * (src/server/CMakeLists.txt); the fuzzer drives commands, not the admin
 * page, so it links an empty set. */
const rcache__asset_t rcache__dashboard_assets[1] = {{"", "text/plain", NULL, 0}};
const size_t rcache__dashboard_nassets = 0;

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
static int shutdown_seen; /* the loop ran srv.stop_timer */

static void on_stop(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    shutdown_seen = 1;
}

/* SHUTDOWN was accepted: srv.stop_timer is active, or the loop ran it. */
static int shutdown_requested(void) {
    return shutdown_seen || event_pending(srv.stop_timer, EV_TIMEOUT, NULL);
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
    case '_': /* RESP3 (HELLO 3): null, boolean, double, big number */
        if (l != 0)
            return -1;
        *off = after;
        return 0;
    case '#':
        if (l != 1 || (body[0] != 't' && body[0] != 'f'))
            return -1;
        *off = after;
        return 0;
    case ',':
    case '(':
        *off = after;
        return l > 0 ? 0 : -1;
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
    case '=': /* verbatim string (RESP3) */
        if (parse_int(body, l, &v) || v < -1 || (t == '=' && v < 4))
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
    case '~': /* set, push frame, map (RESP3) */
    case '>':
    case '%':
        if (parse_int(body, l, &v) || v < (t == '*' ? -1 : 0))
            return -1;
        *off = after;
        if (t == '%')
            v *= 2;
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
    if (n == 0 && (shutdown_requested() || (c->flags & RCACHE__CLIENT_CLOSING)))
        return; /* a successful SHUTDOWN, or a client dropped for a limit */
    /* The SUBSCRIBE family answers once per channel (pubsub.c). */
    int many = argv[0].len >= 9 && argv[0].len <= 12 &&
               (rcache__arg_is(&argv[0], "subscribe") || rcache__arg_is(&argv[0], "psubscribe") ||
                rcache__arg_is(&argv[0], "unsubscribe") ||
                rcache__arg_is(&argv[0], "punsubscribe"));
    int bad = n == 0 || !p || reply_value(p, n, &off, 0) != 0;
    while (!bad && many && off < n)
        bad = reply_value(p, n, &off, 0) != 0;
    if (bad || off != n) {
        fprintf(stderr, "fuzz_commands: bad reply (%zu bytes, parsed %zu) to '%.*s' (%zu args): ",
                n, off, (int)(argv[0].len > 40 ? 40 : argv[0].len), argv[0].ptr, argc);
        fwrite(p ? p : "", 1, n > 300 ? 300 : n, stderr);
        fputc('\n', stderr);
        abort();
    }
    evbuffer_drain(c->out, n); /* releases zero-copy references too */
}

/* ---- invariants ------------------------------------------------------------ */

/* Cheap, after every command: both limits hold. */
static void check_limits(rcache_t *cache) {
    rcache_stats_t st;
    rcache_stats(cache, &st);
    if (st.max_items)
        CHECK(st.items <= st.max_items);
    if (st.max_bytes)
        CHECK(st.bytes <= st.max_bytes);
}

/* After a whole input: everything agrees with a recount. */
static void check_invariants(rcache_t *cache) {
    const char *why = rcache_test_recount(cache);
    if (why) {
        fprintf(stderr, "fuzz_commands: invariant broken: %s\n", why);
        abort();
    }
}

/* ---- the target -------------------------------------------------------------- */

static void init_once(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    clock_base = (uint64_t)tv.tv_sec * 1000u;
    rcache__log_set_level(RCACHE__LOG_WARNING + 1); /* quiet */
    rcache__commands_init();
    CHECK(rcache__pubsub_init() == 0);
    pthread_mutex_init(&srv.cfg_lock, NULL);
    pthread_mutex_init(&srv.clients_lock, NULL);
    srv.base = event_base_new();
    CHECK(srv.base != NULL);
    srv.stop_timer = event_new(srv.base, -1, 0, on_stop, NULL);
    CHECK(srv.stop_timer != NULL);
    worker.base = srv.base;
    worker.srv = &srv;
    worker.index = 0;
    pthread_mutex_init(&worker.lock, NULL);
    worker.rbuf = malloc(65536);
    CHECK(worker.rbuf != NULL);
    srv.workers = &worker;
    srv.nworkers = 1;
    srv.start_ms = clock_base;
    memcpy(srv.run_id, "0123456789012345678901234567890123456789", 41);
}

/* Read what the server sent into *acc. Returns 0 at EOF, 1 otherwise. */
static int drain_replies(int fd, char **acc, size_t *len, size_t *cap) {
    char tmp[65536];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r == 0)
            return 0;
        if (r < 0)
            return 1; /* EAGAIN: nothing more now */
        if (*len + (size_t)r > *cap) {
            size_t nc = *cap ? *cap : 4096;
            while (nc < *len + (size_t)r)
                nc *= 2;
            *acc = realloc(*acc, nc);
            CHECK(*acc != NULL);
            *cap = nc;
        }
        memcpy(*acc + *len, tmp, (size_t)r);
        *len += (size_t)r;
    }
}

/* Run the worker's loop until the client has nothing left to do. */
static int spin(int peer, char **acc, size_t *len, size_t *cap) {
    int open = 1;
    for (int i = 0; i < 64; i++) {
        size_t before = *len;
        event_base_loop(worker.base, EVLOOP_NONBLOCK);
        open = drain_replies(peer, acc, len, cap);
        if (!open || (i > 2 && *len == before))
            break;
    }
    return open;
}

/* Commands run in the worker's loop, the stream written in chunks. */
static void run_loop_mode(int peer, const char *buf, size_t size, size_t cut1,
                          size_t cut2) {
    size_t cuts[4] = {0, cut1, cut2, size};
    char *acc = NULL;
    size_t alen = 0, acap = 0;
    int open = 1;
    for (int k = 0; k < 3 && open && !shutdown_requested(); k++) {
        size_t off = cuts[k];
        while (off < cuts[k + 1] && open) {
            ssize_t w = write(peer, buf + off, cuts[k + 1] - off);
            if (w > 0)
                off += (size_t)w;
            clock_now += 100;
            open = spin(peer, &acc, &alen, &acap) && worker.nclients > 0;
            if (w <= 0 && open && worker.nclients > 0) {
                /* socket full and the server not reading: a client
                 * over its limits gets closed; else give up */
                break;
            }
        }
    }
    /* hang up; the server sees EOF and closes its side */
    shutdown(peer, SHUT_WR);
    for (int i = 0; i < 8 && worker.nclients > 0; i++)
        spin(peer, &acc, &alen, &acap);
    spin(peer, &acc, &alen, &acap);
    if (getenv("FUZZ_COMMANDS_DEBUG")) /* to see what an input does */
        fprintf(stderr, "fuzz_commands: %zu reply bytes:\n%.*s\n", alen, (int)alen,
                acc ? acc : "");
    /* everything received is a sequence of complete replies */
    size_t off = 0;
    while (off < alen) {
        size_t at = off;
        if (reply_value(acc, alen, &off, 0) != 0) {
            fprintf(stderr, "fuzz_commands: malformed reply stream at %zu of %zu: ", at,
                    alen);
            fwrite(acc + at, 1, alen - at > 200 ? 200 : alen - at, stderr);
            fputc('\n', stderr);
            abort();
        }
    }
    free(acc);
}

/* Commands run one by one through rcache__dispatch(), each reply checked. */
static void run_direct_mode(rcache__client_t *c, const char *buf, size_t size) {
    size_t off = 0;
    while (off < size && !shutdown_requested() &&
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
    rcache__client_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int inited;
    if (!inited) {
        init_once();
        inited = 1;
    }
    if (size < 4)
        return 0;
    unsigned mode = data[0];
    static const size_t rbufs[4] = {1, 7, 64, 65536};
    worker.rbuf_cap = rbufs[data[1] & 3];
    size_t body = size - 4;
    size_t cut1 = body ? data[2] % (body + 1) : 0;
    size_t cut2 = body ? data[3] % (body + 1) : 0;
    if (cut1 > cut2) {
        size_t t = cut1;
        cut1 = cut2;
        cut2 = t;
    }
    data += 4;
    size = body;

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
    if (mode & 0x80) /* small client limits, so they are reached */
        CHECK(rcache__config_set(&srv.cfg, "client-query-buffer-limit", "2kb", err,
                                 sizeof err) == 0 &&
              rcache__config_set(&srv.cfg, "client-output-buffer-limit", "4kb", err,
                                 sizeof err) == 0);
    rcache_config_t lc;
    rcache_config_init(&lc);
    lc.max_items = srv.cfg.max_items;
    lc.max_bytes = srv.cfg.maxmemory;
    lc.default_ttl_ms = 0;
    lc.shards = (mode & 0x20) ? 1 : 4;
    lc.clock = fuzz_clock;
    clock_now = clock_base;
    CHECK(rcache_open(&lc, &srv.cache) == RCACHE_OK);
    rcache__server_adopt_cache(&srv);
    shutdown_seen = 0;
    event_del(srv.stop_timer);

    /* one client on a socketpair, built by the server's own code */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    atomic_fetch_add(&srv.connected_clients, 1);
    rcache__client_t *c = rcache__client_new(&worker, sv[0], 1);
    CHECK(c != NULL);

    /* an exact-size copy, so reads past the end are caught */
    char *buf = malloc(size ? size : 1);
    CHECK(buf != NULL);
    memcpy(buf, data, size);

    if (mode & 0x40)
        run_loop_mode(sv[1], buf, size, cut1, cut2);
    else
        run_direct_mode(c, buf, size); /* closes c */
    close(sv[1]);

    /* the client is gone everywhere */
    CHECK(worker.nclients == 0 && worker.clients == NULL);
    CHECK(srv.all_clients == NULL);
    CHECK(atomic_load(&srv.connected_clients) == 0);
    check_invariants(srv.cache);

    free(buf);
    rcache_close(srv.cache);
    srv.cache = NULL;
    rcache__config_free(&srv.cfg);
    return 0;
}
