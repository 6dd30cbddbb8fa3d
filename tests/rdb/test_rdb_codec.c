/*
 * test_rdb_codec.c - snapshots inside the library: the CRC-64 check value,
 * round trips (binary keys, empty and 16 MiB values, TTLs, integers,
 * compressible values, objects through a serializer), the order that lets
 * a smaller cache keep the most recently used entries, and hostile input
 * (truncation at every offset, flipped bytes, wrong magic, newer versions,
 * absurd lengths, long runs of opcodes, bad LZF): a clear error with its
 * offset, nothing stored, nothing leaked (ASan in make test-sanitize).
 */
#include "rdbtest.h"
#include "rdb.h"

#include <unistd.h>

static void test_crc64_check_value(void **state) {
    (void)state;
    assert_true(rcache__crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caull);
    /* Slicing gives the same as byte by byte, at every split. */
    unsigned char buf[100];
    for (int i = 0; i < 100; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    uint64_t whole = rcache__crc64(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut++)
        assert_true(rcache__crc64(rcache__crc64(0, buf, cut), buf + cut,
                                  sizeof buf - cut) == whole);
}

/* Every entry of a must be in b with the same bytes and TTL. */
static void assert_same(rcache_t *a, rcache_t *b) {
    uint64_t cursor = 0, seen = 0;
    do {
        rcache_scan_page_t page;
        assert_int_equal(rcache_scan(a, cursor, 100, NULL, 0, 0, &page, &cursor),
                         RCACHE_OK);
        for (size_t i = 0; i < page.count; i++) {
            const rcache_entry_info_t *e = &page.entries[i];
            void *va, *vb;
            size_t la, lb;
            int64_t ta, tb;
            assert_int_equal(rcache_get_alloc(a, e->key, e->key_len, &va, &la), RCACHE_OK);
            assert_int_equal(rcache_get_alloc(b, e->key, e->key_len, &vb, &lb), RCACHE_OK);
            assert_int_equal(la, lb);
            assert_memory_equal(va, vb, la);
            assert_int_equal(rcache_ttl(a, e->key, e->key_len, &ta), RCACHE_OK);
            assert_int_equal(rcache_ttl(b, e->key, e->key_len, &tb), RCACHE_OK);
            assert_int_equal(ta, tb);
            free(va);
            free(vb);
            seen++;
        }
        rcache_scan_page_free(&page);
    } while (cursor != 0);
    assert_int_equal(seen, rcache_count(a));
    assert_int_equal(rcache_count(a), rcache_count(b));
}

static void fill_random(rcache_t *c, unsigned seed, int n) {
    srand(seed);
    for (int i = 0; i < n; i++) {
        unsigned char key[40], val[3000];
        size_t kl = 1 + (size_t)(rand() % 39), vl;
        for (size_t j = 0; j < kl; j++)
            key[j] = (unsigned char)rand(); /* binary, NUL bytes included */
        switch (i % 5) {
        case 0: vl = 0; break;                                     /* empty */
        case 1: vl = (size_t)snprintf((char *)val, sizeof val, "%d", rand() - RAND_MAX / 2); break;
        case 2: vl = 2000; memset(val, 'a' + i % 26, vl); break;  /* LZF */
        default:
            vl = (size_t)(rand() % 3000);
            for (size_t j = 0; j < vl; j++)
                val[j] = (unsigned char)rand();
        }
        int64_t ttl = i % 3 == 0 ? 0 : 1 + rand() % 100000000;
        assert_int_equal(rcache_set(c, key, kl, val, vl, ttl, 0), RCACHE_OK);
    }
}

static void test_round_trip_stream_and_file(void **state) {
    (void)state;
    tclock_t clk = {1700000000123ull};
    rcache_t *a = rdb_open(0, 0, 8, &clk), *b, *f;
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    fill_random(a, 42, 3000);
    /* A 16 MiB value and keys that Redis would integer-encode. */
    unsigned char *big = malloc(16u << 20);
    assert_non_null(big);
    for (size_t i = 0; i < (16u << 20); i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    assert_int_equal(rcache_set(a, "big", 3, big, 16u << 20, 5000, 0), RCACHE_OK);
    assert_int_equal(rcache_set(a, "123", 3, "-7", 2, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_set(a, "0", 1, "2147483648", 10, 0, 0), RCACHE_OK);
    assert_int_equal(rcache_set(a, "-2147483648", 11, "007", 3, 0, 0), RCACHE_OK);
    free(big);

    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, rcache_count(a));
    assert_int_equal(res.bytes, m.n);
    assert_memory_equal(m.p, "REDIS0010", 9);

    b = rdb_open(0, 0, 3, &clk); /* another shard count */
    msrc_t s = {m.p, m.n, 0, 0};
    assert_int_equal(rcache_snapshot_load_stream(b, msrc_read, &s, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, rcache_count(a));
    assert_int_equal(res.skipped_unsupported + res.skipped_expired + res.skipped_too_big, 0);
    assert_same(a, b);

    /* Through a file, read in 13-byte pieces by the check pass too. */
    char *dir = make_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    assert_int_equal(rcache_snapshot_save(a, path, NULL, &res), RCACHE_OK);
    f = rdb_open(0, 0, 16, &clk);
    assert_int_equal(rcache_snapshot_load(f, path, NULL, &res), RCACHE_OK);
    assert_string_equal(res.error, "");
    assert_true(res.file_ctime_s == (int64_t)(clk.now_ms / 1000));
    assert_int_equal(res.rdb_version, 10);
    assert_same(a, f);
    assert_int_equal(rcache_snapshot_verify(path, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, rcache_count(a));
    /* No temporary file is left behind. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);

    /* Time passes: what expired meanwhile is not loaded. */
    clk.now_ms += 6000; /* "big" (5 s) expires */
    rcache_t *g = rdb_open(0, 0, 4, &clk);
    assert_int_equal(rcache_snapshot_load(g, path, NULL, &res), RCACHE_OK);
    assert_true(res.skipped_expired >= 1);
    assert_int_equal(rcache_exists(g, "big", 3), 0);
    assert_int_equal(res.entries + res.skipped_expired, rcache_count(a));
    rm_tree(dir);
    free(dir);
    free(m.p);
    rcache_close(a);
    rcache_close(b);
    rcache_close(f);
    rcache_close(g);
}

static void test_expired_not_written_and_empty_cache(void **state) {
    (void)state;
    tclock_t clk = {1700000000000ull};
    rcache_t *a = rdb_open(0, 0, 2, &clk);
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    uint64_t n;
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, 0);
    assert_int_equal(load_bytes(m.p, m.n, 0, &res, &n), RCACHE_OK);
    assert_int_equal(n, 0);
    m.n = 0;
    rcache_set(a, "gone", 4, "v", 1, 10, 0);
    rcache_set(a, "kept", 4, "v", 1, 0, 0);
    clk.now_ms += 10;
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, 1);
    assert_int_equal(res.skipped_expired, 1);
    free(m.p);
    rcache_close(a);
}

static int ser(const void *key, size_t klen, void *obj, void **out, size_t *len,
               void *ctx) {
    (void)key; (void)klen; (void)ctx;
    *len = strlen(obj);
    *out = strdup(obj);
    return 0;
}

static void test_objects_need_a_serializer(void **state) {
    (void)state;
    rcache_t *a = rdb_open(0, 0, 2, NULL), *b;
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    rcache_snapshot_opts_t o;
    char *obj = strdup("object-bytes");
    assert_int_equal(rcache_set_object(a, "o", 1, obj, 100, NULL, NULL, NULL), RCACHE_OK);
    rcache_set(a, "s", 1, "v", 1, 0, 0);
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, 1);
    assert_int_equal(res.skipped_unsupported, 1);
    m.n = 0;
    rcache_snapshot_opts_init(&o);
    o.serialize = ser;
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, &o, &res), RCACHE_OK);
    assert_int_equal(res.entries, 2);
    b = rdb_open(0, 0, 2, NULL);
    msrc_t s = {m.p, m.n, 0, 0};
    assert_int_equal(rcache_snapshot_load_stream(b, msrc_read, &s, NULL, &res), RCACHE_OK);
    char buf[32];
    size_t len;
    assert_int_equal(rcache_get(b, "o", 1, buf, sizeof buf, &len), RCACHE_OK);
    assert_int_equal(len, 12);
    assert_memory_equal(buf, "object-bytes", 12);
    free(m.p);
    rcache_close(a); /* frees obj: no destructor given, so free it here */
    free(obj);
    rcache_close(b);
}

