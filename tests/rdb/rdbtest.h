/*
 * rdbtest.h - helpers of the snapshot tests: in-memory sinks and sources
 * for the stream variants, a manual clock, temporary directories.
 */
#ifndef RCACHE_RDBTEST_H
#define RCACHE_RDBTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rcache.h"

typedef struct mbuf {
    unsigned char *p;
    size_t n, cap;
} mbuf_t;

static inline int mbuf_write(void *ctx, const void *b, size_t n) {
    mbuf_t *m = ctx;
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->n + n)
            cap *= 2;
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->n, b, n);
    m->n += n;
    return 0;
}

typedef struct msrc {
    const unsigned char *p;
    size_t n, off, chunk; /* chunk: most bytes per read (0 = any) */
} msrc_t;

static inline long msrc_read(void *ctx, void *buf, size_t cap) {
    msrc_t *s = ctx;
    size_t take = s->n - s->off;
    if (take > cap)
        take = cap;
    if (s->chunk && take > s->chunk)
        take = s->chunk;
    memcpy(buf, s->p + s->off, take);
    s->off += take;
    return (long)take;
}

typedef struct tclock {
    uint64_t now_ms;
} tclock_t;

static inline uint64_t tclock_fn(void *ctx) { return ((tclock_t *)ctx)->now_ms; }

static inline rcache_t *rdb_open(uint64_t max_items, uint64_t max_bytes,
                                 uint32_t shards, tclock_t *clk) {
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_config_init(&cfg);
    cfg.max_items = max_items;
    cfg.max_bytes = max_bytes;
    cfg.default_ttl_ms = 0;
    cfg.shards = shards;
    if (clk) {
        cfg.clock = tclock_fn;
        cfg.clock_ctx = clk;
    }
    assert_int_equal(rcache_open(&cfg, &c), RCACHE_OK);
    return c;
}

/* Load bytes through the stream variant into a fresh cache; returns rc. */
static inline int load_bytes(const void *p, size_t n, size_t chunk,
                             rcache_snapshot_result_t *res, uint64_t *count) {
    rcache_t *c = rdb_open(0, 0, 4, NULL);
    msrc_t s = {p, n, 0, chunk};
    int rc = rcache_snapshot_load_stream(c, msrc_read, &s, NULL, res);
    if (count)
        *count = rcache_count(c);
    rcache_close(c);
    return rc;
}

static inline char *make_tmpdir(void) {
    char tmpl[] = "/tmp/rcache-rdb-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void rm_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static inline void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

#endif
