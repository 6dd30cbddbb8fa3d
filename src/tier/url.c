/*
 * url.c - parser for the tier's L2 address: "redis://[[user]:pass@]host
 * [:port][/db]" and "unix://path[?db=N]".
 *
 * Why its own file: the URL comes from users (rcached --l2, config files,
 * environment), so the parser is pure, bounded by the input length and
 * fuzzed (tests/fuzz/fuzz_tier_url.c). It writes only into the fixed-size
 * fields of rcache_tier_url_t and never allocates.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "rcache_tier.h"

static int hexval(unsigned char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Copy s[0..n) into dst (cap bytes, NUL-terminated), decoding %XX when
 * unescape is set. 0, or -1 when it does not fit, an escape is bad or a
 * NUL byte would result. */
static int copy_field(char *dst, size_t cap, const char *s, size_t n,
                      int unescape) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (unescape && ch == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return -1;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (ch == 0 || o + 1 >= cap)
            return -1;
        dst[o++] = (char)ch;
    }
    dst[o] = 0;
    return 0;
}

/* Decimal 0..max from s[0..n); -1 if empty, not digits or too big. */
static long parse_num(const char *s, size_t n, long max) {
    long v = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return -1;
    }
    return v;
}

static const char *find(const char *s, size_t n, char ch) {
    return n ? memchr(s, ch, n) : NULL;
}

/* "[user]:pass" (or "pass" alone, read as a password). */
static int parse_userinfo(const char *s, size_t n, rcache_tier_url_t *out) {
    const char *colon = find(s, n, ':');
    if (!colon)
        return copy_field(out->pass, sizeof out->pass, s, n, 1);
    if (copy_field(out->user, sizeof out->user, s, (size_t)(colon - s), 1))
        return -1;
    return copy_field(out->pass, sizeof out->pass, colon + 1,
                      n - (size_t)(colon - s) - 1, 1);
}

/* "host[:port]" or "[v6]:port". */
static int parse_hostport(const char *s, size_t n, rcache_tier_url_t *out) {
    const char *hend = s + n, *port = NULL;
    if (n && s[0] == '[') {
        const char *rb = find(s, n, ']');
        if (!rb)
            return -1;
        if (copy_field(out->host, sizeof out->host, s + 1,
                       (size_t)(rb - s - 1), 0))
            return -1;
        if (rb + 1 < s + n) {
            if (rb[1] != ':')
                return -1;
            port = rb + 2;
        }
    } else {
        const char *colon = find(s, n, ':');
        if (colon) {
            hend = colon;
            port = colon + 1;
        }
        if (copy_field(out->host, sizeof out->host, s, (size_t)(hend - s), 0))
            return -1;
    }
    if (out->host[0] == 0 || strpbrk(out->host, "/?#@ "))
        return -1;
    if (port) {
        long p = parse_num(port, (size_t)(s + n - port), 65535);
        if (p < 1)
            return -1;
        out->port = (int)p;
    }
    return 0;
}

static int parse_redis(const char *s, size_t n, rcache_tier_url_t *out) {
    const char *slash = find(s, n, '/');
    size_t auth_len = slash ? (size_t)(slash - s) : n;
    const char *at = NULL;
    for (size_t i = auth_len; i > 0; i--) /* the last '@' ends userinfo */
        if (s[i - 1] == '@') {
            at = s + i - 1;
            break;
        }
    if (at) {
        if (parse_userinfo(s, (size_t)(at - s), out))
            return -1;
        if (parse_hostport(at + 1, auth_len - (size_t)(at - s) - 1, out))
            return -1;
    } else if (parse_hostport(s, auth_len, out)) {
        return -1;
    }
    if (slash && slash + 1 < s + n) {
        long db = parse_num(slash + 1, (size_t)(s + n - slash - 1), INT_MAX);
        if (db < 0)
            return -1;
        out->db = (int)db;
    }
    return 0;
}

static int parse_unix(const char *s, size_t n, rcache_tier_url_t *out) {
    const char *q = find(s, n, '?');
    size_t plen = q ? (size_t)(q - s) : n;
    out->is_unix = 1;
    if (plen == 0 || copy_field(out->path, sizeof out->path, s, plen, 0))
        return -1;
    if (q) {
        size_t rest = n - plen - 1;
        long db;
        if (rest < 4 || memcmp(q + 1, "db=", 3) != 0)
            return -1;
        db = parse_num(q + 4, rest - 3, INT_MAX);
        if (db < 0)
            return -1;
        out->db = (int)db;
    }
    return 0;
}

int rcache_tier_parse_url(const char *url, size_t url_len,
                          rcache_tier_url_t *out) {
    int rc;
    if (!out)
        return RCACHE_EINVAL;
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url)
        return RCACHE_EINVAL;
    if (url_len >= 8 && memcmp(url, "redis://", 8) == 0)
        rc = parse_redis(url + 8, url_len - 8, out);
    else if (url_len >= 7 && memcmp(url, "unix://", 7) == 0)
        rc = parse_unix(url + 7, url_len - 7, out);
    else
        rc = -1;
    if (rc) {
        memset(out, 0, sizeof *out);
        return RCACHE_EINVAL;
    }
    return RCACHE_OK;
}

/* Append s to buf (cap bytes) at *o, escaping bytes outside
 * [A-Za-z0-9-._~] as %XX when escape is set; *o counts the full length. */
static void put(char *buf, size_t cap, size_t *o, const char *s, int escape) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char e[3] = {(char)ch, 0, 0};
        size_t n = 1;
        if (escape && !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || strchr("-._~", ch))) {
            e[0] = '%';
            e[1] = hex[ch >> 4];
            e[2] = hex[ch & 15];
            n = 3;
        }
        for (size_t i = 0; i < n; i++, (*o)++)
            if (*o + 1 < cap)
                buf[*o] = e[i];
    }
}

size_t rcache_tier_format_url(const rcache_tier_url_t *url, char *buf,
                              size_t cap) {
    char num[32];
    size_t o = 0;
    if (cap)
        buf[0] = 0;
    if (!url)
        return 0;
    if (url->is_unix) {
        put(buf, cap, &o, "unix://", 0);
        put(buf, cap, &o, url->path, 0);
        if (url->db) {
            snprintf(num, sizeof num, "?db=%d", url->db);
            put(buf, cap, &o, num, 0);
        }
    } else {
        int v6 = strchr(url->host, ':') != NULL;
        put(buf, cap, &o, "redis://", 0);
        if (url->user[0] || url->pass[0]) {
            put(buf, cap, &o, url->user, 1);
            put(buf, cap, &o, url->pass[0] ? ":***@" : ":@", 0);
        }
        put(buf, cap, &o, v6 ? "[" : "", 0);
        put(buf, cap, &o, url->host, 0);
        snprintf(num, sizeof num, "%s:%d/%d", v6 ? "]" : "", url->port, url->db);
        put(buf, cap, &o, num, 0);
    }
    if (cap)
        buf[o < cap ? o : cap - 1] = 0;
    return o;
}