/* Saved least to most recently used: a load into a cache half the size
 * keeps exactly the most recently used half. */
static void test_smaller_cache_keeps_most_recent(void **state) {
    (void)state;
    tclock_t clk = {1700000000000ull};
    rcache_t *a = rdb_open(0, 0, 8, &clk), *b;
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    char k[16];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "k%d", i);
        rcache_set(a, k, strlen(k), "v", 1, 0, 0);
        clk.now_ms += 1000;
    }
    /* Touch the even keys of the first half, newest last. */
    for (int i = 0; i < 100; i += 2) {
        char buf[4];
        size_t len;
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(rcache_get(a, k, strlen(k), buf, sizeof buf, &len), RCACHE_OK);
        clk.now_ms += 1000;
    }
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, NULL, &res), RCACHE_OK);
    b = rdb_open(100, 0, 1, &clk);
    msrc_t s = {m.p, m.n, 0, 0};
    assert_int_equal(rcache_snapshot_load_stream(b, msrc_read, &s, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, 200);
    assert_int_equal(res.evicted, 100);
    assert_int_equal(rcache_count(b), 100);
    /* The 50 touched keys and the 50 newest untouched ones. */
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "k%d", i);
        int want = i >= 150 || (i < 100 && i % 2 == 0);
        if (rcache_exists(b, k, strlen(k)) != want)
            fail_msg("%s: expected %s", k, want ? "kept" : "evicted");
    }
    free(m.p);
    rcache_close(a);
    rcache_close(b);
}

