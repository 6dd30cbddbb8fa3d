/*
 * admin_diag.c - the diagnostics endpoints of the admin API (issue 15):
 * the last hour of the main figures sampled once a second (a fixed ring,
 * GET /api/cache/history), the miss-ratio curve with a "what would more
 * memory buy" readout (GET /api/cache/mrc), the hot keys
 * (GET /api/cache/hotkeys), the size histogram (GET /api/cache/sizes) and
 * the namespaces (GET /api/cache/namespaces). See docs/ADMIN.md.
 *
 * Starting the admin module turns the library's diagnostics on (the MRC
 * estimator and the hot-key sketch are off by default in librcache). The
 * sampler is a 1 s timer on the admin event base: one rcache_stats() and
 * one figures call a second, everything else is computed on request (the
 * census behind /sizes and /namespaces kept a while: census()).
 */
#include "admin_diag.h"
#include "admin_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#define HIST_SLOTS 3600 /* one hour at one sample a second */

/* One second of history: rates over the second before t_ms, gauges at it. */
typedef struct hist_sample {
    uint64_t t_ms; /* wall clock */
    double ops, hits, misses, hit_ratio, ev_items, ev_bytes, expirations, saved_ms;
    uint64_t items, bytes, max_bytes, max_items, clients;
} hist_sample_t;

/* Cumulative counters at the previous tick. */
typedef struct hist_prev {
    uint64_t mono_ms, cmds, hits, misses, ev_items, ev_bytes, expirations, saved_ms;
    int valid;
} hist_prev_t;

/* What a census reflects: if none of these moved, the cache holds the
 * same entries (a store, delete, eviction or expiry moves one). */
typedef struct census_mark {
    uint64_t items, bytes, sets, deletes, ev_items, ev_bytes, expirations;
} census_mark_t;

struct rcache__admin_diag {
    struct event *timer;
    hist_sample_t ring[HIST_SLOTS];
    unsigned head, n;
    hist_prev_t prev;
    /* The last census (GET /sizes and /namespaces share it), see
     * census_get(); NULL until the first. */
    rcache_census_t *census;
    census_mark_t census_mark;
    uint64_t census_at_ms, census_took_ms; /* monotonic */
};

