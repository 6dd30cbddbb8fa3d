/*
 * test_clock.c - the default clock under clock trouble, made deterministic
 * by interposing clock_gettime(): this executable's definition wins over
 * libc's for every call librcache makes (the library is linked statically
 * into it). The fake adds `advance_ms` to every clock (time passing without
 * sleeping), `step_ms` to CLOCK_REALTIME* only (an administrator or NTP
 * stepping the wall clock) and subtracts `lag_ms` from the *_COARSE clocks
 * (a timer tick that came late, as under VM steal time).
 *
 * Issue 10 item 17: expiry must not move when the wall clock is stepped,
 * and a late tick must never make an expired entry look alive, nor a live
 * one expire early.
 */
#include "testutil.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int64_t advance_ms, step_ms, lag_ms;

static void add_ms(struct timespec *ts, int64_t ms) {
    int64_t ns = (int64_t)ts->tv_nsec + (ms % 1000) * 1000000;
    ts->tv_sec += (time_t)(ms / 1000);
    while (ns < 0) {
        ns += 1000000000;
        ts->tv_sec--;
    }
    while (ns >= 1000000000) {
        ns -= 1000000000;
        ts->tv_sec++;
    }
    ts->tv_nsec = (long)ns;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (syscall(SYS_clock_gettime, id, ts) != 0)
        return -1;
    int64_t d = advance_ms;
    if (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)
        d += step_ms;
    if (id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE)
        d -= lag_ms;
    add_ms(ts, d);
    return 0;
}

static void reset(void) {
    advance_ms = step_ms = lag_ms = 0;
}

/* A wall-clock step forward by an hour expires nothing; one back by an
 * hour keeps nothing alive past its TTL. */
static void test_wall_clock_step_moves_no_expiry(void **state) {
    rcache_t *c = open_cache(0, 0, 0, 1, NULL);
    int64_t ttl;
    reset();
    assert_int_equal(rcache_set(c, "a", 1, "v", 1, 60000, 0), RCACHE_OK);
    assert_int_equal(rcache_set(c, "b", 1, "v", 1, 1000, 0), RCACHE_OK);
    step_ms = 3600000;
    assert_int_equal(rcache_exists(c, "a", 1), 1);
    assert_int_equal(rcache_ttl(c, "a", 1, &ttl), RCACHE_OK);
    assert_true(ttl > 50000 && ttl <= 60000);
    step_ms = -3600000;
    advance_ms = 1001;
    assert_int_equal(rcache_exists(c, "b", 1), 0);
    assert_int_equal(rcache_exists(c, "a", 1), 1);
    reset();
    rcache_close(c);
}

/* A tick 10 s late: entries past their expiry are gone, entries before it
 * are alive, at every lag. */
static void test_late_tick_never_hides_expiry(void **state) {
    static const int64_t lags[] = {0, 3, 50, 10000};
    for (size_t i = 0; i < sizeof(lags) / sizeof(lags[0]); i++) {
        rcache_t *c = open_cache(0, 0, 0, 1, NULL);
        char buf[4];
        reset();
        assert_int_equal(rcache_set(c, "k", 1, "v", 1, 1000, 0), RCACHE_OK);
        assert_int_equal(rcache_set(c, "n", 1, "v", 1, 60000, 0), RCACHE_OK);
        lag_ms = lags[i];
        advance_ms = 1001; /* at least 1 ms past k's expiry on every reading */
        if (get_str(c, "k", buf, sizeof buf) != RCACHE_ENOTFOUND)
            fail_msg("lag %lld ms: expired entry still served", (long long)lags[i]);
        assert_int_equal(rcache_exists(c, "k", 1), 0);
        assert_int_equal(get_str(c, "n", buf, sizeof buf), RCACHE_OK);
        reset();
        rcache_close(c);
    }
}

static void test_late_tick_never_expires_early(void **state) {
    static const int64_t lags[] = {0, 3, 50, 10000};
    for (size_t i = 0; i < sizeof(lags) / sizeof(lags[0]); i++) {
        rcache_t *c = open_cache(0, 0, 0, 1, NULL);
        char buf[4];
        uint64_t removed = 0;
        reset();
        lag_ms = lags[i];
        assert_int_equal(rcache_set(c, "k", 1, "v", 1, 100000, 0), RCACHE_OK);
        advance_ms = 60000;
        assert_int_equal(get_str(c, "k", buf, sizeof buf), RCACHE_OK);
        assert_int_equal(rcache_expire_cycle(c, 100), 0);
        assert_int_equal(rcache_exists(c, "k", 1), 1);
        (void)removed;
        reset();
        rcache_close(c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wall_clock_step_moves_no_expiry),
        cmocka_unit_test(test_late_tick_never_hides_expiry),
        cmocka_unit_test(test_late_tick_never_expires_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
