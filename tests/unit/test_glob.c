/*
 * test_glob.c - Redis glob semantics, malformed patterns, and a randomized
 * comparison against a plain recursive reference matcher.
 */
#include "testutil.h"

#include <stdlib.h>

static int m(const char *p, const char *s) {
    return rcache_glob_match(p, strlen(p), s, strlen(s));
}

static void test_cases(void **state) {
    assert_int_equal(m("*", ""), 1);
    assert_int_equal(m("*", "anything"), 1);
    assert_int_equal(m("model:v3:*", "model:v3:abc"), 1);
    assert_int_equal(m("model:v3:*", "model:v2:abc"), 0);
    assert_int_equal(m("h?llo", "hello"), 1);
    assert_int_equal(m("h?llo", "hllo"), 0);
    assert_int_equal(m("h[ae]llo", "hallo"), 1);
    assert_int_equal(m("h[ae]llo", "hillo"), 0);
    assert_int_equal(m("h[^e]llo", "hallo"), 1);
    assert_int_equal(m("h[^e]llo", "hello"), 0);
    assert_int_equal(m("h[a-b]llo", "hbllo"), 1);
    assert_int_equal(m("h[b-a]llo", "hbllo"), 1); /* reversed range */
    assert_int_equal(m("h[a-b]llo", "hcllo"), 0);
    assert_int_equal(m("a\\*b", "a*b"), 1);
    assert_int_equal(m("a\\*b", "axb"), 0);
    assert_int_equal(m("[\\]]", "]"), 1);
    assert_int_equal(m("[a-]", "-"), 1);
    assert_int_equal(m("*a*b*c*", "xxaxxbxxcxx"), 1);
    assert_int_equal(m("*a*b*c*", "xxaxxcxxbxx"), 0);
    assert_int_equal(m("a*", "a/b/c"), 1); /* no path semantics */
    assert_int_equal(m("**", "x"), 1);
    assert_int_equal(m("", ""), 1);
    assert_int_equal(m("", "x"), 0);
    /* NUL bytes in keys */
    assert_int_equal(rcache_glob_match("a?c", 3, "a\0c", 3), 1);
}

static void test_malformed(void **state) {
    assert_int_equal(m("[abc", "a"), RCACHE_EPATTERN);
    assert_int_equal(m("abc\\", "abc"), RCACHE_EPATTERN);
    assert_int_equal(m("[a\\]", "a"), RCACHE_EPATTERN);
    assert_int_equal(rcache_glob_validate("[^", 2), RCACHE_EPATTERN);
    assert_int_equal(rcache_glob_validate("ok*", 3), RCACHE_OK);
}

static void test_many_stars_is_fast(void **state) {
    /* exponential backtracking would never finish this */
    char p[201], s[5001];
    for (int i = 0; i < 200; i += 2) {
        p[i] = '*';
        p[i + 1] = 'a';
    }
    p[200] = 0;
    memset(s, 'a', 5000);
    s[4999] = 'b';
    s[5000] = 0;
    assert_int_equal(m(p, s), 0);
}

/* Reference: direct recursion over the same grammar. */
static int ref(const char *p, size_t pl, const char *s, size_t sl) {
    if (pl == 0)
        return sl == 0;
    if (p[0] == '*') {
        for (size_t i = 0; i <= sl; i++)
            if (ref(p + 1, pl - 1, s + i, sl - i))
                return 1;
        return 0;
    }
    if (sl == 0)
        return 0;
    if (p[0] == '?')
        return ref(p + 1, pl - 1, s + 1, sl - 1);
    if (p[0] == '[') {
        size_t i = 1;
        int neg = 0, hit = 0;
        if (p[i] == '^') {
            neg = 1;
            i++;
        }
        while (p[i] != ']') {
            if (p[i] == '\\')
                i++;
            unsigned char lo = (unsigned char)p[i], hi = lo;
            if (p[i + 1] == '-' && p[i + 2] != ']') {
                i += 2;
                if (p[i] == '\\')
                    i++;
                hi = (unsigned char)p[i];
                if (lo > hi) {
                    unsigned char t = lo;
                    lo = hi;
                    hi = t;
                }
            }
            if ((unsigned char)s[0] >= lo && (unsigned char)s[0] <= hi)
                hit = 1;
            i++;
        }
        if (hit == neg)
            return 0;
        return ref(p + i + 1, pl - i - 1, s + 1, sl - 1);
    }
    if (p[0] == '\\') {
        p++;
        pl--;
    }
    return p[0] == s[0] && ref(p + 1, pl - 1, s + 1, sl - 1);
}

static void test_randomized_vs_reference(void **state) {
    static const char alpha[] = "ab*?[]^-\\c";
    srand(1234);
    int checked = 0;
    for (int iter = 0; iter < 200000; iter++) {
        char p[10], s[10];
        size_t pl = (size_t)(rand() % 8), sl = (size_t)(rand() % 8);
        for (size_t i = 0; i < pl; i++)
            p[i] = alpha[rand() % (int)(sizeof alpha - 1)];
        for (size_t i = 0; i < sl; i++)
            s[i] = "abc-]^"[rand() % 6];
        if (rcache_glob_validate(p, pl) != RCACHE_OK)
            continue;
        checked++;
        int got = rcache_glob_match(p, pl, s, sl);
        int want = ref(p, pl, s, sl);
        if (got != want)
            fail_msg("pattern '%.*s' string '%.*s': got %d want %d", (int)pl, p,
                     (int)sl, s, got, want);
    }
    assert_true(checked > 50000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_many_stars_is_fast),
        cmocka_unit_test(test_randomized_vs_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