static json_t *ju64(uint64_t v) {
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Counter difference as a rate; a counter that went back (stats reset)
 * gives 0 for that second. */
static double rate(uint64_t now, uint64_t before, double secs) {
    return now >= before && secs > 0 ? (double)(now - before) / secs : 0.0;
}

/* Take one sample (the timer, and tests through rcache__admin_diag_tick). */
void rcache__admin_diag_tick(rcache__admin_t *a) {
    rcache__admin_diag_t *d = a->diag;
    rcache_stats_t s;
    rcache__server_figures_t f;
    uint64_t mono = rcache__admin_mono_ms();
    rcache_stats(a->cache, &s);
    rcache__admin_figures(a, &f);
    hist_prev_t now = {mono, f.total_commands, s.hits, s.misses, s.evictions_items,
                       s.evictions_bytes, s.expirations, s.compute_saved_ms, 1};
    if (d->prev.valid && mono > d->prev.mono_ms) {
        double secs = (double)(mono - d->prev.mono_ms) / 1000.0;
        hist_sample_t *h = &d->ring[d->head];
        memset(h, 0, sizeof *h);
        h->t_ms = wall_ms();
        h->ops = rate(now.cmds, d->prev.cmds, secs);
        h->hits = rate(now.hits, d->prev.hits, secs);
        h->misses = rate(now.misses, d->prev.misses, secs);
        h->hit_ratio = h->hits + h->misses > 0 ? h->hits / (h->hits + h->misses) : 0;
        if (h->ops == 0 && f.total_commands == 0) /* no server: lookups are the ops */
            h->ops = h->hits + h->misses;
        h->ev_items = rate(now.ev_items, d->prev.ev_items, secs);
        h->ev_bytes = rate(now.ev_bytes, d->prev.ev_bytes, secs);
        h->expirations = rate(now.expirations, d->prev.expirations, secs);
        h->saved_ms = rate(now.saved_ms, d->prev.saved_ms, secs);
        h->items = s.items;
        h->bytes = s.bytes;
        h->max_bytes = s.max_bytes;
        h->max_items = s.max_items;
        h->clients = f.connected_clients;
        d->head = (d->head + 1) % HIST_SLOTS;
        if (d->n < HIST_SLOTS)
            d->n++;
    }
    d->prev = now;
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rcache__admin_diag_tick(arg);
}

int rcache__admin_diag_start(rcache__admin_t *a) {
    struct timeval one = {1, 0};
    a->diag = calloc(1, sizeof *a->diag);
    if (!a->diag)
        return -1;
    a->diag->timer = event_new(a->base, -1, EV_PERSIST, on_timer, a);
    if (!a->diag->timer || event_add(a->diag->timer, &one) != 0) {
        rcache__admin_diag_stop(a);
        return -1;
    }
    /* A network round trip dwarfs the estimator's cost, so rcached samples
     * at rate 1 (exact curves up to ~25k keys) and 1 lookup in 16 for the
     * hot keys, where the library's defaults (1/256, 1 in 256) keep an embedded
     * cache's get path within a few per cent. */
    rcache_diag_opts_t o;
    rcache_diag_opts_init(&o);
    o.mrc_max_rate = 1.0;
    o.hotkeys_every = 16;
    rcache_diag_enable_ex(a->cache, 1, &o); /* ENOMEM: the endpoints say "off" */
    rcache__admin_diag_tick(a);      /* the baseline */
    return 0;
}

void rcache__admin_diag_stop(rcache__admin_t *a) {
    if (!a->diag)
        return;
    if (a->diag->timer)
        event_free(a->diag->timer);
    free(a->diag->census);
    free(a->diag);
    a->diag = NULL;
}

/* ---- GET /api/cache/history ------------------------------------------ */

/* Unsigned query parameter, or def when absent; -1 (400 sent) when bad. */
static int query_u64(struct evhttp_request *req, const char *query, const char *name,
                     uint64_t def, uint64_t *out) {
    char *v = NULL, *end;
    size_t len;
    int rc = query ? rcache__admin_query_get(query, name, &v, &len) : 0;
    *out = def;
    if (rc == 0)
        return 0;
    if (rc > 0 && len > 0 && v[0] >= '0' && v[0] <= '9') {
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (*end == '\0' && errno == 0) {
            *out = x;
            free(v);
            return 0;
        }
    }
    free(v);
    rcache__admin_reply_error(req, 400, name, "%s must be a non-negative integer", name);
    return -1;
}

#define SERIES(X)                                                                  \
    X(ops_per_s, json_real(h->ops))                                                \
    X(hits_per_s, json_real(h->hits))                                              \
    X(misses_per_s, json_real(h->misses))                                          \
    X(hit_ratio, json_real(h->hit_ratio))                                          \
    X(evictions_items_per_s, json_real(h->ev_items))                               \
    X(evictions_bytes_per_s, json_real(h->ev_bytes))                               \
    X(expirations_per_s, json_real(h->expirations))                                \
    X(items, ju64(h->items))                                                       \
    X(bytes, ju64(h->bytes))                                                       \
    X(max_bytes, h->max_bytes ? ju64(h->max_bytes) : json_null())                  \
    X(max_items, h->max_items ? ju64(h->max_items) : json_null())                  \
    X(clients, ju64(h->clients))                                                   \
    X(compute_saved_s_per_s, json_real(h->saved_ms / 1000.0))

void rcache__admin_h_history(rcache__admin_t *a, struct evhttp_request *req, const char *rest,
                             const char *query) {
    rcache__admin_diag_t *d = a->diag;
    uint64_t since, max;
    (void)rest;
    if (query_u64(req, query, "since", 0, &since) || query_u64(req, query, "max", HIST_SLOTS, &max))
        return;
    json_t *series = json_object(), *t = json_array();
#define DECL(name, expr) json_t *name = json_array();
    SERIES(DECL)
#undef DECL
    unsigned n = d ? d->n : 0, first = n > max ? n - (unsigned)max : 0;
    for (unsigned k = first; k < n; k++) {
        const hist_sample_t *h = &d->ring[(d->head + HIST_SLOTS - n + k) % HIST_SLOTS];
        if (h->t_ms <= since)
            continue;
        json_array_append_new(t, ju64(h->t_ms));
#define ADD(name, expr) json_array_append_new(name, expr);
        SERIES(ADD)
#undef ADD
    }
    json_object_set_new(series, "t_ms", t);
#define SET(name, expr) json_object_set_new(series, #name, name);
    SERIES(SET)
#undef SET
    rcache__admin_reply_json(req, 200,
                             json_pack("{s:s, s:i, s:i, s:o}", "status", "success", "interval_ms",
                                       1000, "capacity", HIST_SLOTS, "series", series));
}

/* ---- GET /api/cache/mrc ------------------------------------------------ */

/* Cache sizes the curve is given at, as multiples of the current size. */
static const double RATIOS[] = {0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4,
                                0.5,  0.6,  0.7,  0.8,  0.9,   1,   1.25, 1.5, 1.75, 2,
                                2.5,  3,    4,    5,    6,     7,   8,    9,   10};
#define NRATIOS (sizeof RATIOS / sizeof RATIOS[0])

/* Lookups per second over the last minute of history (0 if unknown). */
static double lookup_rate(const rcache__admin_diag_t *d) {
    double sum = 0;
    unsigned n = !d ? 0 : d->n < 60 ? d->n : 60;
    for (unsigned k = 0; k < n; k++) {
        const hist_sample_t *h = &d->ring[(d->head + HIST_SLOTS - 1 - k) % HIST_SLOTS];
        sum += h->hits + h->misses;
    }
    return n ? sum / n : 0;
}

static json_t *mrc_readout(rcache__admin_t *a, rcache_mrc_t *m, uint64_t items, uint64_t bytes,
                           const rcache_stats_t *s, double factor) {
    int by_bytes = s->max_bytes && (!s->max_items || s->evictions_bytes >= s->evictions_items);
    double now = by_bytes ? rcache_mrc_hit_ratio_bytes(m, bytes)
                          : rcache_mrc_hit_ratio(m, items);
    double then = by_bytes ? rcache_mrc_hit_ratio_bytes(m, (uint64_t)((double)bytes * factor))
                           : rcache_mrc_hit_ratio(m, (uint64_t)((double)items * factor));
    double per_hit_ms = s->hits ? (double)s->compute_saved_ms / (double)s->hits : 0;
    double lookups_h = lookup_rate(a->diag) * 3600.0;
    double extra_s = (then - now) * lookups_h * per_hit_ms / 1000.0;
    return json_pack("{s:f, s:s, s:f, s:f, s:f, s:f, s:f}", "factor", factor, "limited_by",
                     by_bytes ? "bytes" : "items", "hit_ratio_now", now, "hit_ratio", then,
                     "lookups_per_hour", lookups_h, "compute_ms_per_hit", per_hit_ms,
                     "compute_saved_s_per_hour_extra", extra_s > 0 ? extra_s : 0.0);
}

void rcache__admin_h_mrc(rcache__admin_t *a, struct evhttp_request *req, const char *rest,
                         const char *query) {
    (void)rest;
    (void)query;
    rcache_mrc_t *m = rcache_diag_mrc(a->cache);
    if (!m || !rcache_diag_enabled(a->cache)) {
        rcache__admin_reply_error(req, 503, NULL, "diagnostics are off");
        return;
    }
    rcache_stats_t s;
    rcache_mrc_info_t info;
    rcache_stats(a->cache, &s);
    rcache_mrc_info(m, &info);
    /* the current size: what the cache holds, or its limits while empty */
    uint64_t items = s.items ? s.items : s.max_items, bytes = s.bytes ? s.bytes : s.max_bytes;
    json_t *pts = json_array();
    for (size_t i = 0; i < NRATIOS; i++) {
        uint64_t ni = (uint64_t)ceil((double)items * RATIOS[i]);
        uint64_t nb = (uint64_t)ceil((double)bytes * RATIOS[i]);
        json_array_append_new(pts, json_pack("{s:f, s:I, s:I, s:f, s:f}", "factor", RATIOS[i],
                                             "items", (json_int_t)ni, "bytes", (json_int_t)nb,
                                             "hit_ratio_items", rcache_mrc_hit_ratio(m, ni),
                                             "hit_ratio_bytes", rcache_mrc_hit_ratio_bytes(m, nb)));
    }
    json_t *est = json_pack("{s:I, s:I, s:i, s:i, s:f, s:I}", "sampled_references",
                            (json_int_t)info.sampled_references, "references",
                            (json_int_t)info.references, "tracked_keys", (int)info.tracked_keys,
                            "max_tracked_keys", (int)info.max_tracked_keys, "sampling_rate",
                            info.sampling_rate, "mem_bytes", (json_int_t)info.mem_bytes);
    json_t *cur = json_pack("{s:o, s:o, s:f}", "items", ju64(items), "bytes", ju64(bytes),
                            "hit_ratio_measured", s.hit_ratio);
    rcache__admin_reply_json(
        req, 200,
        json_pack("{s:s, s:o, s:o, s:o, s:o}", "status", "success", "current", cur, "points", pts,
                  "estimator", est, "readout", mrc_readout(a, m, items, bytes, &s, 2.0)));
}

/* ---- GET /api/cache/hotkeys ------------------------------------------ */

static void put_key(json_t *o, const void *key, size_t len) {
    if (rcache__admin_utf8_ok(key, len)) {
        json_object_set_new(o, "key", json_stringn(key, len));
        json_object_set_new(o, "key_encoding", json_string("utf-8"));
    } else {
        char *b = rcache__admin_b64_encode(key, len);
        json_object_set_new(o, "key", b ? json_string(b) : json_null());
        json_object_set_new(o, "key_encoding", json_string("base64"));
        free(b);
    }
}

void rcache__admin_h_hotkeys(rcache__admin_t *a, struct evhttp_request *req, const char *rest,
                             const char *query) {
    uint64_t n;
    uint64_t total;
    rcache_hotkey_t hk[128];
    (void)rest;
    if (query_u64(req, query, "n", 20, &n))
        return;
    if (n > 128)
        n = 128;
    size_t got = rcache_diag_hotkeys(a->cache, hk, (size_t)n, &total);
    json_t *arr = json_array();
    for (size_t i = 0; i < got; i++) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:b, s:f}", "count", (json_int_t)hk[i].count,
                              "error", (json_int_t)hk[i].error, "bytes",
                              (json_int_t)hk[i].bytes, "truncated", hk[i].truncated, "share",
                              total ? (double)hk[i].count / (double)total : 0.0);
        /* a truncated key may end inside a UTF-8 sequence: base64 then */
        put_key(o, hk[i].key, hk[i].key_len);
        json_array_append_new(arr, o);
    }
    rcache__admin_reply_json(req, 200,
                             json_pack("{s:s, s:b, s:I, s:o}", "status", "success", "enabled",
                                       rcache_diag_enabled(a->cache), "sampled_lookups",
                                       (json_int_t)total, "keys", arr));
}

