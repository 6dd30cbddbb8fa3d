/*
 * test_memo_argkey.c - the argument-key builder: golden vectors pin the
 * byte format (it must never change: keys are shared between processes,
 * versions and machines); a 1,000,000-case randomized test checks that
 * distinct argument lists never give the same key, that equal lists always
 * do (building each list two ways), and that every key decodes back to its
 * list; error handling and growth past the inline buffer.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rcache.h"

static char *hex(const void *p, size_t n) {
    static char out[1024];
    const unsigned char *b = p;
    for (size_t i = 0; i < n && 2 * i + 2 < sizeof out; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n < sizeof out ? 2 * n : sizeof out - 1] = 0;
    return out;
}

static void expect_hex(rcache_key_t *k, const char *want) {
    const void *kb;
    size_t kl;
    assert_int_equal(rcache_key_finish(k, &kb, &kl), RCACHE_OK);
    assert_string_equal(hex(kb, kl), want);
}

static void test_golden_vectors(void **state) {
    rcache_key_t k;
    (void)state;

    /* The example in rcache.h and docs/MEMOIZE.md. */
    rcache_key_init(&k, "f");
    rcache_key_add_str(&k, "ab");
    rcache_key_add_i64(&k, -1);
    expect_hex(&k, "660001"
                   "730000000261"
                   "62"
                   "69ffffffffffffffff");
    rcache_key_free(&k);

    /* The same list through the _Generic macro. */
    rcache_key_t *km = RCACHE_KEY_ARGS("f", "ab", -1);
    expect_hex(km, "6600017300000002616269ffffffffffffffff");
    rcache_key_free(km);

    rcache_key_init(&k, "memo/v1");
    rcache_key_add_u64(&k, 1);
    rcache_key_add_double(&k, 1.5);
    rcache_key_add_double(&k, -0.0);
    rcache_key_add_double(&k, NAN);
    rcache_key_add_bytes(&k, "\x00\xff", 2);
    rcache_key_add_null(&k);
    rcache_key_add_strn(&k, "a\0b", 3);
    rcache_key_add_i64(&k, INT64_MIN);
    rcache_key_add_i64(&k, 256);
    rcache_key_add_str(&k, "");
    rcache_key_add_str(&k, NULL);
    expect_hex(&k, "6d656d6f2f76310001"
                   "750000000000000001"
                   "643ff8000000000000"
                   "640000000000000000"
                   "647ff8000000000000"
                   "620000000200ff"
                   "6e"
                   "7300000003610062"
                   "698000000000000000"
                   "690000000000000100"
                   "7300000000"
                   "6e");
    rcache_key_free(&k);

    /* Doubles: +0.0 == -0.0, every NaN the same, infinities, a negative. */
    rcache_key_init(&k, "d");
    rcache_key_add_double(&k, 0.0);
    rcache_key_add_double(&k, -NAN);
    rcache_key_add_double(&k, INFINITY);
    rcache_key_add_double(&k, -2.0);
    expect_hex(&k, "640001"
                   "640000000000000000"
                   "647ff8000000000000"
                   "647ff0000000000000"
                   "64c000000000000000");
    rcache_key_free(&k);

    /* Macro type mapping: unsigned -> 'u', float -> 'd', blob -> 'b'. */
    unsigned char blob[3] = {1, 2, 3};
    km = RCACHE_KEY_ARGS("m", 7u, 0.5f, RCACHE_BLOB(blob, 3), (long long)-2,
                         (size_t)9, (char *)NULL);
    expect_hex(km, "6d0001"
                   "750000000000000007"
                   "643fe0000000000000"
                   "6200000003010203"
                   "69fffffffffffffffe"
                   "750000000000000009"
                   "6e");
    rcache_key_free(km);
}

static void test_errors_and_growth(void **state) {
    rcache_key_t k;
    const void *kb = (void *)1;
    size_t kl = 1;
    char big[5000];
    (void)state;

    assert_int_equal(rcache_key_init(&k, NULL), RCACHE_EINVAL);
    assert_int_equal(rcache_key_add_i64(&k, 1), RCACHE_EINVAL); /* sticky */
    assert_int_equal(rcache_key_finish(&k, &kb, &kl), RCACHE_EINVAL);
    assert_null(kb);
    assert_int_equal(kl, 0);
    assert_int_equal(rcache_key_init(&k, ""), RCACHE_EINVAL);
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(rcache_key_init(&k, big), RCACHE_EINVAL);
    assert_int_equal(rcache_key_init(NULL, "x"), RCACHE_EINVAL);
    assert_int_equal(rcache_key_add_str(NULL, "x"), RCACHE_EINVAL);

    assert_int_equal(rcache_key_init(&k, "g"), RCACHE_OK);
    assert_int_equal(rcache_key_add_bytes(&k, NULL, 3), RCACHE_EINVAL);
    assert_int_equal(rcache_key_add_str(&k, "fine"), RCACHE_EINVAL);
    rcache_key_free(&k);

    /* Past the inline buffer: grows, and the bytes are right. */
    assert_int_equal(rcache_key_init(&k, "g"), RCACHE_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rcache_key_add_strn(&k, big, 1000), RCACHE_OK);
    assert_int_equal(rcache_key_add_u64(&k, 5), RCACHE_OK);
    assert_int_equal(rcache_key_finish(&k, &kb, &kl), RCACHE_OK);
    assert_int_equal(kl, 3 + 100 * 1005 + 9);
    const unsigned char *b = kb;
    assert_int_equal(b[3 + 99 * 1005], 's');
    assert_int_equal(b[kl - 1], 5);
    rcache_key_free(&k);
    rcache_key_free(NULL);
}

