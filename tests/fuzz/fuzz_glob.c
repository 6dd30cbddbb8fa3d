/*
 * fuzz_glob.c - libFuzzer target for librcache's glob matcher
 * (src/lib/glob.c) and the two cache paths that use it (scan, invalidate).
 *
 * Why: glob patterns come straight from clients (KEYS, SCAN MATCH,
 * RCACHE.INVALIDATE, the admin API), and the library's matcher is an
 * iterative single-backtrack algorithm whose correctness is not obvious.
 * Here a deliberately naive reference - a recursive matcher written from
 * the documented rules (include/rcache.h, glob.c's header), memoised so
 * hostile "*a*a*a..." inputs stay fast - must agree with it on every
 * input; any disagreement aborts.
 *
 * Input: byte 0 gives the pattern length (mod the input size), then the
 * pattern, then the string. Checked for each input:
 *  - rcache_glob_validate() says RCACHE_EPATTERN exactly when the reference
 *    finds the pattern malformed (unterminated '[' or trailing '\');
 *  - rcache_glob_match() returns RCACHE_EPATTERN for those, otherwise the
 *    reference's 0/1;
 *  - with the string stored as a key in a one-shard cache, rcache_scan()
 *    with the pattern lists it exactly when it matches and
 *    rcache_invalidate() removes exactly that many, both answering
 *    RCACHE_EPATTERN (cache untouched) for a malformed pattern.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcache.h"

#define MAX_LEN 256 /* pattern and string are cut to this */

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            abort();                                                          \
    } while (0)

/* ---- the reference ------------------------------------------------------ */

typedef struct ref {
    const unsigned char *p;
    size_t plen;
    const unsigned char *s;
    size_t slen;
    unsigned char *memo; /* (plen+1) x (slen+1): 0 unknown, 1 no, 2 yes */
} ref_t;

/* Read one possibly escaped class byte at *i; -1 if the pattern ends. */
static int class_byte(const unsigned char *p, size_t plen, size_t *i) {
    if (*i < plen && p[*i] == '\\')
        (*i)++;
    if (*i >= plen)
        return -1;
    return p[(*i)++];
}

/*
 * Parse the class whose '[' is at p[at]. Fills set[256] and returns the
 * index just after the closing ']', or 0 if the class is unterminated.
 * Rules: an optional '^' negates; the first unescaped ']' closes (so "[]"
 * is empty); "x-y" is a range (either order) unless the '-' is followed by
 * the closing ']', in which case '-' is literal; '\' escapes any byte.
 */
static size_t parse_class(const unsigned char *p, size_t plen, size_t at,
                          unsigned char set[256]) {
    size_t i = at + 1;
    int neg = 0;
    memset(set, 0, 256);
    if (i < plen && p[i] == '^') {
        neg = 1;
        i++;
    }
    for (;;) {
        if (i >= plen)
            return 0;
        if (p[i] == ']') {
            i++;
            break;
        }
        int lo = class_byte(p, plen, &i);
        if (lo < 0)
            return 0;
        int hi = lo;
        if (i + 1 < plen && p[i] == '-' && p[i + 1] != ']') {
            i++;
            hi = class_byte(p, plen, &i);
            if (hi < 0)
                return 0;
        }
        if (lo > hi) {
            int t = lo;
            lo = hi;
            hi = t;
        }
        for (int ch = lo; ch <= hi; ch++)
            set[ch] = 1;
    }
    if (neg)
        for (int ch = 0; ch < 256; ch++)
            set[ch] = (unsigned char)!set[ch];
    return i;
}

static int ref_valid(const unsigned char *p, size_t plen) {
    unsigned char set[256];
    for (size_t i = 0; i < plen;) {
        if (p[i] == '\\') {
            if (i + 1 >= plen)
                return 0;
            i += 2;
        } else if (p[i] == '[') {
            size_t next = parse_class(p, plen, i, set);
            if (next == 0)
                return 0;
            i = next;
        } else {
            i++;
        }
    }
    return 1;
}

