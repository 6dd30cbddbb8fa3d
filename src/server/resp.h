/*
 * resp.h - RESP2 request parser and reply encoders for rcached.
 *
 * The parser is pure (no I/O, no allocation beyond the argv array it is
 * given room for) and incremental: the connection appends what it reads to
 * its query buffer and calls rcache__resp_parse() on the unconsumed part.
 * A partial command is the normal state (RCACHE_RESP_NEED_MORE); the parser
 * keeps its progress in rcache__resp_parser_t (as offsets, so the caller may
 * move or grow its buffer between calls as long as the unconsumed bytes stay
 * the same and only grow at the end).
 *
 * Both request forms are accepted: multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
 * and inline ("GET k\r\n", split like Redis's sdssplitargs, with "..." and
 * '...' quoting and \xHH escapes in double quotes).
 *
 * Errors carry Redis's exact text (e.g. "Protocol error: invalid bulk
 * length"); after an error the connection must be closed, as Redis does.
 */
#ifndef RCACHE_RESP_H
#define RCACHE_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits (Redis's defaults where Redis has one). */
typedef struct rcache__resp_limits {
    size_t max_args;       /* most arguments in one command (default 1M) */
    size_t max_bulk_len;   /* longest bulk argument (default 512 MiB) */
    size_t max_inline_len; /* longest inline line (default 64 KiB) */
} rcache__resp_limits_t;

/* One argument: a view into the caller's buffer. */
typedef struct rcache__resp_arg {
    const char *ptr;
    size_t len;
} rcache__resp_arg_t;

enum {
    RCACHE_RESP_OK = 0,         /* a command is complete */
    RCACHE_RESP_NEED_MORE = 1,  /* incomplete: read more, call again */
    RCACHE_RESP_ERROR = -1      /* protocol error: reply error, close */
};

typedef struct rcache__resp_parser {
    rcache__resp_limits_t lim;
    /* progress through the current command (internal) */
    int state;
    int inline_mode;
    size_t pos;          /* bytes of the current command already parsed */
    long long nargs;     /* multibulk count announced */
    long long bulk_len;  /* length of the bulk being read, -1 none */
    size_t argc;         /* arguments complete so far */
    size_t cap;          /* capacity of argv (set by init) */
    size_t *arg_off;     /* offsets of completed args, from command start */
    size_t *arg_len;     /* their lengths */
    char *inline_buf;    /* unescaped inline args (owned), or NULL */
    size_t inline_cap;
    size_t scan;         /* bytes of the current line already searched, so
                            a line fed byte by byte is scanned only once */
    const char *error;   /* static Redis error text after RCACHE_RESP_ERROR */
} rcache__resp_parser_t;

/* Defaults: 1M args, 512 MiB bulk, 64 KiB inline. */
void rcache__resp_limits_default(rcache__resp_limits_t *lim);

/* Initialise; lim NULL = defaults. Returns 0, or -1 on out-of-memory. */
int rcache__resp_parser_init(rcache__resp_parser_t *p,
                             const rcache__resp_limits_t *lim);
void rcache__resp_parser_free(rcache__resp_parser_t *p);

/*
 * Parse the next command from buf[0..len) (the unconsumed bytes).
 * On RCACHE_RESP_OK: *argc and argv[0..argc) describe the command (views
 * into buf, valid until buf changes; for an inline command they point into
 * the parser's own unescape buffer instead, valid until the next call or
 * rcache__resp_parser_free), *consumed is its length in bytes;
 * the parser is reset for the next command. argv is grown by the parser as
 * needed (*argv may be reallocated; start with NULL / *argv_cap 0; free()
 * it when done). An empty inline line yields argc 0 (callers skip it).
 * On RCACHE_RESP_NEED_MORE: *consumed is 0; call again with more bytes.
 * On RCACHE_RESP_ERROR: p->error holds the Redis error text (without the
 * leading "ERR "), e.g. "Protocol error: invalid multibulk length".
 */
int rcache__resp_parse(rcache__resp_parser_t *p, const char *buf, size_t len,
                       rcache__resp_arg_t **argv, size_t *argv_cap,
                       size_t *argc, size_t *consumed);

/* Bytes, from the start of the command in progress, that must be buffered
 * before its current bulk argument is complete; 0 when not known (not in
 * a bulk payload). Lets the caller size its buffer to what the command
 * still lacks instead of doubling past it. */
size_t rcache__resp_need(const rcache__resp_parser_t *p);

/* Reply encoders: each writes into out (which must hold at least
 * RCACHE_RESP_HDR_MAX bytes) and returns the bytes written. */
#define RCACHE_RESP_HDR_MAX 32
size_t rcache__resp_fmt_int(char *out, long long v);           /* ":v\r\n" */
size_t rcache__resp_fmt_bulk_hdr(char *out, size_t len);       /* "$len\r\n" */
size_t rcache__resp_fmt_array_hdr(char *out, long long n);     /* "*n\r\n" */
/* Constant replies. */
#define RCACHE_RESP_OK_REPLY "+OK\r\n"
#define RCACHE_RESP_NULL_BULK "$-1\r\n"
#define RCACHE_RESP_NULL_ARRAY "*-1\r\n"

#endif /* RCACHE_RESP_H */