/* ---- randomized: 1M argument lists -------------------------------------- */

#define NCASES 1000000u
#define MAXARGS 4
#define MAXSTR 3

typedef struct arg {
    char type; /* s b i u d n */
    uint8_t len;
    char s[MAXSTR];
    uint64_t v; /* i/u value, d canonical bits */
    double d;   /* d as given (maybe -0.0 or a NaN payload) */
} arg_t;

typedef struct alist {
    const char *ns;
    int n;
    arg_t a[MAXARGS];
} alist_t;

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t dbits(double d) {
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

/* Case i's list, from a seed derived from i alone. Small domains, so that
 * equal lists and near-misses ("ab","c" vs "a","bc") are frequent. */
static void gen_case(uint32_t i, alist_t *l) {
    static const char *const nss[] = {"f", "fa", "f\x01", "g"};
    static const char alpha[] = {'a', 'b', 0, 's', 1, (char)0xff};
    static const int64_t ints[] = {-1, 0, 1, 256, INT64_MIN, INT64_MAX};
    static const uint64_t uints[] = {0, 1, 256, UINT64_MAX};
    const double dbl[] = {0.0, -0.0, NAN, -NAN, 1.0, -1.5, INFINITY,
                          5e-324};
    uint64_t s = i * UINT64_C(0x2545f4914f6cdd1d) + 7;
    memset(l, 0, sizeof *l);
    l->ns = nss[splitmix(&s) % 4];
    l->n = (int)(splitmix(&s) % (MAXARGS + 1));
    for (int j = 0; j < l->n; j++) {
        arg_t *a = &l->a[j];
        uint64_t r = splitmix(&s);
        switch (r % 6) {
        case 0:
        case 1:
            a->type = (r % 6) ? 'b' : 's';
            a->len = (uint8_t)(splitmix(&s) % (MAXSTR + 1));
            for (int q = 0; q < a->len; q++)
                a->s[q] = alpha[splitmix(&s) % sizeof alpha];
            break;
        case 2:
            a->type = 'i';
            r = splitmix(&s);
            a->v = (r & 8) ? r : (uint64_t)ints[(r >> 8) % 6];
            break;
        case 3:
            a->type = 'u';
            r = splitmix(&s);
            a->v = (r & 8) ? r : uints[(r >> 8) % 4];
            break;
        case 4:
            a->type = 'd';
            r = splitmix(&s);
            if (r & 8)
                memcpy(&a->d, &r, 8); /* any bit pattern, NaNs included */
            else
                a->d = dbl[(r >> 8) % 8];
            a->v = a->d != a->d ? UINT64_C(0x7ff8000000000000)
                   : a->d == 0.0 ? 0
                                 : dbits(a->d);
            break;
        default:
            a->type = 'n';
        }
    }
}

/* Structural equality of two lists, after canonicalisation. */
static int list_equal(const alist_t *x, const alist_t *y) {
    if (strcmp(x->ns, y->ns) || x->n != y->n)
        return 0;
    for (int j = 0; j < x->n; j++) {
        const arg_t *a = &x->a[j], *b = &y->a[j];
        if (a->type != b->type)
            return 0;
        if ((a->type == 's' || a->type == 'b') &&
            (a->len != b->len || memcmp(a->s, b->s, a->len)))
            return 0;
        if (strchr("iud", a->type) && a->v != b->v)
            return 0;
    }
    return 1;
}

static int build(const alist_t *l, rcache_key_t *k, int route) {
    rcache_key_init(k, l->ns);
    for (int j = 0; j < l->n; j++) {
        const arg_t *a = &l->a[j];
        switch (a->type) {
        case 's':
            if (route) {
                rcache_key_add_strn(k, a->s, a->len);
            } else {
                char tmp[MAXSTR + 1];
                memcpy(tmp, a->s, a->len);
                /* route 0 copies the bytes elsewhere first */
                rcache_key_add_strn(k, tmp, a->len);
            }
            break;
        case 'b':
            rcache_key_add_bytes(k, a->s, a->len);
            break;
        case 'i':
            rcache_key_add_i64(k, (int64_t)a->v);
            break;
        case 'u':
            rcache_key_add_u64(k, a->v);
            break;
        case 'd':
            /* route 1 uses the canonical double, route 0 the raw one */
            if (route) {
                double d;
                memcpy(&d, &a->v, 8);
                rcache_key_add_double(k, d);
            } else {
                rcache_key_add_double(k, a->d);
            }
            break;
        default:
            if (route)
                rcache_key_add_null(k);
            else
                rcache_key_add_str(k, NULL);
        }
    }
    return k->err;
}

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Independent decoder: key bytes -> list. 0 on malformed input. */
static int decode(const unsigned char *p, size_t n, alist_t *l,
                  const char *ns_hint) {
    size_t i = 0, nl;
    memset(l, 0, sizeof *l);
    nl = strnlen((const char *)p, n);
    if (nl + 2 > n || p[nl + 1] != 1 || strlen(ns_hint) != nl ||
        memcmp(p, ns_hint, nl))
        return 0;
    l->ns = ns_hint;
    i = nl + 2;
    while (i < n) {
        arg_t *a;
        if (l->n == MAXARGS)
            return 0;
        a = &l->a[l->n++];
        a->type = (char)p[i++];
        switch (a->type) {
        case 's':
        case 'b':
            if (i + 4 > n)
                return 0;
            a->len = (uint8_t)be(p + i, 4);
            if (be(p + i, 4) > MAXSTR || i + 4 + a->len > n)
                return 0;
            memcpy(a->s, p + i + 4, a->len);
            i += 4 + a->len;
            break;
        case 'i':
        case 'u':
        case 'd':
            if (i + 8 > n)
                return 0;
            a->v = be(p + i, 8);
            i += 8;
            break;
        case 'n':
            break;
        default:
            return 0;
        }
    }
    return 1;
}

/* Open-addressing set of case indexes keyed by key bytes (kept in an
 * arena: offset + length per case). */
typedef struct kset {
    uint32_t *slot; /* case index + 1; 0 = empty */
    size_t mask;
    unsigned char *arena;
    size_t used, cap;
    uint32_t *off;
    uint8_t *len;
} kset_t;

static uint64_t fnv(const unsigned char *p, size_t n) {
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h ^ (h >> 29);
}

static void test_random_million(void **state) {
    kset_t ks;
    uint64_t distinct = 0, dup_equal = 0;
    (void)state;
    ks.mask = (1u << 21) - 1;
    ks.slot = calloc(ks.mask + 1, sizeof *ks.slot);
    ks.cap = (size_t)NCASES * 24;
    ks.arena = malloc(ks.cap);
    ks.used = 0;
    ks.off = malloc(NCASES * sizeof *ks.off);
    ks.len = malloc(NCASES);
    assert_non_null(ks.slot);
    assert_non_null(ks.arena);

    for (uint32_t i = 0; i < NCASES; i++) {
        alist_t l, back, other;
        rcache_key_t k0, k1;
        const void *b0, *b1;
        size_t n0, n1;

        gen_case(i, &l);
        assert_int_equal(build(&l, &k0, 0), RCACHE_OK);
        assert_int_equal(build(&l, &k1, 1), RCACHE_OK);
        rcache_key_finish(&k0, &b0, &n0);
        rcache_key_finish(&k1, &b1, &n1);
        /* Equal lists (here: the same list built two ways) -> equal keys. */
        if (n0 != n1 || memcmp(b0, b1, n0))
            fail_msg("case %u: two builds differ", i);
        /* The key decodes back to exactly this list. */
        if (!decode(b0, n0, &back, l.ns) || !list_equal(&l, &back))
            fail_msg("case %u: does not decode back: %s", i, hex(b0, n0));
        assert_true(n0 < 256 && ks.used + n0 <= ks.cap);

        /* Collision check against every key seen so far. */
        uint64_t h = fnv(b0, n0);
        size_t pos = h & ks.mask;
        for (;;) {
            uint32_t s = ks.slot[pos];
            if (!s) {
                ks.slot[pos] = i + 1;
                ks.off[i] = (uint32_t)ks.used;
                ks.len[i] = (uint8_t)n0;
                memcpy(ks.arena + ks.used, b0, n0);
                ks.used += n0;
                distinct++;
                break;
            }
            s--;
            if (ks.len[s] == n0 && !memcmp(ks.arena + ks.off[s], b0, n0)) {
                gen_case(s, &other);
                if (!list_equal(&l, &other))
                    fail_msg("collision: cases %u and %u give %s", s, i,
                             hex(b0, n0));
                dup_equal++;
                break;
            }
            pos = (pos + 1) & ks.mask;
        }
        rcache_key_free(&k0);
        rcache_key_free(&k1);
    }
    /* Both kinds occurred in quantity: the test did test something. */
    assert_true(distinct > 100000);
    assert_true(dup_equal > 1000);
    print_message("%llu distinct keys, %llu repeats of equal lists\n",
                  (unsigned long long)distinct,
                  (unsigned long long)dup_equal);
    free(ks.slot);
    free(ks.arena);
    free(ks.off);
    free(ks.len);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_vectors),
        cmocka_unit_test(test_errors_and_growth),
        cmocka_unit_test(test_random_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