/* Loading into a cache that already holds keys, over more keys than one
 * batch of the bulk path (bulk.c) and many shards: keys of the file
 * replace the cache's, a key the file holds twice ends with its last
 * value, keys not in the file stay, every store counts in the stats. */
static void body_many_with_dup(rcache__rdb_enc_t *e) {
    char k[16], v[16];
    rcache__rdb_enc_selectdb(e, 0);
    rcache__rdb_enc_resizedb(e, 10001, 0);
    rcache__rdb_enc_string(e, "dup", 3, "first", 5, 0, -1);
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "f%d", i);
        snprintf(v, sizeof v, "v%d", i);
        rcache__rdb_enc_string(e, k, strlen(k), v, strlen(v), 0, -1);
    }
    rcache__rdb_enc_string(e, "dup", 3, "last", 4, 0, -1);
}

static void test_load_into_filled_cache(void **state) {
    (void)state;
    mbuf_t m = {0};
    rcache__rdb_enc_t e;
    rcache_snapshot_result_t res;
    rcache_stats_t st;
    char buf[16], k[16];
    size_t len;
    assert_int_equal(rcache__rdb_enc_init(&e, mbuf_write, &m, 20), RCACHE_OK);
    rcache__rdb_enc_header(&e);
    body_many_with_dup(&e);
    assert_int_equal(rcache__rdb_enc_finish(&e), RCACHE_OK);
    rcache__rdb_enc_free(&e);

    rcache_t *c = rdb_open(0, 0, 64, NULL);
    for (int i = 0; i < 20000; i += 2) { /* f0, f2, ... and g0, g2, ... */
        snprintf(k, sizeof k, "f%d", i);
        assert_int_equal(rcache_set(c, k, strlen(k), "old", 3, 0, 0), RCACHE_OK);
        snprintf(k, sizeof k, "g%d", i);
        assert_int_equal(rcache_set(c, k, strlen(k), "keep", 4, 0, 0), RCACHE_OK);
    }
    assert_int_equal(rcache_count(c), 20000);
    msrc_t s = {m.p, m.n, 0, 4096};
    assert_int_equal(rcache_snapshot_load_stream(c, msrc_read, &s, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, 10002);
    /* 10000 g keys + f0..f19998 even (5000 of them above f9999) + the
     * 5000 odd f keys below 10000 + dup */
    assert_int_equal(rcache_count(c), 10000 + 10000 + 5000 + 1);
    assert_int_equal(rcache_get(c, "dup", 3, buf, sizeof buf, &len), RCACHE_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "last", 4);
    for (int i = 0; i < 20000; i += 1) {
        snprintf(k, sizeof k, "f%d", i);
        int rc = rcache_get(c, k, strlen(k), buf, sizeof buf, &len);
        if (i < 10000) {
            char want[16];
            snprintf(want, sizeof want, "v%d", i);
            assert_int_equal(rc, RCACHE_OK);
            assert_int_equal(len, strlen(want));
            assert_memory_equal(buf, want, len);
        } else {
            assert_int_equal(rc, i % 2 ? RCACHE_ENOTFOUND : RCACHE_OK);
        }
    }
    assert_int_equal(rcache_get(c, "g19998", 6, buf, sizeof buf, &len), RCACHE_OK);
    rcache_stats(c, &st);
    assert_int_equal(st.sets, 20000 + 10002);
    free(m.p);
    rcache_close(c);
}

static void test_keep_metadata_idle(void **state) {
    (void)state;
    tclock_t clk = {1700000000000ull};
    rcache_t *a = rdb_open(0, 0, 2, &clk);
    rcache_t *b = rdb_open(0, 0, 2, &clk); /* entry times cannot predate
                                               the cache's opening */
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    rcache_snapshot_opts_t o;
    rcache_entry_info_t info;
    rcache_set(a, "k", 1, "v", 1, 0, 0);
    clk.now_ms += 3600 * 1000;
    rcache_snapshot_opts_init(&o);
    o.keep_metadata = 1;
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, &o, &res), RCACHE_OK);
    msrc_t s = {m.p, m.n, 0, 0};
    assert_int_equal(rcache_snapshot_load_stream(b, msrc_read, &s, &o, &res), RCACHE_OK);
    assert_int_equal(rcache_entry_info(b, "k", 1, &info), RCACHE_OK);
    assert_true(info.last_access_ms <= clk.now_ms - 3599 * 1000);
    free(m.p);
    rcache_close(a);
    rcache_close(b);
}

