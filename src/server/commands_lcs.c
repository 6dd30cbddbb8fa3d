/*
 * commands_lcs.c - LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n]
 * [WITHMATCHLEN]: the longest common subsequence of two string values,
 * with Redis 7.0's option rules, reply shapes and its (quirky) way of
 * reporting matched ranges, so clients see exactly what Redis sends.
 *
 * Memory: like Redis, the full (len1 + 1) x (len2 + 1) table of 32-bit
 * lengths is needed to walk back the matches. Redis only fails when the
 * allocation fails; rcached bounds the table (RCACHE__LCS_MAX_TABLE_BYTES)
 * and refuses bigger inputs with Redis's own error for that case, so one
 * client cannot make a worker allocate gigabytes and compute for minutes.
 * LEN alone needs two rows only, but keeps the same bound (the time is
 * still len1 x len2). The two keys are each read atomically, not as one
 * snapshot (as MGET).
 */
#include "keyargs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 256 MiB: 64 M cells, e.g. two 8,000-byte strings. */
#define RCACHE__LCS_MAX_TABLE_BYTES (256ull * 1024 * 1024)

typedef struct lcs_opts {
    int len, idx, withlen;
    long long minlen;
} lcs_opts_t;

static int parse_opts(rcache__client_t *c, size_t argc, const rcache__arg_t *argv,
                      lcs_opts_t *o) {
    for (size_t j = 3; j < argc; j++) {
        if (rcache__arg_is(&argv[j], "idx")) {
            o->idx = 1;
        } else if (rcache__arg_is(&argv[j], "len")) {
            o->len = 1;
        } else if (rcache__arg_is(&argv[j], "withmatchlen")) {
            o->withlen = 1;
        } else if (rcache__arg_is(&argv[j], "minmatchlen") && j + 1 < argc) {
            if (!rcache__str2ll(argv[j + 1].ptr, argv[j + 1].len, &o->minlen)) {
                rcache__reply_not_int(c);
                return 0;
            }
            if (o->minlen < 0)
                o->minlen = 0;
            j++;
        } else {
            rcache__reply_syntax_error(c);
            return 0;
        }
    }
    if (o->idx && o->len) {
        rcache__reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return 0;
    }
    return 1;
}

/* Fill the table: T[i * (bl + 1) + j] = LCS length of a[0..i), b[0..j). */
static void fill(uint32_t *T, const unsigned char *a, uint32_t al, const unsigned char *b,
                 uint32_t bl) {
    size_t w = (size_t)bl + 1;
    for (uint32_t i = 0; i <= al; i++) {
        for (uint32_t j = 0; j <= bl; j++) {
            uint32_t v;
            if (i == 0 || j == 0)
                v = 0;
            else if (a[i - 1] == b[j - 1])
                v = T[(i - 1) * w + j - 1] + 1;
            else {
                uint32_t x = T[(i - 1) * w + j], y = T[i * w + j - 1];
                v = x > y ? x : y;
            }
            T[i * w + j] = v;
        }
    }
}

typedef struct range4 { uint32_t a0, a1, b0, b1; } range4_t;

/* Walk back from (al, bl): the LCS string into out (if not NULL) and the
 * ranges Redis reports into *rs / *nrs (if rs is not NULL). */
static int walk(const uint32_t *T, const unsigned char *a, uint32_t al,
                const unsigned char *b, uint32_t bl, char *out, const lcs_opts_t *o,
                range4_t **rs, size_t *nrs) {
    size_t w = (size_t)bl + 1, cap = 0;
    uint32_t i = al, j = bl, idx = T[(size_t)al * w + bl];
    range4_t cur = {al, 0, 0, 0}; /* a0 == al: no range open */
    while (i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            if (out)
                out[idx - 1] = (char)a[i - 1];
            if (cur.a0 == al) {
                cur = (range4_t){i - 1, i - 1, j - 1, j - 1};
            } else if (cur.a0 == i && cur.b0 == j) {
                cur.a0--;
                cur.b0--;
            } else {
                emit = 1; /* as Redis: this match starts no new range */
            }
            if (cur.a0 == 0 || cur.b0 == 0)
                emit = 1;
            idx--, i--, j--;
        } else {
            if (T[(size_t)(i - 1) * w + j] > T[(size_t)i * w + j - 1])
                i--;
            else
                j--;
            if (cur.a0 != al)
                emit = 1;
        }
        uint32_t mlen = cur.a1 - cur.a0 + 1;
        if (emit && rs && (o->minlen == 0 || mlen >= o->minlen)) {
            if (*nrs == cap) {
                cap = cap ? cap * 2 : 16;
                range4_t *n = realloc(*rs, cap * sizeof *n);
                if (!n)
                    return -1;
                *rs = n;
            }
            (*rs)[(*nrs)++] = cur;
        }
        if (emit)
            cur.a0 = al;
    }
    return 0;
}