static int ref_match(ref_t *r, size_t pi, size_t si) {
    unsigned char *m = &r->memo[pi * (r->slen + 1) + si];
    int res;
    if (*m)
        return *m - 1;
    if (pi == r->plen) {
        res = si == r->slen;
    } else {
        unsigned char c = r->p[pi];
        if (c == '*') {
            res = ref_match(r, pi + 1, si) ||
                  (si < r->slen && ref_match(r, pi, si + 1));
        } else if (si == r->slen) {
            res = 0;
        } else if (c == '?') {
            res = ref_match(r, pi + 1, si + 1);
        } else if (c == '[') {
            unsigned char set[256];
            size_t next = parse_class(r->p, r->plen, pi, set);
            res = next && set[r->s[si]] && ref_match(r, next, si + 1);
        } else if (c == '\\') {
            res = pi + 1 < r->plen && r->p[pi + 1] == r->s[si] &&
                  ref_match(r, pi + 2, si + 1);
        } else {
            res = c == r->s[si] && ref_match(r, pi + 1, si + 1);
        }
    }
    *m = (unsigned char)(res + 1);
    return res;
}

/* ---- the target --------------------------------------------------------- */

static rcache_t *cache;

static void check_cache(const char *pat, size_t plen, const void *s,
                        size_t slen, int want) {
    rcache_scan_page_t page;
    uint64_t cur = 0, removed = 99;
    size_t listed = 0;
    int rc;

    CHECK(rcache_set(cache, s, slen, "v", 1, 0, 0) == RCACHE_OK);
    do {
        rc = rcache_scan(cache, cur, 64, pat, plen, 1, &page, &cur);
        if (want < 0) {
            CHECK(rc == RCACHE_EPATTERN);
            break;
        }
        CHECK(rc == RCACHE_OK);
        for (size_t i = 0; i < page.count; i++) {
            CHECK(page.entries[i].key_len == slen);
            CHECK(memcmp(page.entries[i].key, s, slen) == 0);
            listed++;
        }
        rcache_scan_page_free(&page);
    } while (cur != 0);
    if (want >= 0)
        CHECK(listed == (size_t)want);

    rc = rcache_invalidate(cache, pat, plen, &removed);
    if (want < 0) {
        CHECK(rc == RCACHE_EPATTERN && removed == 0);
        CHECK(rcache_count(cache) == 1);
    } else {
        CHECK(rc == RCACHE_OK && removed == (uint64_t)want);
        CHECK(rcache_count(cache) == 1 - (uint64_t)want);
    }
    rcache_clear(cache, NULL);
    CHECK(rcache_count(cache) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static unsigned char memo[(MAX_LEN + 1) * (MAX_LEN + 1)];
    if (size < 1)
        return 0;
    if (!cache) {
        rcache_config_t cfg;
        rcache_config_init(&cfg);
        cfg.shards = 1;
        cfg.max_items = 0;
        cfg.max_bytes = 0;
        cfg.default_ttl_ms = 0;
        CHECK(rcache_open(&cfg, &cache) == RCACHE_OK);
    }
    size_t plen = data[0] % size; /* 0 .. size-1 */
    size_t slen = size - 1 - plen;
    const unsigned char *p = data + 1, *s = p + plen;
    if (plen > MAX_LEN)
        plen = MAX_LEN;
    if (slen > MAX_LEN)
        slen = MAX_LEN;

    /* Exact-size heap copies, so ASan sees any read past either end. */
    char *pat = malloc(plen ? plen : 1);
    unsigned char *str = malloc(slen ? slen : 1);
    CHECK(pat && str);
    memcpy(pat, p, plen);
    memcpy(str, s, slen);

    int valid = ref_valid((const unsigned char *)pat, plen);
    int want = -1;
    if (valid) {
        ref_t r = {(const unsigned char *)pat, plen, str, slen, memo};
        memset(memo, 0, (plen + 1) * (slen + 1));
        want = ref_match(&r, 0, 0);
    }

    CHECK(rcache_glob_validate(pat, plen) == (valid ? RCACHE_OK : RCACHE_EPATTERN));
    int got = rcache_glob_match(pat, plen, str, slen);
    CHECK(got == (valid ? want : RCACHE_EPATTERN));
    /* Matching is a pure function: same answer twice. */
    CHECK(rcache_glob_match(pat, plen, str, slen) == got);

    if (slen > 0)
        check_cache(pat, plen, str, slen, valid ? want : -1);

    free(pat);
    free(str);
    return 0;
}
