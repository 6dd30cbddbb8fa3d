/*
 * trace.c - the trace reader: opens a file, undoes its compression through
 * decomp.c, cuts the plain bytes into lines or fixed-size records and hands
 * each to the pure decoders in trace_parse.c.
 *
 * It keeps track of the byte offset and line number of everything it hands
 * out, so that every error (bad line, partial record at the end, corrupt or
 * truncated compressed stream) names the file and where in it.
 */
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RCACHE__TRACE_BUF (1u << 20)

struct rcache__trace {
    rcache__z_t *z;
    char *name;
    rcache__trace_format_t fmt;
    size_t recsize;        /* 0 for text formats */
    unsigned char *buf;
    size_t pos, len;       /* unread bytes are buf[pos, len) */
    uint64_t base;         /* plain-data offset of buf[0] */
    uint64_t lineno;
    int eof, failed;
    char err[768];
};

static void tfail(rcache__trace_t *t, uint64_t off, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(t->err, sizeof t->err, "%s: byte offset %llu%s: %s", t->name,
             (unsigned long long)off,
             rcache__z_kind(t->z) == RCACHE__Z_NONE ? "" : " of the decompressed data",
             msg);
    t->failed = 1;
}

rcache__trace_t *rcache__trace_open_file(FILE *f, const char *name,
                                         rcache__trace_format_t fmt,
                                         rcache__zkind_t zkind, char *err,
                                         size_t errlen)
{
    if (fmt == RCACHE__TF_AUTO)
        fmt = rcache__trace_format_from_name(name);
    if (fmt <= RCACHE__TF_AUTO || fmt >= RCACHE__TF_COUNT) {
        snprintf(err, errlen, "%s: cannot tell the trace format from the name; "
                 "give one with --format", name);
        fclose(f);
        return NULL;
    }
    if (zkind == RCACHE__Z_DETECT)
        zkind = rcache__trace_zkind_from_name(name);
    rcache__trace_t *t = calloc(1, sizeof *t);
    if (!t || !(t->buf = malloc(RCACHE__TRACE_BUF)) || !(t->name = strdup(name))) {
        if (t)
            free(t->buf);
        free(t);
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    t->z = rcache__z_open(f, name, zkind, err, errlen);
    if (!t->z) {
        free(t->buf);
        free(t->name);
        free(t);
        return NULL;
    }
    t->fmt = fmt;
    t->recsize = rcache__trace_record_size(fmt);
    return t;
}

rcache__trace_t *rcache__trace_open(const char *path, rcache__trace_format_t fmt,
                                    rcache__zkind_t zkind, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    return rcache__trace_open_file(f, path, fmt, zkind, err, errlen);
}

/* Move the unread bytes to the front and read more plain data. */
static int fill(rcache__trace_t *t)
{
    if (t->pos > 0) {
        memmove(t->buf, t->buf + t->pos, t->len - t->pos);
        t->base += t->pos;
        t->len -= t->pos;
        t->pos = 0;
    }
    ssize_t n = rcache__z_read(t->z, t->buf + t->len, RCACHE__TRACE_BUF - t->len);
    if (n < 0) {
        snprintf(t->err, sizeof t->err, "%s", rcache__z_error(t->z));
        t->failed = 1;
        return -1;
    }
    if (n == 0)
        t->eof = 1;
    t->len += (size_t)n;
    return 0;
}

static int next_record(rcache__trace_t *t, rcache__trace_req_t *req)
{
    char why[300];
    for (;;) {
        size_t avail = t->len - t->pos;
        if (avail >= t->recsize) {
            uint64_t off = t->base + t->pos;
            const unsigned char *rec = t->buf + t->pos;
            t->pos += t->recsize;
            if (rcache__trace_parse_record(t->fmt, rec, req, why, sizeof why) == 1)
                return 1;
            tfail(t, off, "%s", why);
            return -1;
        }
        if (t->eof) {
            if (avail == 0)
                return 0;
            tfail(t, t->base + t->pos,
                  "partial %zu-byte %s record at the end (%zu bytes): truncated file?",
                  t->recsize, rcache__trace_format_name(t->fmt), avail);
            return -1;
        }
        if (fill(t) != 0)
            return -1;
    }
}

static int next_line(rcache__trace_t *t, rcache__trace_req_t *req)
{
    char why[400];
    for (;;) {
        const char *p = (const char *)t->buf + t->pos;
        size_t avail = t->len - t->pos;
        const char *nl = memchr(p, '\n', avail);
        size_t n;
        if (nl) {
            n = (size_t)(nl - p);
        } else if (t->eof) {
            if (avail == 0)
                return 0;
            n = avail; /* last line without a newline */
        } else if (avail >= RCACHE__TRACE_MAX_LINE) {
            tfail(t, t->base + t->pos, "line %llu is longer than %d bytes",
                  (unsigned long long)t->lineno + 1, RCACHE__TRACE_MAX_LINE);
            return -1;
        } else {
            if (fill(t) != 0)
                return -1;
            continue;
        }
        uint64_t off = t->base + t->pos;
        t->pos += nl ? n + 1 : n;
        t->lineno++;
        int r = rcache__trace_parse_line(t->fmt, p, n, t->lineno, req, why, sizeof why);
        if (r == 1)
            return 1;
        if (r < 0) {
            tfail(t, off, "line %llu: %s", (unsigned long long)t->lineno, why);
            return -1;
        }
    }
}

int rcache__trace_next(rcache__trace_t *t, rcache__trace_req_t *req)
{
    if (t->failed)
        return -1;
    return t->recsize ? next_record(t, req) : next_line(t, req);
}

const char *rcache__trace_error(const rcache__trace_t *t) { return t->err; }
rcache__trace_format_t rcache__trace_format(const rcache__trace_t *t) { return t->fmt; }
uint64_t rcache__trace_in_pos(const rcache__trace_t *t) { return rcache__z_in_pos(t->z); }
uint64_t rcache__trace_in_size(const rcache__trace_t *t) { return rcache__z_in_size(t->z); }

void rcache__trace_close(rcache__trace_t *t)
{
    if (!t)
        return;
    rcache__z_close(t->z);
    free(t->buf);
    free(t->name);
    free(t);
}