static void reply_idx(rcache__client_t *c, const range4_t *rs, size_t n, uint32_t len,
                      int withlen) {
    rcache__reply_map(c, 2);
    rcache__reply_bulk_cstr(c, "matches");
    rcache__reply_array(c, (long long)n);
    for (size_t k = 0; k < n; k++) {
        rcache__reply_array(c, 2 + withlen);
        rcache__reply_array(c, 2);
        rcache__reply_int(c, rs[k].a0);
        rcache__reply_int(c, rs[k].a1);
        rcache__reply_array(c, 2);
        rcache__reply_int(c, rs[k].b0);
        rcache__reply_int(c, rs[k].b1);
        if (withlen)
            rcache__reply_int(c, (long long)rs[k].a1 - rs[k].a0 + 1);
    }
    rcache__reply_bulk_cstr(c, "len");
    rcache__reply_int(c, len);
}

static void lcs(rcache__client_t *c, const lcs_opts_t *o, const unsigned char *a, size_t al,
                const unsigned char *b, size_t bl) {
    if (al >= UINT32_MAX - 1 || bl >= UINT32_MAX - 1) {
        rcache__reply_error(c, "ERR String too long for LCS");
        return;
    }
    unsigned long long cells = (unsigned long long)(al + 1) * (bl + 1);
    uint32_t *T = NULL;
    if (cells <= RCACHE__LCS_MAX_TABLE_BYTES / sizeof(uint32_t))
        T = malloc((size_t)cells * sizeof *T);
    if (!T) {
        rcache__reply_error(c, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
    fill(T, a, (uint32_t)al, b, (uint32_t)bl);
    uint32_t len = T[(size_t)al * (bl + 1) + bl];
    char *out = NULL;
    range4_t *rs = NULL;
    size_t nrs = 0;
    if (o->len && !o->idx) {
        rcache__reply_int(c, len);
    } else if ((!o->idx && !(out = malloc(len ? len : 1))) ||
               walk(T, a, (uint32_t)al, b, (uint32_t)bl, out, o, o->idx ? &rs : NULL,
                    &nrs) != 0) {
        rcache__reply_lib_error(c, RCACHE_ENOMEM);
    } else if (o->idx) {
        reply_idx(c, rs, nrs, len, o->withlen);
    } else {
        rcache__reply_bulk(c, out, len);
    }
    free(rs);
    free(out);
    free(T);
}

static rcache_ref_t *read_key(rcache__client_t *c, const rcache__arg_t *k,
                              const unsigned char **p, size_t *len) {
    rcache_ref_t *ref = NULL;
    *p = (const unsigned char *)"";
    *len = 0;
    if (rcache__key_valid(k) &&
        rcache_get_ref(RCACHE__CACHE(c), RCACHE__KEY(*k), &ref) == RCACHE_OK) {
        const unsigned char *v = rcache_ref_value(ref, len);
        if (v)
            *p = v;
    }
    return ref;
}

void rcache__cmd_lcs(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    lcs_opts_t o = {0, 0, 0, 0};
    const unsigned char *a, *b;
    size_t al, bl;
    rcache_ref_t *ra = read_key(c, &argv[1], &a, &al);
    rcache_ref_t *rb = read_key(c, &argv[2], &b, &bl);
    if (parse_opts(c, argc, argv, &o))
        lcs(c, &o, a, al, b, bl);
    rcache_release(ra);
    rcache_release(rb);
}
