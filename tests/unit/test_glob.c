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

/* Redis 7.0's reading of a possibly malformed pattern, written directly
 * from its rules (recursion on '*'; an unterminated class takes the rest
 * of the pattern; a trailing '\' is literal). Small inputs only. */
static int ref_redis(const char *p, size_t pl, const char *s, size_t sl) {
    while (pl && sl) {
        if (p[0] == '*') {
            while (pl > 1 && p[1] == '*') {
                p++;
                pl--;
            }
            if (pl == 1)
                return 1;
            for (size_t i = 0; i < sl; i++)
                if (ref_redis(p + 1, pl - 1, s + i, sl - i))
                    return 1;
            return 0;
        }
        if (p[0] == '[') {
            size_t i = 1;
            int neg = 0, hit = 0;
            if (i < pl && p[i] == '^') {
                neg = 1;
                i++;
            }
            for (;; i++) {
                if (i >= pl) {
                    i = pl - 1;
                    break;
                }
                if (p[i] == '\\' && pl - i >= 2) {
                    i++;
                    hit |= p[i] == s[0];
                } else if (p[i] == ']') {
                    break;
                } else if (pl - i >= 3 && p[i + 1] == '-') {
                    unsigned char lo = (unsigned char)p[i], hi = (unsigned char)p[i + 2];
                    if (lo > hi) {
                        unsigned char t = lo;
                        lo = hi;
                        hi = t;
                    }
                    hit |= (unsigned char)s[0] >= lo && (unsigned char)s[0] <= hi;
                    i += 2;
                } else {
                    hit |= p[i] == s[0];
                }
            }
            if (hit == neg)
                return 0;
            p += i + 1;
            pl -= i + 1;
        } else if (p[0] == '?') {
            p++;
            pl--;
        } else {
            if (p[0] == '\\' && pl >= 2) {
                p++;
                pl--;
            }
            if (p[0] != s[0])
                return 0;
            p++;
            pl--;
        }
        s++;
        sl--;
    }
    while (pl && p[0] == '*') {
        p++;
        pl--;
    }
    return pl == 0 && sl == 0;
}

static int ml(const char *p, const char *s) {
    return rcache_glob_match_lenient(p, strlen(p), s, strlen(s));
}

static void test_lenient(void **state) {
    /* what redis-server 7.0.15 answers (tests/server/robust.test.js
     * compares with a live one) */
    assert_int_equal(ml("a\\", "a\\"), 1);
    assert_int_equal(ml("a\\", "a"), 0);
    assert_int_equal(ml("a[b", "ab"), 1);
    assert_int_equal(ml("a[b", "a[b"), 0);
    assert_int_equal(ml("[", "["), 0);
    assert_int_equal(ml("[^", "x"), 1);
    assert_int_equal(ml("[^", "xy"), 0);
    assert_int_equal(ml("[a-", "-"), 1);
    assert_int_equal(ml("[a-", "a"), 1);
    assert_int_equal(ml("[a-", "b"), 0);
    assert_int_equal(ml("[\\", "\\"), 1);
    /* well-formed patterns keep rcache_glob_match's meaning */
    assert_int_equal(ml("[a-]", "-"), 1);
    assert_int_equal(ml("h[^e]llo", "hallo"), 1);
    assert_int_equal(ml("*", "x"), 1);
    assert_int_equal(rcache_glob_match_lenient(NULL, 1, "x", 1), 0);
    /* randomized: malformed patterns against the Redis reference */
    static const char alpha[] = "ab*?[]^-\\";
    srand(99);
    int checked = 0;
    for (int iter = 0; iter < 200000; iter++) {
        char p[10], s[10];
        size_t pl = (size_t)(rand() % 8), sl = (size_t)(1 + rand() % 6);
        for (size_t i = 0; i < pl; i++)
            p[i] = alpha[rand() % (int)(sizeof alpha - 1)];
        for (size_t i = 0; i < sl; i++)
            s[i] = "ab-]^[\\"[rand() % 7];
        if (rcache_glob_validate(p, pl) == RCACHE_OK)
            continue;
        checked++;
        int got = rcache_glob_match_lenient(p, pl, s, sl);
        int want = ref_redis(p, pl, s, sl);
        if (got != want)
            fail_msg("pattern '%.*s' string '%.*s': got %d want %d", (int)pl, p,
                     (int)sl, s, got, want);
    }
    assert_true(checked > 20000);
    /* hostile patterns stay fast */
    char hp[201], hs[5001];
    for (int i = 0; i < 198; i += 2) {
        hp[i] = '*';
        hp[i + 1] = 'a';
    }
    hp[198] = '[';
    hp[199] = 'b';
    hp[200] = 0;
    memset(hs, 'a', 5000);
    hs[5000] = 0;
    assert_int_equal(ml(hp, hs), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_many_stars_is_fast),
        cmocka_unit_test(test_randomized_vs_reference),
        cmocka_unit_test(test_lenient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
