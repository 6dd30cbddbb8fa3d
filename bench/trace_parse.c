/*
 * trace_parse.c - the pure part of the trace readers: format names, format
 * detection from a file name, and the decoders that turn one text line or
 * one binary record into a request.
 *
 * Nothing here does I/O or allocates, so the functions can be fuzzed over
 * arbitrary buffers (tests/fuzz/fuzz_trace.c) and tested without files.
 * Every malformed input is reported (-1 and a reason); nothing is guessed.
 */
#include "trace.h"

#include <stdarg.h>
#include <string.h>

static const char *const format_names[RCACHE__TF_COUNT] = {
    [RCACHE__TF_AUTO] = "auto",
    [RCACHE__TF_ORACLE_GENERAL] = "oracleGeneral",
    [RCACHE__TF_LCS_CSV] = "lcs-csv",
    [RCACHE__TF_PLAIN_TXT] = "plain-txt",
    [RCACHE__TF_LIRS_TXT] = "lirs-txt",
    [RCACHE__TF_BE_INT32] = "be-int32",
    [RCACHE__TF_BE_INT64] = "be-int64",
    [RCACHE__TF_ADAPTSIZE_TXT] = "adaptsize-txt",
    [RCACHE__TF_TENCENT_PHOTO] = "tencent-photo-txt",
};

const char *rcache__trace_format_name(rcache__trace_format_t f)
{
    if ((int)f < 0 || f >= RCACHE__TF_COUNT)
        return "unknown";
    return format_names[f];
}

rcache__trace_format_t rcache__trace_format_parse(const char *tag)
{
    for (int i = 1; i < RCACHE__TF_COUNT; i++)
        if (strcmp(tag, format_names[i]) == 0)
            return (rcache__trace_format_t)i;
    return RCACHE__TF_AUTO;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

rcache__zkind_t rcache__trace_zkind_from_name(const char *path)
{
    if (ends_with(path, ".gz"))
        return RCACHE__Z_GZIP;
    if (ends_with(path, ".xz"))
        return RCACHE__Z_XZ;
    if (ends_with(path, ".bz2"))
        return RCACHE__Z_BZIP2;
    if (ends_with(path, ".zst"))
        return RCACHE__Z_ZSTD;
    return RCACHE__Z_DETECT;
}

rcache__trace_format_t rcache__trace_format_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* The file name first, then the folder (the caffeine layout names the
     * format in the folder: lirs/, cache2k/, corda/, adapt_size/). */
    if (strstr(base, "oracleGeneral"))
        return RCACHE__TF_ORACLE_GENERAL;
    if (strstr(base, ".csv"))
        return RCACHE__TF_LCS_CSV;
    if (strstr(base, "cloud_photos") || strstr(path, "tencent"))
        return RCACHE__TF_TENCENT_PHOTO;
    if (strstr(base, "trace_vaultservice") || strstr(path, "corda/"))
        return RCACHE__TF_BE_INT64;
    if (strstr(path, "cache2k/"))
        return RCACHE__TF_BE_INT32;
    if (strstr(path, "lirs/"))
        return RCACHE__TF_LIRS_TXT;
    if (strstr(path, "adapt_size/") || strstr(path, "adaptsize"))
        return RCACHE__TF_ADAPTSIZE_TXT;
    if (strstr(base, ".txt"))
        return RCACHE__TF_PLAIN_TXT;
    return RCACHE__TF_AUTO;
}

int rcache__trace_format_has_size(rcache__trace_format_t f)
{
    return f == RCACHE__TF_ORACLE_GENERAL || f == RCACHE__TF_LCS_CSV ||
           f == RCACHE__TF_ADAPTSIZE_TXT || f == RCACHE__TF_TENCENT_PHOTO;
}

size_t rcache__trace_record_size(rcache__trace_format_t f)
{
    switch (f) {
    case RCACHE__TF_ORACLE_GENERAL: return 24;
    case RCACHE__TF_BE_INT32: return 4;
    case RCACHE__TF_BE_INT64: return 8;
    default: return 0;
    }
}

/* ---- helpers ---------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Printable excerpt of s[0, n) for messages (at most 40 bytes). */
static void excerpt(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < 40 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    if (n > 40 && o + 4 < cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Strict unsigned decimal: 1..20 digits, no sign, no overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 20)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static void set_id(rcache__trace_req_t *out, uint64_t id)
{
    out->id = id;
    out->is_string = 0;
    out->key_len = 8;
    for (int i = 0; i < 8; i++)
        out->key[i] = (unsigned char)(id >> (8 * i));
}

typedef struct field {
    const char *p;
    size_t n;
} field_t;

/* Split on `sep` (exactly one byte between fields), or on runs of blanks
 * when sep is ' '.  Returns the number of fields (at most max; more fields
 * than max gives max + 1). */
static size_t split(const char *s, size_t n, char sep, field_t *f, size_t max)
{
    size_t k = 0, i = 0;
    if (sep == ' ') {
        for (;;) {
            while (i < n && is_blank(s[i]))
                i++;
            if (i == n)
                return k;
            size_t st = i;
            while (i < n && !is_blank(s[i]))
                i++;
            if (k == max)
                return max + 1;
            f[k].p = s + st;
            f[k].n = i - st;
            k++;
        }
    }
    size_t st = 0;
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == sep) {
            if (k == max)
                return max + 1;
            f[k].p = s + st;
            f[k].n = i - st;
            k++;
            st = i + 1;
        }
    }
    return k;
}

