/*
 * test_trace_read.c - the trace readers decode every shared trace to the
 * request, unique-key and unique-byte counts of ../shared/traces/README.md,
 * and damaged inputs (truncated compressed streams, flipped bytes, partial
 * binary records, unparsable lines) fail with a message that names the file
 * and the byte offset instead of crashing or replaying a shorter trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "trace.h"
#include "trace_count.h"
#include "traces_ref.h"

static char tmpdir[] = "/tmp/rcache-trace-test-XXXXXX";

static char *trace_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", RCACHE_TRACES_DIR, rel);
    return buf;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static const char *write_tmp(const char *name, const void *p, size_t n)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
    return path;
}

/* Count a file and expect failure; returns the message. */
static const char *expect_error(const char *path, const char *fmt)
{
    static char err[1024];
    rcache__trace_counts_t c;
    int rc = rcache__trace_count(path, rcache__trace_format_parse(fmt),
                                 RCACHE__Z_DETECT, &c, err, sizeof err);
    if (rc == 0)
        fail_msg("%s decoded (%llu requests) but should have failed", path,
                 (unsigned long long)c.requests);
    print_message("    error: %s\n", err);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "byte offset"));
    return err;
}

static void test_counts_match_readme(void **state)
{
    (void)state;
    for (size_t i = 0; i < TRACE_REF_COUNT; i++) {
        const trace_ref_t *r = &trace_refs[i];
        char err[1024];
        rcache__trace_counts_t c;
        const char *path = trace_path(r->file);
        int rc = rcache__trace_count(path, RCACHE__TF_AUTO, RCACHE__Z_DETECT, &c,
                                     err, sizeof err);
        if (rc != 0)
            fail_msg("%s", err);
        print_message("    %-52s %-18s %8llu req %6llu keys\n", r->file,
                      rcache__trace_format_name(c.format),
                      (unsigned long long)c.requests, (unsigned long long)c.unique);
        assert_string_equal(rcache__trace_format_name(c.format), r->format);
        assert_int_equal(c.requests, r->requests);
        assert_int_equal(c.unique, r->unique);
        if (r->unique_bytes)
            assert_int_equal(c.unique_bytes, r->unique_bytes);
        else
            assert_false(c.has_size);
    }
}

/* Cut a compressed trace in half: the decompressor must notice. */
static void truncated(const char *rel, const char *name, const char *fmt)
{
    size_t n;
    unsigned char *p = slurp(trace_path(rel), &n);
    const char *path = write_tmp(name, p, n / 2);
    const char *err = expect_error(path, fmt);
    assert_non_null(strstr(err, "truncated"));
    free(p);
}

static void test_truncated_gzip(void **state)
{
    (void)state;
    truncated("caffeine/lirs/sprite.trace.gz", "sprite.trace.gz", "lirs-txt");
}

static void test_truncated_xz(void **state)
{
    (void)state;
    truncated("caffeine/cache2k/web07.trace.xz", "web07.trace.xz", "be-int32");
}

static void test_truncated_bzip2(void **state)
{
    (void)state;
    truncated("caffeine/snia_tencent_photo/cloud_photos-sample.bz2",
              "cloud_photos-sample.bz2", "tencent-photo-txt");
}

/* Flip bytes in the middle of the compressed data: the checksums or the
 * decoder must catch it. */
static void flipped(const char *rel, const char *name, const char *fmt)
{
    size_t n;
    unsigned char *p = slurp(trace_path(rel), &n);
    for (size_t i = n / 2; i < n / 2 + 16; i++)
        p[i] ^= 0x5a;
    const char *path = write_tmp(name, p, n);
    expect_error(path, fmt);
    free(p);
}

static void test_flipped_bytes(void **state)
{
    (void)state;
    flipped("caffeine/corda/trace_vaultservice.gz", "flip.gz", "be-int64");
    flipped("caffeine/adapt_size/request.trace.xz", "flip.xz", "adaptsize-txt");
    flipped("caffeine/snia_tencent_photo/cloud_photos-sample.bz2", "flip.bz2",
            "tencent-photo-txt");
}

static void test_partial_binary_record(void **state)
{
    (void)state;
    size_t n;
    unsigned char *p = slurp(trace_path("libcachesim/cloudPhysicsIO.oracleGeneral.bin"), &n);
    assert_int_equal(n % 24, 0);
    const char *path = write_tmp("cut.oracleGeneral.bin", p, n - 10);
    const char *err = expect_error(path, "oracleGeneral");
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu", n - 24);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "partial"));
    free(p);

    /* A be-int64 stream with 3 bytes over. */
    unsigned char b[19] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9, 9};
    path = write_tmp("odd.bin", b, sizeof b);
    err = expect_error(path, "be-int64");
    assert_non_null(strstr(err, "byte offset 16"));
}

