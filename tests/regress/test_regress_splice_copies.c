/*
 * test_regress_splice_copies.c - regression test for issue 10 item 9:
 * APPEND and SETRANGE built the whole new value in a malloc'd buffer in
 * the server's update callback, then the library copied it into a new
 * entry, next to the old value, all under the shard lock: two or three
 * transient copies of the value (and repeated APPEND was O(n^2)).
 * src/server/commands_strings.c now hands the write to the library as an
 * RCACHE_UPDATE_SPLICE, which writes the value once, into its entry (in
 * place when nobody else holds the entry).
 *
 * The test starts rcached (path in argv[1]; skipped with 77 if missing or
 * built with a sanitizer) with --maxmemory 256mb and one worker, and
 * watches the process's peak RSS (VmHWM) while one client, with nothing
 * else running:
 *   SETRANGE k 40000000 x   one 40 MB value: before, buffer + entry = 80 MB
 *   APPEND k x              before, old + buffer + new entry = 120 MB;
 *                           now the entry grows in place: ~40 MB
 * Each step must stay within one copy (40 MB) + 16 MiB of the peak before
 * it. The peak is a property of the process, not of timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "regress_server.h"

#define MIB (1024ull * 1024ull)
#define VALUE 40000000ull
#define SLACK (16ull * MIB)

static int start(void **state) {
    (void)state;
    return regress_server_start("256mb", "1", 200);
}

static int stop(void **state) {
    (void)state;
    return regress_server_stop();
}

static void expect_reply(const char *cmd, const char *want) {
    char rep[256];
    assert_true(roundtrip(cmd, rep, sizeof rep) > 0);
    if (strncmp(rep, want, strlen(want)) != 0)
        fail_msg("%s -> %s (wanted %s)", cmd, rep, want);
}

static void test_splice_writes_value_once(void **state) {
    (void)state;
    expect_reply("PING\r\n", "+PONG");
    uint64_t h0 = hwm_bytes();
    expect_reply("*4\r\n$8\r\nSETRANGE\r\n$1\r\nk\r\n$8\r\n39999999\r\n$1\r\nx\r\n",
                 ":40000000");
    uint64_t h1 = hwm_bytes();
    print_message("VmHWM: start %.1f MiB, after SETRANGE %.1f MiB\n", h0 / (double)MIB,
                  h1 / (double)MIB);
    assert_true(h1 <= h0 + VALUE + SLACK);
    expect_reply("*3\r\n$6\r\nAPPEND\r\n$1\r\nk\r\n$1\r\ny\r\n", ":40000001");
    uint64_t h2 = hwm_bytes();
    print_message("VmHWM after APPEND %.1f MiB (bound %.1f MiB)\n", h2 / (double)MIB,
                  (h1 + SLACK) / (double)MIB);
    assert_true(h2 <= h1 + SLACK);
    expect_reply("*2\r\n$6\r\nSTRLEN\r\n$1\r\nk\r\n", ":40000001");
    expect_reply("*4\r\n$8\r\nGETRANGE\r\n$1\r\nk\r\n$8\r\n39999998\r\n$2\r\n-1\r\n",
                 "$3");
}

int main(int argc, char **argv) {
    int rc = regress_server_init(argc, argv);
    if (rc != 0)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splice_writes_value_once),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
