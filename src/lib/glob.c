/*
 * glob.c - Redis-style glob matching over byte strings.
 *
 * libc's fnmatch() works on NUL-terminated strings and its bracket syntax
 * ('!' negation, character classes, locale collation) differs from Redis's,
 * while cache keys are arbitrary bytes; so this small matcher implements
 * Redis's rules exactly: '*', '?', "[abc]", "[a-z]" (reversed ranges
 * allowed), "[^a]", and '\' escaping the next byte, case-sensitive.
 *
 * Unlike Redis, a malformed pattern (an unterminated '[' or a trailing '\')
 * is an error for rcache_glob_match(), so an operator's typo in an
 * invalidation never silently matches something else. KEYS and SCAN MATCH
 * must instead behave as Redis 7.0 does (clients rely on it), so
 * rcache_glob_match_lenient() takes any pattern: a well-formed one means
 * the same as above, a malformed one is read the way Redis 7.0's
 * stringmatchlen() reads it (an unterminated class takes the rest of the
 * pattern as its members, a trailing '\' is a literal '\'). Matching uses the classic single-backtrack
 * algorithm: on a mismatch it returns to the last '*' and lets it absorb one
 * more byte, so time is O(pattern x string) in the worst case, never
 * exponential, however many stars a hostile pattern has.
 */
#include "internal.h"

int rcache_glob_validate(const char *p, size_t plen) {
    if (!p && plen)
        return RCACHE_EINVAL;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] == '\\') {
            if (++i >= plen)
                return RCACHE_EPATTERN;
        } else if (p[i] == '[') {
            i++;
            if (i < plen && p[i] == '^')
                i++;
            for (;; i++) {
                if (i >= plen)
                    return RCACHE_EPATTERN;
                if (p[i] == '\\') {
                    if (++i >= plen)
                        return RCACHE_EPATTERN;
                } else if (p[i] == ']') {
                    break;
                }
            }
        }
    }
    return RCACHE_OK;
}

/* Whether ch lies in the range lo-hi; a reversed range ("z-a") is read as
 * "a-z", as Redis does. */
static inline int in_range(unsigned char lo, unsigned char hi, unsigned char ch) {
    return lo <= hi ? ch >= lo && ch <= hi : ch >= hi && ch <= lo;
}

/* Match one byte against the class starting after '[' at p[*pi]; leaves *pi
 * after the closing ']'. The pattern is known valid. */
static int class_match(const char *p, size_t *pi, unsigned char ch) {
    size_t i = *pi;
    int negate = 0, match = 0;
    if (p[i] == '^') {
        negate = 1;
        i++;
    }
    while (p[i] != ']') {
        unsigned char lo, hi;
        if (p[i] == '\\')
            i++;
        lo = (unsigned char)p[i];
        /* a range "x-y", unless '-' is the last byte before ']' */
        if (p[i + 1] == '-' && p[i + 2] != ']') {
            size_t j = i + 2;
            if (p[j] == '\\')
                j++;
            hi = (unsigned char)p[j];
            if (in_range(lo, hi, ch))
                match = 1;
            i = j + 1;
        } else {
            if (ch == lo)
                match = 1;
            i++;
        }
    }
    *pi = i + 1;
    return negate ? !match : match;
}

/* The element of a valid pattern at p[*pi] (not '*') against one byte;
 * leaves *pi after the element. */
static inline int strict_elem(const char *p, size_t *pi, unsigned char ch) {
    size_t i = *pi;
    if (p[i] == '?') {
        *pi = i + 1;
        return 1;
    }
    if (p[i] == '[') {
        *pi = i + 1;
        return class_match(p, pi, ch);
    }
    if (p[i] == '\\')
        i++;
    *pi = i + 1;
    return (unsigned char)p[i] == ch;
}

static int lenient_elem(const char *p, size_t plen, size_t *pi, unsigned char ch);

/* The single-backtrack loop shared by both readings: each element consumes
 * exactly one byte, so on a mismatch returning to the last '*' and letting
 * it absorb one more byte is exact. `lenient` is a constant at each call
 * site; forced inline so each caller gets its own loop with the element
 * matcher inlined and no per-byte branch on it. */
static inline __attribute__((always_inline)) int
backtrack_match(const char *p, size_t plen, const unsigned char *s, size_t slen, int lenient) {
    size_t pi = 0, si = 0;
    size_t star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen) {
            if (p[pi] == '*') {
                while (pi < plen && p[pi] == '*')
                    pi++;
                if (pi == plen)
                    return 1;
                star_p = pi;
                star_s = si;
                continue;
            }
            size_t q = pi;
            if (lenient ? lenient_elem(p, plen, &q, s[si]) : strict_elem(p, &q, s[si])) {
                pi = q;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

/* Match a valid pattern. */
int rcache__glob_match_valid(const char *p, size_t plen, const unsigned char *s,
                             size_t slen) {
    return backtrack_match(p, plen, s, slen, 0);
}

int rcache_glob_match(const char *pattern, size_t pattern_len, const void *str,
                      size_t str_len) {
    int rc = rcache_glob_validate(pattern, pattern_len);
    if (rc != RCACHE_OK)
        return rc;
    if (!str && str_len)
        return RCACHE_EINVAL;
    return rcache__glob_match_valid(pattern, pattern_len,
                                    (const unsigned char *)str, str_len);
}

/* Redis 7.0's reading of the element at p[*pi] (not '*'), which may be
 * malformed, against one byte; leaves *pi after the element. */
static int lenient_elem(const char *p, size_t plen, size_t *pi, unsigned char ch) {
    size_t i = *pi;
    if (p[i] == '?') {
        *pi = i + 1;
        return 1;
    }
    if (p[i] == '\\') {
        if (plen - i >= 2)
            i++;
        *pi = i + 1;
        return (unsigned char)p[i] == ch;
    }
    if (p[i] != '[') {
        *pi = i + 1;
        return (unsigned char)p[i] == ch;
    }
    int negate = 0, match = 0;
    i++;
    if (i < plen && p[i] == '^') {
        negate = 1;
        i++;
    }
    for (;; i++) {
        if (i >= plen) { /* unterminated: the class ends with the pattern */
            i = plen - 1;
            break;
        }
        if (p[i] == '\\' && plen - i >= 2) {
            i++;
            if ((unsigned char)p[i] == ch)
                match = 1;
        } else if (p[i] == ']') {
            break;
        } else if (plen - i >= 3 && p[i + 1] == '-') {
            /* a range; its end byte is taken as is, even ']' or '\' */
            if (in_range((unsigned char)p[i], (unsigned char)p[i + 2], ch))
                match = 1;
            i += 2;
        } else if ((unsigned char)p[i] == ch) {
            match = 1;
        }
    }
    *pi = i + 1;
    return negate ? !match : match;
}

/* Redis 7.0's reading of any pattern. */
static int lenient_match(const char *p, size_t plen, const unsigned char *s, size_t slen) {
    return backtrack_match(p, plen, s, slen, 1);
}

int rcache_glob_match_lenient(const char *pattern, size_t pattern_len,
                              const void *str, size_t str_len) {
    if ((!pattern && pattern_len) || (!str && str_len))
        return 0;
    if (rcache_glob_validate(pattern, pattern_len) == RCACHE_OK)
        return rcache__glob_match_valid(pattern, pattern_len,
                                        (const unsigned char *)str, str_len);
    return lenient_match(pattern, pattern_len, (const unsigned char *)str, str_len);
}
