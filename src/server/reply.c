/*
 * reply.c - RESP2 and RESP3 reply encoding into a client's output evbuffer.
 *
 * A client speaks RESP2 until HELLO 3 (c->resp3). Only the replies whose
 * form differs between the two protocols look at it (nulls, maps, sets,
 * push frames, doubles, booleans, verbatim strings): one branch each, and
 * the RESP2 bytes are those Redis 7.0 sends a RESP2 client.
 *
 * Replies are only appended here; net.c writes the whole batch once the
 * read event's commands have run, so a pipelined batch costs one write.
 * Small bulk replies are assembled on the stack and appended in one call;
 * large values from the cache are appended by reference (no copy) and the
 * cache entry is released when libevent has sent them, or when the client
 * goes away first. The library keeps a referenced entry's bytes valid
 * after it is deleted, overwritten or evicted, so the reply is always the
 * value as it was when the command ran. Bytes held that way are counted
 * in the server's out_ref_bytes (INFO mem_zero_copy_refs) and, being part
 * of the output evbuffer's length, in the client's output buffer limit
 * and CLIENT LIST omem.
 */
#include "command.h"
#include "rcache_tier.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values at least this large are sent by reference instead of copied. */
#define ZERO_COPY_MIN 16384

void rcache__reply_raw(rcache__client_t *c, const char *s, size_t len) {
    if (c->flags & RCACHE__CLIENT_CLOSING)
        return;
    evbuffer_add(c->out, s, len);
}

void rcache__reply_ok(rcache__client_t *c) {
    rcache__reply_raw(c, "+OK\r\n", 5);
}

void rcache__reply_status(rcache__client_t *c, const char *s) {
    char buf[256];
    size_t n = strlen(s);
    if (n + 3 <= sizeof buf) {
        buf[0] = '+';
        memcpy(buf + 1, s, n + 1);
        buf[1 + n] = '\r';
        buf[2 + n] = '\n';
        rcache__reply_raw(c, buf, n + 3);
        return;
    }
    rcache__reply_raw(c, "+", 1);
    rcache__reply_raw(c, s, n);
    rcache__reply_raw(c, "\r\n", 2);
}

void rcache__reply_error(rcache__client_t *c, const char *msg) {
    char buf[1024];
    size_t o = 0;
    buf[o++] = '-';
    /* An error line must not contain CR or LF (Redis replaces them). */
    for (const char *p = msg; *p && o + 2 < sizeof buf; p++)
        buf[o++] = (*p == '\r' || *p == '\n') ? ' ' : *p;
    buf[o++] = '\r';
    buf[o++] = '\n';
    rcache__reply_raw(c, buf, o);
}

void rcache__reply_errorf(rcache__client_t *c, const char *fmt, ...) {
    char msg[1000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rcache__reply_error(c, msg);
}

void rcache__reply_int(rcache__client_t *c, long long v) {
    char buf[RCACHE_RESP_HDR_MAX];
    rcache__reply_raw(c, buf, rcache__resp_fmt_int(buf, v));
}

void rcache__reply_bulk(rcache__client_t *c, const void *p, size_t len) {
    char buf[512];
    if (len + RCACHE_RESP_HDR_MAX + 2 <= sizeof buf) {
        size_t n = rcache__resp_fmt_bulk_hdr(buf, len);
        if (len && p)
            memcpy(buf + n, p, len);
        buf[n + len] = '\r';
        buf[n + len + 1] = '\n';
        rcache__reply_raw(c, buf, n + len + 2);
        return;
    }
    size_t n = rcache__resp_fmt_bulk_hdr(buf, len);
    rcache__reply_raw(c, buf, n);
    rcache__reply_raw(c, p, len);
    rcache__reply_raw(c, "\r\n", 2);
}

void rcache__reply_bulk_cstr(rcache__client_t *c, const char *s) {
    rcache__reply_bulk(c, s, strlen(s));
}

void rcache__reply_bulk_ll(rcache__client_t *c, long long v) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    rcache__reply_bulk(c, buf, (size_t)n);
}