static void test_too_big_values_skipped(void **state) {
    (void)state;
    rcache_t *a = rdb_open(0, 0, 2, NULL), *b;
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    char *v = calloc(1, 100000);
    rcache_set(a, "big", 3, v, 100000, 0, 0);
    rcache_set(a, "small", 5, "v", 1, 0, 0);
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, &m, NULL, &res), RCACHE_OK);
    b = rdb_open(0, 50000, 2, NULL);
    msrc_t s = {m.p, m.n, 0, 0};
    assert_int_equal(rcache_snapshot_load_stream(b, msrc_read, &s, NULL, &res), RCACHE_OK);
    assert_int_equal(res.entries, 1);
    assert_int_equal(res.skipped_too_big, 1);
    free(v);
    free(m.p);
    rcache_close(a);
    rcache_close(b);
}

/* ---- hostile input ---------------------------------------------------- */

static void small_snapshot(mbuf_t *m) {
    rcache_t *a = rdb_open(0, 0, 2, NULL);
    char v[200];
    memset(v, 'z', sizeof v);
    rcache_set(a, "alpha", 5, "1", 1, 0, 0);
    rcache_set(a, "beta", 4, v, sizeof v, 100000000, 0);
    rcache_set(a, "gamma", 5, "hello world", 11, 0, 0);
    assert_int_equal(rcache_snapshot_save_stream(a, mbuf_write, m, NULL, NULL), RCACHE_OK);
    rcache_close(a);
}

static void test_truncated_at_every_offset(void **state) {
    (void)state;
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    small_snapshot(&m);
    for (size_t cut = 0; cut < m.n; cut++) {
        int rc = load_bytes(m.p, cut, 1 + cut % 7, &res, NULL);
        assert_int_equal(rc, RCACHE_ECORRUPT);
        assert_true(res.error_offset <= cut);
        assert_non_null(strstr(res.error, "offset"));
    }
    /* Files: the check pass refuses; nothing at all is stored. */
    char *dir = make_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/t.rdb", dir);
    for (size_t cut = 0; cut < m.n; cut += 5) {
        rcache_t *c = rdb_open(0, 0, 2, NULL);
        write_file(path, m.p, cut);
        assert_int_equal(rcache_snapshot_load(c, path, NULL, &res), RCACHE_ECORRUPT);
        assert_int_equal(rcache_count(c), 0);
        assert_non_null(strstr(res.error, path));
        rcache_close(c);
    }
    rm_tree(dir);
    free(dir);
    free(m.p);
}