/* ---- GET /api/cache/sizes, /api/cache/namespaces ---------------------- */

/* A census walks every entry (~20 ms for 100,000 keys, mostly cache
 * misses), and the dashboard asks for two every 5 s: done each time, that
 * alone was ~0.9% of a core (BENCHMARKS.md, issue 15's <= 1%). So the last
 * one is kept and served again while the cache has not changed since (a
 * recount would be the same), or, for a census that took at least
 * CENSUS_SLOW_MS, while it is younger than CENSUS_SPREAD times its own
 * duration (at most CENSUS_MAX_AGE_MS): a slow census then costs at most
 * ~1/CENSUS_SPREAD of a core, and a small cache is always counted afresh
 * after a change. The reply says how old its census is (age_seconds). */
#define CENSUS_SLOW_MS 2u
#define CENSUS_SPREAD 400u
#define CENSUS_MAX_AGE_MS 30000u

static census_mark_t census_mark(rcache_t *cache) {
    rcache_stats_t st;
    rcache_stats(cache, &st);
    census_mark_t m = {st.items,    st.bytes,           st.sets,       st.deletes,
                       st.evictions_items, st.evictions_bytes, st.expirations};
    return m;
}

static int census_fresh(const rcache__admin_diag_t *d, const census_mark_t *now,
                        uint64_t mono) {
    if (!d->census)
        return 0;
    if (memcmp(now, &d->census_mark, sizeof *now) == 0)
        return 1;
    uint64_t age = mono - d->census_at_ms, keep = d->census_took_ms * CENSUS_SPREAD;
    return d->census_took_ms >= CENSUS_SLOW_MS &&
           age < (keep < CENSUS_MAX_AGE_MS ? keep : CENSUS_MAX_AGE_MS);
}