void rcache__reply_null(rcache__client_t *c) {
    if (c->resp3)
        rcache__reply_raw(c, "_\r\n", 3);
    else
        rcache__reply_raw(c, "$-1\r\n", 5);
}

void rcache__reply_null_array(rcache__client_t *c) {
    if (c->resp3)
        rcache__reply_raw(c, "_\r\n", 3);
    else
        rcache__reply_raw(c, "*-1\r\n", 5);
}

/* "<t><n>\r\n" */
static void reply_hdr(rcache__client_t *c, char t, long long n) {
    char buf[RCACHE_RESP_HDR_MAX];
    size_t len = rcache__resp_fmt_array_hdr(buf, n);
    buf[0] = t;
    rcache__reply_raw(c, buf, len);
}

void rcache__reply_map(rcache__client_t *c, long long n) {
    if (c->resp3)
        reply_hdr(c, '%', n);
    else
        reply_hdr(c, '*', 2 * n);
}

void rcache__reply_set(rcache__client_t *c, long long n) {
    reply_hdr(c, c->resp3 ? '~' : '*', n);
}

void rcache__reply_push(rcache__client_t *c, long long n) {
    reply_hdr(c, c->resp3 ? '>' : '*', n);
}

void rcache__reply_double(rcache__client_t *c, double d) {
    char buf[64];
    int n;
    if (isinf(d))
        n = snprintf(buf, sizeof buf, "%s", d > 0 ? "inf" : "-inf");
    else
        n = snprintf(buf, sizeof buf, "%.17g", d);
    if (!c->resp3) {
        rcache__reply_bulk(c, buf, (size_t)n);
        return;
    }
    char line[72];
    int l = snprintf(line, sizeof line, ",%s\r\n", buf);
    rcache__reply_raw(c, line, (size_t)l);
}

void rcache__reply_bool(rcache__client_t *c, int v) {
    if (c->resp3)
        rcache__reply_raw(c, v ? "#t\r\n" : "#f\r\n", 4);
    else
        rcache__reply_raw(c, v ? ":1\r\n" : ":0\r\n", 4);
}

void rcache__reply_bignum(rcache__client_t *c, const char *digits, size_t len) {
    if (!c->resp3) {
        rcache__reply_bulk(c, digits, len);
        return;
    }
    rcache__reply_raw(c, "(", 1);
    rcache__reply_raw(c, digits, len);
    rcache__reply_raw(c, "\r\n", 2);
}

void rcache__reply_verbatim(rcache__client_t *c, const char *fmt, const void *p, size_t len) {
    if (!c->resp3) {
        rcache__reply_bulk(c, p, len);
        return;
    }
    char buf[RCACHE_RESP_HDR_MAX + 4];
    size_t n = rcache__resp_fmt_bulk_hdr(buf, len + 4);
    buf[0] = '=';
    memcpy(buf + n, fmt, 3);
    buf[n + 3] = ':';
    rcache__reply_raw(c, buf, n + 4);
    rcache__reply_raw(c, p, len);
    rcache__reply_raw(c, "\r\n", 2);
}

void rcache__reply_array(rcache__client_t *c, long long n) {
    char buf[RCACHE_RESP_HDR_MAX];
    rcache__reply_raw(c, buf, rcache__resp_fmt_array_hdr(buf, n));
}

void rcache__reply_help(rcache__client_t *c, const char *const *lines, size_t n) {
    rcache__reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++)
        rcache__reply_status(c, lines[i]);
}

void rcache__reply_buffer(rcache__client_t *c, struct evbuffer *b) {
    evbuffer_add_buffer(c->out, b);
}

/* What a zero-copy chunk of an output buffer holds: the entry reference
 * and where its bytes are counted (INFO mem_zero_copy_refs). */
typedef struct out_ref {
    rcache_ref_t *ref;
    rcache__server_t *srv;
    size_t len;
} out_ref_t;

