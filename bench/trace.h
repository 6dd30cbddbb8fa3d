/*
 * trace.h - cache-trace readers for rcache-bench.
 *
 * Two layers:
 *  - pure decoders: one text line or one fixed-size binary record in, one
 *    request out (no I/O, no allocation; fuzzed by tests/fuzz/fuzz_trace.c);
 *  - a reader that opens a file, undoes its compression (decomp.h), splits
 *    the plain bytes into lines or records and runs the decoder on each.
 * The formats and their reference counts are described in
 * ../shared/traces/README.md.
 */
#ifndef RCACHE_BENCH_TRACE_H
#define RCACHE_BENCH_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decomp.h"

typedef enum rcache__trace_format {
    RCACHE__TF_AUTO = 0,      /* from the file name */
    RCACHE__TF_ORACLE_GENERAL, /* libCacheSim oracleGeneral, 24-byte LE records */
    RCACHE__TF_LCS_CSV,       /* version,time,op,size,lbn */
    RCACHE__TF_PLAIN_TXT,     /* one decimal key per line */
    RCACHE__TF_LIRS_TXT,      /* one decimal key per line, '*' lines skipped */
    RCACHE__TF_BE_INT32,      /* cache2k: big-endian int32 stream */
    RCACHE__TF_BE_INT64,      /* corda: big-endian int64 stream */
    RCACHE__TF_ADAPTSIZE_TXT, /* "time id size" */
    RCACHE__TF_TENCENT_PHOTO, /* SNIA Tencent photo: string keys */
    RCACHE__TF_COUNT
} rcache__trace_format_t;

/* Longest key a decoder produces (string keys longer are an error). */
#define RCACHE__TRACE_MAX_KEY 256
/* Longest text line accepted. */
#define RCACHE__TRACE_MAX_LINE 65536

/* One request. The key bytes are what the cache is asked for: the 8-byte
 * little-endian id for numeric keys, the string itself for string keys. */
typedef struct rcache__trace_req {
    uint64_t id;     /* numeric key; 0 for string keys */
    uint64_t size;   /* object size in bytes when has_size */
    int has_size;
    int is_string;   /* the key is a string (key holds it) */
    size_t key_len;
    unsigned char key[RCACHE__TRACE_MAX_KEY];
} rcache__trace_req_t;

/* Format tag <-> enum ("oracleGeneral", "lcs-csv", "plain-txt", "lirs-txt",
 * "be-int32", "be-int64", "adaptsize-txt", "tencent-photo-txt").
 * parse returns RCACHE__TF_AUTO for an unknown tag ("auto" too). */
const char *rcache__trace_format_name(rcache__trace_format_t f);
rcache__trace_format_t rcache__trace_format_parse(const char *tag);

/* Format guessed from a path (its folder and file names); RCACHE__TF_AUTO
 * when no rule matches. */
rcache__trace_format_t rcache__trace_format_from_name(const char *path);

/* Compression from a path's extension (.gz .xz .bz2 .zst), else
 * RCACHE__Z_DETECT (the reader then looks at the first bytes). */
rcache__zkind_t rcache__trace_zkind_from_name(const char *path);

/* Does the format carry object sizes? */
int rcache__trace_format_has_size(rcache__trace_format_t f);

/* Record size in bytes for binary formats, 0 for text formats. */
size_t rcache__trace_record_size(rcache__trace_format_t f);

/*
 * Decode one text line (without its '\n'; a trailing '\r' is allowed).
 * `lineno` is 1-based (lcs-csv skips its header on line 1).
 * Returns 1 with *out filled, 0 for a line that holds no request (blank,
 * LIRS '*', CSV header), -1 with a reason in err (no file or offset; the
 * reader adds them).
 */
int rcache__trace_parse_line(rcache__trace_format_t f, const char *line,
                             size_t len, uint64_t lineno,
                             rcache__trace_req_t *out, char *err, size_t errlen);

/* Decode one binary record of rcache__trace_record_size(f) bytes.
 * Returns 1, or -1 with a reason in err. */
int rcache__trace_parse_record(rcache__trace_format_t f, const unsigned char *rec,
                               rcache__trace_req_t *out, char *err, size_t errlen);

/* ---- reader ---------------------------------------------------------- */

typedef struct rcache__trace rcache__trace_t;

/* Open a file. fmt RCACHE__TF_AUTO: from the name; zkind RCACHE__Z_DETECT:
 * from the extension, then the first bytes. NULL and a message on error. */
rcache__trace_t *rcache__trace_open(const char *path, rcache__trace_format_t fmt,
                                    rcache__zkind_t zkind, char *err, size_t errlen);

/* Same over an open FILE (taken over and closed); `name` is used in
 * messages and, with fmt AUTO, to pick the format. */
rcache__trace_t *rcache__trace_open_file(FILE *f, const char *name,
                                         rcache__trace_format_t fmt,
                                         rcache__zkind_t zkind, char *err,
                                         size_t errlen);

/* Next request: 1 = *req filled, 0 = end of the trace, -1 = error
 * (rcache__trace_error() names the file and the byte offset). */
int rcache__trace_next(rcache__trace_t *t, rcache__trace_req_t *req);

const char *rcache__trace_error(const rcache__trace_t *t);
rcache__trace_format_t rcache__trace_format(const rcache__trace_t *t);
/* Progress: compressed bytes consumed and the file size (0 if unknown). */
uint64_t rcache__trace_in_pos(const rcache__trace_t *t);
uint64_t rcache__trace_in_size(const rcache__trace_t *t);
void rcache__trace_close(rcache__trace_t *t);

#endif
