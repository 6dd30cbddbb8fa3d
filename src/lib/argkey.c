/*
 * argkey.c - rcache_key_t, the builder that turns a namespace and typed
 * arguments into a cache key.
 *
 * Why: memoized functions are keyed by their arguments, and hand-formatted
 * keys ("%s:%d") are ambiguous ("a:b" + "c" vs "a" + "b:c") and drift
 * between platforms (printf of doubles, endianness, int widths).  Here every
 * argument is written as a type tag plus either a big-endian 32-bit length
 * and the bytes, or 8 big-endian bytes, so a key decodes back to exactly one
 * argument list: distinct lists cannot collide, and the bytes are the same
 * on every machine and in every later version (format version 1 is written
 * into each key; a new format would get a new version byte).  The full
 * format is documented in include/rcache.h and docs/MEMOIZE.md.
 *
 * Small keys are built in a buffer inside the struct, so building the key
 * for a cache hit costs no allocation.  Errors are sticky so callers can
 * chain adds and check once.
 */
#include "internal.h"

#include <string.h>

#define TAG_STR 's'
#define TAG_BYTES 'b'
#define TAG_I64 'i'
#define TAG_U64 'u'
#define TAG_DOUBLE 'd'
#define TAG_NULL 'n'

/* Make room for n more bytes; sets the sticky error on failure. */
static int reserve(rcache_key_t *k, size_t n) {
    size_t need, cap;
    unsigned char *nb;

    if (k->err)
        return k->err;
    if (n > (size_t)RCACHE_MAX_KEY_LEN - k->len)
        return k->err = RCACHE_ETOOBIG;
    need = k->len + n;
    if (need <= k->cap)
        return RCACHE_OK;
    cap = k->cap ? k->cap : RCACHE_KEY_INLINE_BYTES;
    while (cap < need)
        cap = cap > (size_t)RCACHE_MAX_KEY_LEN / 2 ? (size_t)RCACHE_MAX_KEY_LEN
                                                   : cap * 2;
    if (k->buf == k->inline_buf) {
        nb = rcache__malloc(cap);
        if (nb)
            memcpy(nb, k->buf, k->len);
    } else {
        nb = rcache__realloc(k->buf, cap);
    }
    if (!nb)
        return k->err = RCACHE_ENOMEM;
    k->buf = nb;
    k->cap = cap;
    return RCACHE_OK;
}

static void put_be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xffu);
        v >>= 8;
    }
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int add_fixed(rcache_key_t *k, unsigned char tag, uint64_t v) {
    int rc;
    if (!k)
        return RCACHE_EINVAL;
    if ((rc = reserve(k, 9)))
        return rc;
    k->buf[k->len] = tag;
    put_be64(k->buf + k->len + 1, v);
    k->len += 9;
    return RCACHE_OK;
}

static int add_var(rcache_key_t *k, unsigned char tag, const void *p,
                   size_t n) {
    int rc;
    if (!k)
        return RCACHE_EINVAL;
    if (k->err)
        return k->err;
    if (!p && n)
        return k->err = RCACHE_EINVAL;
    if (n > UINT32_MAX)
        return k->err = RCACHE_ETOOBIG;
    if ((rc = reserve(k, 5 + n)))
        return rc;
    k->buf[k->len] = tag;
    put_be32(k->buf + k->len + 1, (uint32_t)n);
    if (n)
        memcpy(k->buf + k->len + 5, p, n);
    k->len += 5 + n;
    return RCACHE_OK;
}

