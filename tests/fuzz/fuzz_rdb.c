/*
 * fuzz_rdb.c - libFuzzer target for the RDB decoder (src/lib/rdb_dec.c)
 * and the loader around it (snapshot_load.c): the input is loaded through
 * rcache_snapshot_load_stream() into a small cache (both limits tight, so
 * eviction and too-big paths run), read back in pieces of 1 to 16 bytes
 * chosen by the first input byte so the buffer refills at every boundary.
 * Any crash, leak, sanitizer report or hang is a bug.  Seeds are in
 * tests/fuzz/corpus/rdb (a dump written by redis-server 7.0 and ones
 * written by rcache).
 */
#include "rcache.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct src {
    const uint8_t *p;
    size_t n, off, chunk;
} src_t;

static long rd(void *ctx, void *buf, size_t cap) {
    src_t *s = ctx;
    size_t take = s->n - s->off;
    if (take > cap)
        take = cap;
    if (take > s->chunk)
        take = s->chunk;
    memcpy(buf, s->p + s->off, take);
    s->off += take;
    return (long)take;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rcache_config_t cfg;
    rcache_t *c;
    rcache_snapshot_opts_t o;
    rcache_snapshot_result_t res;
    src_t s;
    if (size < 1)
        return 0;
    rcache_config_init(&cfg);
    cfg.max_items = 16;
    cfg.max_bytes = 64 * 1024;
    cfg.shards = 2;
    if (rcache_open(&cfg, &c) != RCACHE_OK)
        return 0;
    rcache_snapshot_opts_init(&o);
    o.keep_metadata = data[0] & 0x80;
    o.max_string_bytes = 1u << 20; /* keep the fuzzer's memory small */
    s.p = data + 1;
    s.n = size - 1;
    s.off = 0;
    s.chunk = data[0] & 0x40 ? 1 + (data[0] & 0x0f) : (size_t)-1;
    (void)rcache_snapshot_load_stream(c, rd, &s, &o, &res);
    rcache_close(c);
    return 0;
}
