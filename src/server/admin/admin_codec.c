/*
 * admin_codec.c - the byte-level codecs the admin API needs: UTF-8
 * validation (keys are shown as text only when they are valid UTF-8),
 * base64 (for the other keys), and percent-decoding of paths and query
 * strings that keeps NUL bytes and lengths (evhttp's decoders return C
 * strings, which would truncate binary keys).
 */
#include "admin_internal.h"

#include <stdlib.h>
#include <string.h>

int rcache__admin_utf8_ok(const void *s, size_t n) {
    const unsigned char *p = s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t need;
        uint32_t cp, min;
        if (c == 0)
            return 0;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *rcache__admin_b64_encode(const void *data, size_t n) {
    const unsigned char *p = data;
    size_t olen = 4 * ((n + 2) / 3), o = 0;
    char *out;
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    out = malloc(olen + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int rcache__admin_b64_decode(const char *s, size_t n, unsigned char **out, size_t *out_len) {
    unsigned char *buf;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    buf = malloc(n / 4 * 3 + 3);
    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)s[i]);
        if (v < 0) { free(buf); return -1; }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rcache__admin_pct_decode(const char *s, size_t n, int plus, char **out, size_t *out_len) {
    char *buf = malloc(n + 1);
    size_t o = 0;
    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= n) { free(buf); return -1; }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) { free(buf); return -1; }
            buf[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus && s[i] == '+') {
            buf[o++] = ' ';
        } else {
            buf[o++] = s[i];
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

int rcache__admin_query_get(const char *query, const char *name, char **out, size_t *out_len) {
    size_t nlen = strlen(name);
    const char *p = query;
    if (!query)
        return 0;
    while (*p) {
        const char *end = strchr(p, '&');
        const char *eq;
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        eq = memchr(p, '=', seg);
        size_t klen = eq ? (size_t)(eq - p) : seg;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : p + seg;
            size_t vlen = eq ? seg - klen - 1 : 0;
            return rcache__admin_pct_decode(v, vlen, 1, out, out_len) == 0 ? 1 : -1;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}
