/*
 * util.c - small pure helpers shared by the server, config.c and the admin
 * API, each written once: Redis's strict number parsing and formatting (so
 * INCR and friends accept and print exactly what Redis does), the strict
 * unsigned decimal parser of options and query strings, argument
 * comparison, ASCII lower-casing, clocks, RSS from /proc and human sizes.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int rcache__str2ll(const char *s, size_t len, long long *out) {
    const char *p = s;
    size_t plen = 0;
    int negative = 0;
    unsigned long long v;
    if (len == 0 || len > 20)
        return 0;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return 1;
    }
    if (p[0] == '-') {
        negative = 1;
        p++;
        plen++;
        if (plen == len)
            return 0;
    }
    if (p[0] >= '1' && p[0] <= '9') {
        v = (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    } else {
        return 0;
    }
    while (plen < len && p[0] >= '0' && p[0] <= '9') {
        if (v > ULLONG_MAX / 10)
            return 0;
        v *= 10;
        if (v > ULLONG_MAX - (unsigned long long)(p[0] - '0'))
            return 0;
        v += (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    }
    if (plen < len)
        return 0;
    if (negative) {
        if (v > ((unsigned long long)(-(LLONG_MIN + 1)) + 1))
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

int rcache__str2ld(const char *s, size_t len, long double *out) {
    char buf[5256];
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0]))
        return 0;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + len || (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) ||
        isnan(v))
        return 0;
    *out = v;
    return 1;
}

size_t rcache__ld2str(char *buf, size_t cap, long double v) {
    if (isinf(v))
        return (size_t)snprintf(buf, cap, "%s", v > 0 ? "inf" : "-inf");
    int l = snprintf(buf, cap, "%.17Lf", v);
    if (l < 0 || (size_t)l >= cap)
        return 0;
    if (strchr(buf, '.')) {
        char *p = buf + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.')
            l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return (size_t)l;
}

int rcache__parse_u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

void rcache__lower_copy(char *dst, const char *src, size_t len) {
    for (size_t i = 0; i < len; i++)
        dst[i] = rcache__lower_ascii(src[i]);
}

int rcache__arg_is(const rcache__resp_arg_t *a, const char *word) {
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

int rcache__arg_cstr(const rcache__resp_arg_t *a, char *buf, size_t cap) {
    if (a->len >= cap)
        return -1;
    memcpy(buf, a->ptr, a->len);
    buf[a->len] = '\0';
    return 0;
}

uint64_t rcache__mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t rcache__mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t rcache__wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t rcache__rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "re");
    char line[128];
    long page = sysconf(_SC_PAGESIZE);
    if (!f)
        return 0;
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    if (!ok || page <= 0)
        return 0;
    /* "size resident shared ...", in pages */
    char *end;
    errno = 0;
    (void)strtoull(line, &end, 10);
    unsigned long long rss = strtoull(end, &end, 10);
    if (errno != 0)
        return 0;
    return (uint64_t)rss * (uint64_t)page;
}

void rcache__bytes_human(char *out, size_t cap, uint64_t n) {
    double d = (double)n;
    if (n < 1024)
        snprintf(out, cap, "%lluB", (unsigned long long)n);
    else if (n < 1024ull * 1024)
        snprintf(out, cap, "%.2fK", d / 1024);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(out, cap, "%.2fM", d / (1024.0 * 1024));
    else if (n < 1024ull * 1024 * 1024 * 1024)
        snprintf(out, cap, "%.2fG", d / (1024.0 * 1024 * 1024));
    else
        snprintf(out, cap, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}