/* libevent calls this once the referenced bytes are written, or when the
 * output buffer is freed with them unsent (the client went away). */
static void release_ref(const void *data, size_t len, void *arg) {
    out_ref_t *h = arg;
    (void)data;
    (void)len;
    atomic_fetch_sub_explicit(&h->srv->out_ref_bytes, h->len, memory_order_relaxed);
    atomic_fetch_sub_explicit(&h->srv->out_refs, 1, memory_order_relaxed);
    rcache_release(h->ref);
    free(h);
}

/* The CRLF after a referenced value, itself by reference to static bytes.
 * evbuffer_add() after a reference chain would start a new chain sized
 * like the last one (libevent grows chains after the previous size): a
 * 32 MiB value would cost a 32 MiB allocation for two bytes. */
static void add_crlf_after_ref(rcache__client_t *c) {
    static const char crlf[2] = {'\r', '\n'};
    if (evbuffer_add_reference(c->out, crlf, 2, NULL, NULL) != 0 &&
        evbuffer_add(c->out, crlf, 2) != 0)
        c->flags |= RCACHE__CLIENT_CLOSING;
}

void rcache__reply_ref(rcache__client_t *c, rcache_ref_t *ref) {
    size_t len = 0;
    const void *v = rcache_ref_value(ref, &len);
    if (!v && len == 0 && rcache_ref_object(ref)) {
        /* Object entries are not visible to RESP clients. */
        rcache_release(ref);
        rcache__reply_error(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
        return;
    }
    if (len < ZERO_COPY_MIN || (c->flags & RCACHE__CLIENT_CLOSING)) {
        rcache__reply_bulk(c, v, len);
        rcache_release(ref);
        return;
    }
    char buf[RCACHE_RESP_HDR_MAX];
    size_t n = rcache__resp_fmt_bulk_hdr(buf, len);
    evbuffer_add(c->out, buf, n);
    /* The entry stays valid while referenced, even once deleted,
     * overwritten or evicted: the reply goes out from it unchanged. */
    out_ref_t *h = malloc(sizeof *h);
    if (h) {
        h->ref = ref;
        h->srv = c->srv;
        h->len = len;
        atomic_fetch_add_explicit(&c->srv->out_ref_bytes, len, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->srv->out_refs, 1, memory_order_relaxed);
    }
    if (!h || evbuffer_add_reference(c->out, v, len, release_ref, h) != 0) {
        /* out of memory: copy instead (the old way), or give up */
        if (evbuffer_add(c->out, v, len) != 0)
            c->flags |= RCACHE__CLIENT_CLOSING;
        if (h)
            release_ref(v, len, h);
        else
            rcache_release(ref);
    }
    add_crlf_after_ref(c);
}

void rcache__reply_syntax_error(rcache__client_t *c) {
    rcache__reply_error(c, "ERR syntax error");
}

void rcache__reply_not_int(rcache__client_t *c) {
    rcache__reply_error(c, "ERR value is not an integer or out of range");
}

void rcache__reply_unknown_subcommand(rcache__client_t *c, const rcache__arg_t *sub,
                                     const char *cmd) {
    rcache__reply_errorf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                         (int)(sub->len > 128 ? 128 : sub->len), sub->ptr, cmd);
}

void rcache__reply_arity(rcache__client_t *c, const char *cmd) {
    rcache__reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmd);
}

void rcache__reply_lib_error(rcache__client_t *c, int rc) {
    switch (rc) {
    case RCACHE_ENOMEM:
    case RCACHE_ETOOBIG:
        rcache__reply_error(c, "OOM command not allowed when used memory > 'maxmemory'.");
        break;
    case RCACHE_EWRONGTYPE:
        rcache__reply_error(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
        break;
    case RCACHE_EPATTERN:
        rcache__reply_error(c, "ERR invalid pattern");
        break;
    default:
        rcache__reply_errorf(c, "ERR %s", rcache_tier_strerror(rc));
        break;
    }
}