static int num_field(const field_t *fl, const char *what, uint64_t *v,
                     char *err, size_t errlen)
{
    if (parse_u64(fl->p, fl->n, v) == 0)
        return 0;
    char ex[200];
    excerpt(ex, sizeof ex, fl->p, fl->n);
    seterr(err, errlen, "%s is not an unsigned decimal number: \"%s\"", what, ex);
    return -1;
}

/* ---- line decoders ------------------------------------------------------ */

int rcache__trace_parse_line(rcache__trace_format_t f, const char *line,
                             size_t len, uint64_t lineno,
                             rcache__trace_req_t *out, char *err, size_t errlen)
{
    /* Trim blanks (and a '\r' from CRLF files) at both ends. */
    while (len > 0 && is_blank(line[len - 1]))
        len--;
    while (len > 0 && is_blank(line[0])) {
        line++;
        len--;
    }
    if (len == 0)
        return 0;
    memset(out, 0, offsetof(rcache__trace_req_t, key));

    field_t fl[9];
    char ex[200];
    uint64_t v;
    switch (f) {
    case RCACHE__TF_LIRS_TXT:
        if (len == 1 && line[0] == '*')
            return 0;
        /* fall through */
    case RCACHE__TF_PLAIN_TXT:
        if (parse_u64(line, len, &v) != 0) {
            excerpt(ex, sizeof ex, line, len);
            seterr(err, errlen, "expected one unsigned decimal key per line, got \"%s\"", ex);
            return -1;
        }
        set_id(out, v);
        return 1;
    case RCACHE__TF_LCS_CSV: {
        if (lineno == 1 && (line[0] < '0' || line[0] > '9'))
            return 0; /* header: version,time,op,size,lbn */
        size_t k = split(line, len, ',', fl, 5);
        if (k != 5) {
            excerpt(ex, sizeof ex, line, len);
            seterr(err, errlen, "expected 5 comma-separated fields (version,time,op,size,lbn), got %s%zu: \"%s\"",
                   k > 5 ? "more than " : "", k > 5 ? (size_t)5 : k, ex);
            return -1;
        }
        uint64_t size;
        if (num_field(&fl[0], "version", &v, err, errlen) ||
            num_field(&fl[1], "time", &v, err, errlen))
            return -1;
        if (fl[2].n == 0) {
            seterr(err, errlen, "empty op field");
            return -1;
        }
        if (num_field(&fl[3], "size", &size, err, errlen) ||
            num_field(&fl[4], "lbn", &v, err, errlen))
            return -1;
        set_id(out, v);
        out->size = size;
        out->has_size = 1;
        return 1;
    }
    case RCACHE__TF_ADAPTSIZE_TXT: {
        size_t k = split(line, len, ' ', fl, 3);
        if (k != 3) {
            excerpt(ex, sizeof ex, line, len);
            seterr(err, errlen, "expected 3 fields (time id size), got \"%s\"", ex);
            return -1;
        }
        uint64_t size;
        if (num_field(&fl[0], "time", &v, err, errlen) ||
            num_field(&fl[2], "size", &size, err, errlen) ||
            num_field(&fl[1], "id", &v, err, errlen))
            return -1;
        set_id(out, v);
        out->size = size;
        out->has_size = 1;
        return 1;
    }
    case RCACHE__TF_TENCENT_PHOTO: {
        size_t k = split(line, len, ' ', fl, 8);
        if (k < 5) {
            excerpt(ex, sizeof ex, line, len);
            seterr(err, errlen, "expected at least 5 fields (timestamp photo_id format size_class returned_bytes ...), got \"%s\"", ex);
            return -1;
        }
        uint64_t size;
        if (num_field(&fl[0], "timestamp", &v, err, errlen) ||
            num_field(&fl[4], "returned_bytes", &size, err, errlen))
            return -1;
        size_t klen = fl[1].n + 1 + fl[2].n + 1 + fl[3].n;
        if (klen > RCACHE__TRACE_MAX_KEY) {
            seterr(err, errlen, "key longer than %d bytes", RCACHE__TRACE_MAX_KEY);
            return -1;
        }
        unsigned char *kp = out->key;
        memcpy(kp, fl[1].p, fl[1].n);
        kp += fl[1].n;
        *kp++ = ':';
        memcpy(kp, fl[2].p, fl[2].n);
        kp += fl[2].n;
        *kp++ = ':';
        memcpy(kp, fl[3].p, fl[3].n);
        out->key_len = klen;
        out->is_string = 1;
        out->size = size;
        out->has_size = 1;
        return 1;
    }
    default:
        seterr(err, errlen, "format %s is not a text format", rcache__trace_format_name(f));
        return -1;
    }
}

/* ---- record decoders ----------------------------------------------------- */

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int rcache__trace_parse_record(rcache__trace_format_t f, const unsigned char *rec,
                               rcache__trace_req_t *out, char *err, size_t errlen)
{
    memset(out, 0, offsetof(rcache__trace_req_t, key));
    switch (f) {
    case RCACHE__TF_ORACLE_GENERAL: /* <IQIq: time, obj_id, obj_size, next */
        set_id(out, le(rec + 4, 8));
        out->size = le(rec + 12, 4);
        out->has_size = 1;
        return 1;
    case RCACHE__TF_BE_INT32:
        set_id(out, be(rec, 4));
        return 1;
    case RCACHE__TF_BE_INT64:
        set_id(out, be(rec, 8));
        return 1;
    default:
        seterr(err, errlen, "format %s is not a binary format", rcache__trace_format_name(f));
        return -1;
    }
}