/* The census to reply with (owned by a->diag, or by the caller when
 * *owned), and its age; NULL after a 500 reply. */
static rcache_census_t *census(rcache__admin_t *a, struct evhttp_request *req, int *owned,
                               double *age_s) {
    rcache__admin_diag_t *d = a->diag;
    census_mark_t mark = census_mark(a->cache);
    uint64_t t0 = rcache__admin_mono_ms();
    *owned = 0;
    *age_s = 0;
    if (d && census_fresh(d, &mark, t0)) {
        *age_s = (double)(t0 - d->census_at_ms) / 1000.0;
        return d->census;
    }
    rcache_census_t *c = malloc(sizeof *c);
    if (!c || rcache_diag_census(a->cache, c) != RCACHE_OK) {
        free(c);
        rcache__admin_reply_error(req, 500, NULL, "out of memory");
        return NULL;
    }
    if (!d) {
        *owned = 1;
        return c;
    }
    free(d->census);
    d->census = c;
    d->census_mark = mark; /* taken before the walk: a change during it
                              makes the next request count again */
    d->census_at_ms = t0;
    d->census_took_ms = rcache__admin_mono_ms() - t0;
    return c;
}

void rcache__admin_h_sizes(rcache__admin_t *a, struct evhttp_request *req, const char *rest,
                           const char *query) {
    (void)rest;
    (void)query;
    int owned;
    double age;
    rcache_census_t *c = census(a, req, &owned, &age);
    if (!c)
        return;
    json_t *arr = json_array();
    for (int b = 0; b < RCACHE_SIZE_BUCKETS; b++) {
        if (!c->size_count[b])
            continue;
        json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o}", "min_bytes",
                                             ju64((uint64_t)1 << b), "max_bytes",
                                             ju64(((uint64_t)2 << b) - 1), "items",
                                             ju64(c->size_count[b]), "bytes",
                                             ju64(c->size_bytes[b])));
    }
    rcache__admin_reply_json(req, 200,
                             json_pack("{s:s, s:o, s:o, s:o, s:f}", "status", "success", "items",
                                       ju64(c->items), "bytes", ju64(c->bytes), "buckets", arr,
                                       "age_seconds", age));
    if (owned)
        free(c);
}