static void test_flipped_bytes(void **state) {
    (void)state;
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    small_snapshot(&m);
    char *dir = make_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/f.rdb", dir);
    for (size_t i = 0; i < m.n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            rcache_t *c = rdb_open(0, 0, 2, NULL);
            m.p[i] ^= (unsigned char)(1u << bit);
            write_file(path, m.p, m.n);
            int rc = rcache_snapshot_load(c, path, NULL, &res);
            m.p[i] ^= (unsigned char)(1u << bit);
            if (rc != RCACHE_ECORRUPT)
                fail_msg("byte %zu bit %d: rc %d", i, bit, rc);
            assert_int_equal(rcache_count(c), 0);
            rcache_close(c);
        }
    }
    /* A flip in the body is caught by the CRC when the structure holds. */
    size_t at = m.n - 20;
    m.p[at] ^= 0x01;
    assert_int_equal(load_bytes(m.p, m.n, 0, &res, NULL), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "CRC-64 mismatch"));
    assert_int_equal(res.error_offset, m.n - 8);
    rm_tree(dir);
    free(dir);
    free(m.p);
}

static void test_magic_and_version(void **state) {
    (void)state;
    mbuf_t m = {0};
    rcache_snapshot_result_t res;
    small_snapshot(&m);
    memcpy(m.p, "RADIS", 5);
    assert_int_equal(load_bytes(m.p, m.n, 0, &res, NULL), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "magic"));
    assert_int_equal(res.error_offset, 0);
    memcpy(m.p, "REDIS0011", 9);
    assert_int_equal(load_bytes(m.p, m.n, 0, &res, NULL), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "RDB version 11 is not supported"));
    memcpy(m.p, "REDIS9999", 9);
    assert_int_equal(load_bytes(m.p, m.n, 0, &res, NULL), RCACHE_ECORRUPT);
    memcpy(m.p, "REDIS00x9", 9);
    assert_int_equal(load_bytes(m.p, m.n, 0, &res, NULL), RCACHE_ECORRUPT);
    assert_int_equal(load_bytes("", 0, 0, &res, NULL), RCACHE_ECORRUPT);
    free(m.p);
}

/* Build a file with the encoder: header, body(), EOF, CRC. */
typedef void (*body_fn)(rcache__rdb_enc_t *e);
static int load_built(body_fn body, rcache_snapshot_result_t *res, uint64_t *count) {
    mbuf_t m = {0};
    rcache__rdb_enc_t e;
    assert_int_equal(rcache__rdb_enc_init(&e, mbuf_write, &m, 20), RCACHE_OK);
    rcache__rdb_enc_header(&e);
    body(&e);
    assert_int_equal(rcache__rdb_enc_finish(&e), RCACHE_OK);
    rcache__rdb_enc_free(&e);
    int rc = load_bytes(m.p, m.n, 0, res, count);
    free(m.p);
    return rc;
}

