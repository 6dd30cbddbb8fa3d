/*
 * test_regress_setrange_amplification.c - regression test for a memory
 * amplification found while hardening rcached (issue 7): a 30-byte
 * `SETRANGE k 536870000 x` made a server with --maxmemory 64mb allocate
 * and zero-fill a 512 MiB value (VmHWM 515 MiB; ~960 MiB with two clients
 * at once) before the cache refused it as too big, all under a shard lock.
 * src/server/commands_strings.c splice_cb() sizes the new value against
 * the 512 MiB string limit only, not against maxmemory.
 *
 * Why it matters: any client, with one tiny command per worker thread, can
 * push the process hundreds of MiB past the memory bound operators size
 * the host by (SECURITY.md), and stall a shard while 512 MiB is memset.
 *
 * The test starts rcached (path in argv[1]; skipped with 77 if missing or
 * built with a sanitizer) with --maxmemory 64mb (rcached uses one arena),
 * sends a SETRANGE whose result could never fit from two clients at once,
 * and asserts: each gets an error reply, the server still answers, and
 * VmHWM stays within 64 MiB + 16 MiB (the bound of SECURITY.md).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "regress_server.h"

#define MIB (1024ull * 1024ull)
#define BOUND (64ull * MIB + 16ull * MIB)

static int start(void **state) {
    (void)state;
    return regress_server_start("64mb", "2", 1200); /* up to 30 s on a loaded machine */
}

static int stop(void **state) {
    (void)state;
    return regress_server_stop();
}

static void *hostile_client(void *arg) {
    char rep[256];
    const char *cmd = arg;
    if (roundtrip(cmd, rep, sizeof rep) <= 0)
        return (void *)1;
    return rep[0] == '-' ? NULL : (void *)1; /* must be refused */
}

static void test_setrange_past_maxmemory(void **state) {
    (void)state;
    static const char setrange[] =
        "*4\r\n$8\r\nSETRANGE\r\n$1\r\nk\r\n$9\r\n536870000\r\n$1\r\nx\r\n";
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hostile_client, (void *)setrange), 0);
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    char rep[64];
    assert_true(roundtrip("PING\r\n", rep, sizeof rep) > 0);
    assert_memory_equal(rep, "+PONG", 5);
    uint64_t hwm = hwm_bytes();
    print_message("VmHWM after SETRANGE at 512 MiB: %.1f MiB (bound %.0f MiB)\n",
                  hwm / (double)MIB, BOUND / (double)MIB);
    assert_true(hwm <= BOUND);
}

int main(int argc, char **argv) {
    int rc = regress_server_init(argc, argv);
    if (rc != 0)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setrange_past_maxmemory),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
