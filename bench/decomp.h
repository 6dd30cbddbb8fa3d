/*
 * decomp.h - streaming decompression of trace files (gzip, xz, bzip2,
 * zstd or none) through zlib, liblzma, libbz2 and libzstd.
 *
 * The trace parsers never see compressed bytes: they read plain bytes from
 * an rcache__z_t.  A stream that ends early or is corrupt is an error that
 * names the file and the byte offset in the file, never a short read.
 */
#ifndef RCACHE_BENCH_DECOMP_H
#define RCACHE_BENCH_DECOMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef enum rcache__zkind {
    RCACHE__Z_DETECT = 0, /* choose from the first bytes (magic numbers) */
    RCACHE__Z_NONE,
    RCACHE__Z_GZIP,
    RCACHE__Z_XZ,
    RCACHE__Z_BZIP2,
    RCACHE__Z_ZSTD
} rcache__zkind_t;

typedef struct rcache__z rcache__z_t;

/* The compression a buffer starts with (RCACHE__Z_NONE if none known). */
rcache__zkind_t rcache__z_sniff(const unsigned char *p, size_t n);

/* Name of a kind: "none", "gzip", "xz", "bzip2", "zstd". */
const char *rcache__z_name(rcache__zkind_t k);

/*
 * Wrap an open FILE (the stream takes ownership and closes it).  `name` is
 * used in error messages.  Returns NULL with a message in err on failure
 * (f is then closed too).
 */
rcache__z_t *rcache__z_open(FILE *f, const char *name, rcache__zkind_t kind,
                            char *err, size_t errlen);

/* Read up to cap plain bytes: > 0 bytes read, 0 at the clean end of the
 * data, -1 on error (rcache__z_error() says what and where). */
ssize_t rcache__z_read(rcache__z_t *z, void *buf, size_t cap);

/* The last error message ("" if none). */
const char *rcache__z_error(const rcache__z_t *z);

/* Compressed bytes consumed so far (for progress), and the file size
 * (0 if unknown). */
uint64_t rcache__z_in_pos(const rcache__z_t *z);
uint64_t rcache__z_in_size(const rcache__z_t *z);

rcache__zkind_t rcache__z_kind(const rcache__z_t *z);

void rcache__z_close(rcache__z_t *z);

#endif