static void body_huge_len(rcache__rdb_enc_t *e) {
    unsigned char t = 0;
    rcache__rdb_enc_raw(e, &t, 1); /* string key */
    rcache__rdb_enc_len(e, 1ull << 62);
}
static void body_huge_list(rcache__rdb_enc_t *e) {
    unsigned char t = 1;
    rcache__rdb_enc_raw(e, &t, 1); /* list */
    rcache__rdb_enc_str(e, "l", 1);
    rcache__rdb_enc_len(e, 1ull << 62); /* elements that are not there */
}
static void body_many_opcodes(rcache__rdb_enc_t *e) {
    for (int i = 0; i < 200000; i++) { /* FREQ FREQ ... before one key */
        unsigned char op[2] = {RDB_OP_FREQ, 5};
        rcache__rdb_enc_raw(e, op, 2);
    }
    rcache__rdb_enc_string(e, "k", 1, "v", 1, 0, -1);
}
static void body_unknown_opcode(rcache__rdb_enc_t *e) {
    rcache__rdb_enc_string(e, "k", 1, "v", 1, 0, -1);
    unsigned char op = 0xf0;
    rcache__rdb_enc_raw(e, &op, 1);
}
static void body_bad_lzf(rcache__rdb_enc_t *e) {
    unsigned char b[] = {0, 1, 'k', 0xc3, 2, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 'x', 'y'};
    rcache__rdb_enc_raw(e, b, sizeof b); /* 2 bytes claiming 4 GiB */
}
static void body_lzf_garbage(rcache__rdb_enc_t *e) {
    unsigned char b[] = {0, 1, 'k', 0xc3, 4, 10, 0xff, 0xff, 0xff, 0xff};
    rcache__rdb_enc_raw(e, b, sizeof b);
}
static void body_other_types(rcache__rdb_enc_t *e) {
    unsigned char t;
    rcache__rdb_enc_string(e, "s", 1, "v", 1, 0, -1);
    t = 2; /* set of 2 */
    rcache__rdb_enc_raw(e, &t, 1);
    rcache__rdb_enc_str(e, "set", 3);
    rcache__rdb_enc_len(e, 2);
    rcache__rdb_enc_str(e, "a", 1);
    rcache__rdb_enc_str(e, "b", 1);
    t = 3; /* zset v1: member + ascii double, and +inf */
    rcache__rdb_enc_raw(e, &t, 1);
    rcache__rdb_enc_str(e, "z", 1);
    rcache__rdb_enc_len(e, 2);
    rcache__rdb_enc_str(e, "m", 1);
    unsigned char d[] = {3, '1', '.', '5'};
    rcache__rdb_enc_raw(e, d, 4);
    rcache__rdb_enc_str(e, "n", 1);
    t = 254;
    rcache__rdb_enc_raw(e, &t, 1);
    t = 7; /* module value: id, uint, string, EOF */
    rcache__rdb_enc_raw(e, &t, 1);
    rcache__rdb_enc_str(e, "mod", 3);
    rcache__rdb_enc_len(e, 12345);
    rcache__rdb_enc_len(e, 2);
    rcache__rdb_enc_len(e, 7);
    rcache__rdb_enc_len(e, 5);
    rcache__rdb_enc_str(e, "x", 1);
    rcache__rdb_enc_len(e, 0);
    t = RDB_OP_FUNCTION2;
    rcache__rdb_enc_raw(e, &t, 1);
    rcache__rdb_enc_str(e, "#!lua name=x", 12);
    rcache__rdb_enc_selectdb(e, 3);
    rcache__rdb_enc_string(e, "db3", 3, "v", 1, 0, -1);
    rcache__rdb_enc_selectdb(e, 0);
    rcache__rdb_enc_string(e, "", 0, "v", 1, 0, -1);
    rcache__rdb_enc_string(e, "s2", 2, "v", 1, 0, -1);
}

static void test_hostile_lengths_and_opcodes(void **state) {
    (void)state;
    rcache_snapshot_result_t res;
    uint64_t n;
    assert_int_equal(load_built(body_huge_len, &res, &n), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "exceeds the limit"));
    assert_int_equal(res.error_offset, 10);
    assert_int_equal(load_built(body_huge_list, &res, &n), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "offset"));
    assert_int_equal(load_built(body_many_opcodes, &res, &n), RCACHE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(load_built(body_unknown_opcode, &res, &n), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "unknown opcode or value type 0xf0"));
    assert_int_equal(load_built(body_bad_lzf, &res, &n), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "LZF"));
    assert_int_equal(load_built(body_lzf_garbage, &res, &n), RCACHE_ECORRUPT);
    assert_non_null(strstr(res.error, "LZF"));
    assert_int_equal(load_built(body_other_types, &res, &n), RCACHE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(res.skipped_unsupported, 6);
    assert_string_equal(res.skipped_types,
                        "set=1 zset=1 module=1 function=1 other-db=1 empty-key=1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64_check_value),
        cmocka_unit_test(test_round_trip_stream_and_file),
        cmocka_unit_test(test_expired_not_written_and_empty_cache),
        cmocka_unit_test(test_objects_need_a_serializer),
        cmocka_unit_test(test_smaller_cache_keeps_most_recent),
        cmocka_unit_test(test_keep_metadata_idle),
        cmocka_unit_test(test_too_big_values_skipped),
        cmocka_unit_test(test_truncated_at_every_offset),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_magic_and_version),
        cmocka_unit_test(test_load_into_filled_cache),
        cmocka_unit_test(test_hostile_lengths_and_opcodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
