/*
 * trace_count.c - counts a trace's requests, unique keys and bytes of
 * unique objects in one streaming pass (trace.c + keyset.c).
 */
#include "trace_count.h"

#include <string.h>

#include "keyset.h"

int rcache__trace_count(const char *path, rcache__trace_format_t fmt,
                        rcache__zkind_t zkind, rcache__trace_counts_t *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    rcache__trace_t *t = rcache__trace_open(path, fmt, zkind, err, errlen);
    if (!t)
        return -1;
    rcache__keyset_t *ks = rcache__keyset_new();
    if (!ks) {
        snprintf(err, errlen, "%s: out of memory", path);
        rcache__trace_close(t);
        return -1;
    }
    rcache__trace_req_t rq;
    int r, rc = 0;
    while ((r = rcache__trace_next(t, &rq)) == 1) {
        out->requests++;
        if (rq.has_size && rq.size > out->max_size)
            out->max_size = rq.size;
        if (rcache__keyset_add(ks, rq.key, rq.key_len, rq.has_size ? rq.size : 0) < 0) {
            snprintf(err, errlen, "%s: out of memory counting keys", path);
            rc = -1;
            break;
        }
    }
    if (r < 0) {
        snprintf(err, errlen, "%s", rcache__trace_error(t));
        rc = -1;
    }
    out->unique = rcache__keyset_count(ks);
    out->format = rcache__trace_format(t);
    out->has_size = rcache__trace_format_has_size(out->format);
    out->unique_bytes = out->has_size ? rcache__keyset_size_sum(ks) : 0;
    rcache__keyset_free(ks);
    rcache__trace_close(t);
    return rc;
}