void rcache__admin_h_namespaces(rcache__admin_t *a, struct evhttp_request *req,
                                const char *rest, const char *query) {
    (void)rest;
    (void)query;
    int owned;
    double age;
    rcache_census_t *c = census(a, req, &owned, &age);
    if (!c)
        return;
    json_t *arr = json_array();
    for (size_t i = 0; i < c->ns_count; i++) {
        const rcache_ns_stat_t *n = &c->ns[i];
        json_t *o = json_pack("{s:b, s:b, s:o, s:o}", "has_prefix", n->has_prefix, "truncated",
                              n->truncated, "items", ju64(n->items), "bytes", ju64(n->bytes));
        put_key(o, n->name, n->name_len);
        json_object_set(o, "name", json_object_get(o, "key"));
        json_object_set(o, "name_encoding", json_object_get(o, "key_encoding"));
        json_object_del(o, "key");
        json_object_del(o, "key_encoding");
        json_array_append_new(arr, o);
    }
    rcache__admin_reply_json(
        req, 200,
        json_pack("{s:s, s:o, s:o, s:o, s:{s:o, s:o}, s:f}", "status", "success", "items",
                  ju64(c->items), "bytes", ju64(c->bytes), "namespaces", arr, "other", "items",
                  ju64(c->other_items), "bytes", ju64(c->other_bytes), "age_seconds", age));
    if (owned)
        free(c);
}
