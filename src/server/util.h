/*
 * util.h - small pure helpers shared by the server and the admin API
 * (util.c): Redis's strict number parsing and formatting, the one strict
 * unsigned decimal parser, argument comparison, ASCII lower-casing, clocks, the process's RSS
 * from /proc and human sizes. No server types: config.c and the admin
 * module use it on their own (and so do their fuzzers and harness).
 */
#ifndef RCACHE_SERVER_UTIL_H
#define RCACHE_SERVER_UTIL_H

#include "resp.h"

#include <stddef.h>
#include <stdint.h>

/* Redis's string2ll: strict, no spaces, no '+', no leading zeros. */
int rcache__str2ll(const char *s, size_t len, long long *out);
/* Redis's string2ld: a finite (or inf) long double, no spaces. */
int rcache__str2ld(const char *s, size_t len, long double *out);
/* Format like Redis (LD_STR_HUMAN): %.17Lf without trailing zeros. */
size_t rcache__ld2str(char *buf, size_t cap, long double v);
/* Strict unsigned decimal of s[0..len): 1 or more digits only (leading
 * zeros allowed), no sign, no spaces, no overflow. 0 and *out set, or -1
 * (*out untouched). */
int rcache__parse_u64(const char *s, size_t len, uint64_t *out);

/* ASCII lower case of ch (locale-independent; other bytes unchanged). */
static inline char rcache__lower_ascii(char ch) {
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch + ('a' - 'A')) : ch;
}
/* dst[i] = lower case of src[i] for i < len (no NUL added; dst may be src). */
void rcache__lower_copy(char *dst, const char *src, size_t len);

/* Case-insensitive compare of an argument with a lower-case word. */
int rcache__arg_is(const rcache__resp_arg_t *a, const char *word);
/* NUL-terminated copy of an argument in a caller buffer; -1 if too long. */
int rcache__arg_cstr(const rcache__resp_arg_t *a, char *buf, size_t cap);

/* CLOCK_MONOTONIC_COARSE and CLOCK_REALTIME in milliseconds. */
uint64_t rcache__mono_ms(void);
/* Monotonic microseconds (CLOCK_MONOTONIC: precise, for command timing). */
uint64_t rcache__mono_us(void);
uint64_t rcache__wall_ms(void);
/* Resident set size of this process in bytes, from /proc/self/statm (0 if
 * unknown). */
uint64_t rcache__rss_bytes(void);
/* "1.50M" style, as Redis's bytesToHuman. */
void rcache__bytes_human(char *out, size_t cap, uint64_t n);

#endif /* RCACHE_SERVER_UTIL_H */