int rcache_key_init(rcache_key_t *k, const char *ns) {
    size_t n;
    if (!k)
        return RCACHE_EINVAL;
    k->buf = k->inline_buf;
    k->len = 0;
    k->cap = sizeof(k->inline_buf);
    k->err = RCACHE_OK;
    if (!ns || !*ns)
        return k->err = RCACHE_EINVAL;
    n = strnlen(ns, RCACHE_KEY_MAX_NS_LEN + 1);
    if (n > RCACHE_KEY_MAX_NS_LEN)
        return k->err = RCACHE_EINVAL;
    /* Fits inline only if the inline buffer is large enough; reserve()
     * handles both cases. */
    if (reserve(k, n + 2))
        return k->err;
    memcpy(k->buf, ns, n);
    k->buf[n] = 0x00;
    k->buf[n + 1] = RCACHE_KEY_FORMAT_VERSION;
    k->len = n + 2;
    return RCACHE_OK;
}

int rcache_key_add_strn(rcache_key_t *k, const char *s, size_t len) {
    return add_var(k, TAG_STR, s, len);
}

int rcache_key_add_str(rcache_key_t *k, const char *s) {
    if (!s)
        return rcache_key_add_null(k);
    return add_var(k, TAG_STR, s, strlen(s));
}

int rcache_key_add_bytes(rcache_key_t *k, const void *p, size_t len) {
    return add_var(k, TAG_BYTES, p, len);
}

int rcache_key_add_i64(rcache_key_t *k, int64_t v) {
    return add_fixed(k, TAG_I64, (uint64_t)v); /* two's complement bits */
}

int rcache_key_add_u64(rcache_key_t *k, uint64_t v) {
    return add_fixed(k, TAG_U64, v);
}

int rcache_key_add_double(rcache_key_t *k, double v) {
    uint64_t bits;
    if (v != v) {
        bits = UINT64_C(0x7ff8000000000000); /* every NaN: one quiet NaN */
    } else if (v == 0.0) {
        bits = 0; /* -0.0 == 0.0: both as +0.0 */
    } else {
        _Static_assert(sizeof(double) == 8, "IEEE-754 binary64 double");
        memcpy(&bits, &v, sizeof bits);
    }
    return add_fixed(k, TAG_DOUBLE, bits);
}

int rcache_key_add_null(rcache_key_t *k) {
    int rc;
    if (!k)
        return RCACHE_EINVAL;
    if ((rc = reserve(k, 1)))
        return rc;
    k->buf[k->len++] = TAG_NULL;
    return RCACHE_OK;
}

int rcache_key_finish(const rcache_key_t *k, const void **key_out,
                      size_t *key_len_out) {
    if (key_out)
        *key_out = NULL;
    if (key_len_out)
        *key_len_out = 0;
    if (!k || !key_out || !key_len_out)
        return RCACHE_EINVAL;
    if (k->err)
        return k->err;
    if (!k->buf || k->len == 0)
        return RCACHE_EINVAL; /* never initialised */
    *key_out = k->buf;
    *key_len_out = k->len;
    return RCACHE_OK;
}

void rcache_key_free(rcache_key_t *k) {
    if (!k)
        return;
    if (k->buf && k->buf != k->inline_buf)
        rcache__free(k->buf);
    k->buf = k->inline_buf;
    k->len = 0;
    k->cap = sizeof(k->inline_buf);
}

int rcache_key_invalidate_ns(rcache_t *c, const char *ns, uint64_t *removed) {
    size_t n, i, j = 0;
    char *pat;
    int rc;

    if (removed)
        *removed = 0;
    if (!c || !ns || !*ns)
        return RCACHE_EINVAL;
    n = strnlen(ns, RCACHE_KEY_MAX_NS_LEN + 1);
    if (n > RCACHE_KEY_MAX_NS_LEN)
        return RCACHE_EINVAL;
    pat = rcache__malloc(2 * n + 3);
    if (!pat)
        return RCACHE_ENOMEM;
    for (i = 0; i < n; i++) {
        if (strchr("*?[]\\^!-", ns[i]))
            pat[j++] = '\\';
        pat[j++] = ns[i];
    }
    pat[j++] = 0x00;
    pat[j++] = RCACHE_KEY_FORMAT_VERSION;
    pat[j++] = '*';
    rc = rcache_invalidate(c, pat, j, removed);
    rcache__free(pat);
    return rc;
}