static void test_bad_lines(void **state)
{
    (void)state;
    static const char txt[] = "1\n2\n3x\n4\n";
    const char *path = write_tmp("bad.txt", txt, sizeof txt - 1);
    const char *err = expect_error(path, "plain-txt");
    assert_non_null(strstr(err, "byte offset 4"));
    assert_non_null(strstr(err, "line 3"));

    static const char csv[] = "version,time,op,size,lbn\n1,2,2a,512,7\n1,2,2a,512\n";
    path = write_tmp("bad.csv", csv, sizeof csv - 1);
    err = expect_error(path, "lcs-csv");
    assert_non_null(strstr(err, "byte offset 38"));

    static const char ad[] = "1 2 3\n2 3 -4\n";
    path = write_tmp("bad.adapt", ad, sizeof ad - 1);
    err = expect_error(path, "adaptsize-txt");
    assert_non_null(strstr(err, "line 2"));

    /* A key that overflows uint64. */
    static const char big[] = "18446744073709551616\n";
    path = write_tmp("big.txt", big, sizeof big - 1);
    expect_error(path, "lirs-txt");
}

/* The line decoders on their own (pure functions). */
static void test_line_decoders(void **state)
{
    (void)state;
    rcache__trace_req_t rq;
    char err[256];
    assert_int_equal(rcache__trace_parse_line(RCACHE__TF_LIRS_TXT, "*", 1, 5, &rq, err, sizeof err), 0);
    assert_int_equal(rcache__trace_parse_line(RCACHE__TF_LIRS_TXT, "42\r", 3, 5, &rq, err, sizeof err), 1);
    assert_int_equal(rq.id, 42);
    assert_int_equal(rcache__trace_parse_line(RCACHE__TF_PLAIN_TXT, "*", 1, 5, &rq, err, sizeof err), -1);
    const char *tl = "20160201164604 085abb02a06850729bb01479466420d9e102d325 5 m 12903 1 PHONE 1";
    assert_int_equal(rcache__trace_parse_line(RCACHE__TF_TENCENT_PHOTO, tl, strlen(tl), 1, &rq, err, sizeof err), 1);
    assert_true(rq.is_string);
    assert_int_equal(rq.size, 12903);
    assert_int_equal(rq.key_len, 44);
    assert_memory_equal(rq.key, "085abb02a06850729bb01479466420d9e102d325:5:m", 44);
    unsigned char rec[24] = {0};
    rec[4] = 7;
    rec[12] = 0x00;
    rec[13] = 0x02; /* size 512 */
    assert_int_equal(rcache__trace_parse_record(RCACHE__TF_ORACLE_GENERAL, rec, &rq, err, sizeof err), 1);
    assert_int_equal(rq.id, 7);
    assert_int_equal(rq.size, 512);
    unsigned char be4[4] = {0x80, 0, 0, 1};
    assert_int_equal(rcache__trace_parse_record(RCACHE__TF_BE_INT32, be4, &rq, err, sizeof err), 1);
    assert_int_equal(rq.id, 0x80000001u);
}

/* zstd: no shared trace uses it, so make one and check it decodes the same,
 * and that a cut copy fails. */
static void test_zstd(void **state)
{
    (void)state;
    size_t n;
    unsigned char *p = slurp(trace_path("libcachesim/cloudPhysicsIO.txt"), &n);
    size_t cap = ZSTD_compressBound(n);
    unsigned char *z = malloc(cap);
    assert_non_null(z);
    size_t zn = ZSTD_compress(z, cap, p, n, 3);
    assert_false(ZSTD_isError(zn));
    const char *path = write_tmp("cp.txt.zst", z, zn);
    char err[1024];
    rcache__trace_counts_t c;
    assert_int_equal(rcache__trace_count(path, RCACHE__TF_PLAIN_TXT, RCACHE__Z_DETECT,
                                         &c, err, sizeof err), 0);
    assert_int_equal(c.requests, 113872);
    assert_int_equal(c.unique, 48974);
    path = write_tmp("cut.txt.zst", z, zn - 100);
    const char *e = expect_error(path, "plain-txt");
    assert_non_null(strstr(e, "truncated"));
    free(z);
    free(p);
}

static void test_detection(void **state)
{
    (void)state;
    assert_int_equal(rcache__trace_format_from_name("x/y.unknown"), RCACHE__TF_AUTO);
    char err[512];
    FILE *f = fopen(trace_path("libcachesim/cloudPhysicsIO.txt"), "rb");
    assert_non_null(f);
    assert_null(rcache__trace_open_file(f, "mystery.dat", RCACHE__TF_AUTO,
                                        RCACHE__Z_DETECT, err, sizeof err));
    assert_non_null(strstr(err, "--format"));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_match_readme),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_truncated_xz),
        cmocka_unit_test(test_truncated_bzip2),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_partial_binary_record),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_line_decoders),
        cmocka_unit_test(test_zstd),
        cmocka_unit_test(test_detection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
