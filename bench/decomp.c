/*
 * decomp.c - streaming decompression for trace files.
 *
 * One reader over zlib (gzip, several members allowed), liblzma (xz, with
 * concatenated streams), libbz2 (several streams allowed) and libzstd
 * (several frames allowed), or a plain pass-through.  It exists so that the
 * trace decoders in trace.c work on plain bytes only, and so that a stream
 * that stops early or is corrupt becomes an error naming the file and the
 * byte offset in it: a truncated download must never look like a short
 * trace.
 */
#include "decomp.h"

#include <bzlib.h>
#include <errno.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#define RCACHE__Z_INBUF (1u << 16)

struct rcache__z {
    FILE *f;
    char *name;
    rcache__zkind_t kind;
    unsigned char in[RCACHE__Z_INBUF];
    size_t in_len, in_pos; /* unread input is in[in_pos, in_len) */
    uint64_t file_pos;     /* bytes read from the file so far */
    uint64_t file_size;
    int in_eof;            /* the file has no more bytes */
    int member_open;       /* a gzip member / bz2 stream / zstd frame is open */
    int done, failed;
    int inited;            /* decoder state needs freeing */
    union {
        z_stream gz;
        lzma_stream xz;
        bz_stream bz;
    } s;
    ZSTD_DStream *zs;
    char err[512];
};

const char *rcache__z_name(rcache__zkind_t k)
{
    switch (k) {
    case RCACHE__Z_GZIP: return "gzip";
    case RCACHE__Z_XZ: return "xz";
    case RCACHE__Z_BZIP2: return "bzip2";
    case RCACHE__Z_ZSTD: return "zstd";
    case RCACHE__Z_NONE: return "none";
    default: return "detect";
    }
}

rcache__zkind_t rcache__z_sniff(const unsigned char *p, size_t n)
{
    static const unsigned char xz[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
    static const unsigned char zst[4] = {0x28, 0xB5, 0x2F, 0xFD};
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return RCACHE__Z_GZIP;
    if (n >= 6 && memcmp(p, xz, 6) == 0)
        return RCACHE__Z_XZ;
    if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' &&
        p[3] <= '9')
        return RCACHE__Z_BZIP2;
    if (n >= 4 && memcmp(p, zst, 4) == 0)
        return RCACHE__Z_ZSTD;
    return RCACHE__Z_NONE;
}

static void zfail(rcache__z_t *z, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(z->err, sizeof z->err, "%s: %s", z->name, msg);
    z->failed = 1;
}

/* Offset in the file of the first compressed byte not yet consumed. */
static uint64_t consumed(const rcache__z_t *z)
{
    return z->file_pos - (uint64_t)(z->in_len - z->in_pos);
}

static void refill(rcache__z_t *z)
{
    if (z->in_pos < z->in_len || z->in_eof)
        return;
    size_t n = fread(z->in, 1, sizeof z->in, z->f);
    if (n == 0) {
        if (ferror(z->f))
            zfail(z, "read error at byte offset %llu: %s",
                  (unsigned long long)z->file_pos, strerror(errno));
        z->in_eof = 1;
    }
    z->in_pos = 0;
    z->in_len = n;
    z->file_pos += n;
}

static int decoder_init(rcache__z_t *z)
{
    memset(&z->s, 0, sizeof z->s);
    switch (z->kind) {
    case RCACHE__Z_GZIP:
        if (inflateInit2(&z->s.gz, 15 + 16) != Z_OK)
            return -1;
        break;
    case RCACHE__Z_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;
        z->s.xz = init;
        if (lzma_stream_decoder(&z->s.xz, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
            return -1;
        break;
    }
    case RCACHE__Z_BZIP2:
        if (BZ2_bzDecompressInit(&z->s.bz, 0, 0) != BZ_OK)
            return -1;
        break;
    case RCACHE__Z_ZSTD:
        z->zs = ZSTD_createDStream();
        if (!z->zs || ZSTD_isError(ZSTD_initDStream(z->zs)))
            return -1;
        break;
    default:
        break;
    }
    z->inited = 1;
    return 0;
}

static void decoder_end(rcache__z_t *z)
{
    if (!z->inited)
        return;
    switch (z->kind) {
    case RCACHE__Z_GZIP: inflateEnd(&z->s.gz); break;
    case RCACHE__Z_XZ: lzma_end(&z->s.xz); break;
    case RCACHE__Z_BZIP2: BZ2_bzDecompressEnd(&z->s.bz); break;
    case RCACHE__Z_ZSTD: ZSTD_freeDStream(z->zs); z->zs = NULL; break;
    default: break;
    }
    z->inited = 0;
}

rcache__z_t *rcache__z_open(FILE *f, const char *name, rcache__zkind_t kind,
                            char *err, size_t errlen)
{
    rcache__z_t *z = calloc(1, sizeof *z);
    if (!z || !(z->name = strdup(name ? name : "(trace)"))) {
        free(z);
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", name ? name : "(trace)");
        return NULL;
    }
    z->f = f;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        z->file_size = (uint64_t)st.st_size;
    refill(z);
    if (z->failed) {
        snprintf(err, errlen, "%s", z->err);
        rcache__z_close(z);
        return NULL;
    }
    z->kind = kind == RCACHE__Z_DETECT ? rcache__z_sniff(z->in, z->in_len) : kind;
    if (decoder_init(z) != 0) {
        snprintf(err, errlen, "%s: cannot start the %s decoder", z->name,
                 rcache__z_name(z->kind));
        rcache__z_close(z);
        return NULL;
    }
    z->member_open = 1; /* a compressed file holds at least one member */
    return z;
}

/* One decoder step into out[0, cap).  Sets *in_used and returns the bytes
 * produced, or -1 after zfail().  Clears member_open at the end of a
 * member; sets done when the data is over. */
static ssize_t step(rcache__z_t *z, unsigned char *out, size_t cap)
{
    unsigned char *in = z->in + z->in_pos;
    size_t avail = z->in_len - z->in_pos;
    size_t used = 0, made = 0;

    switch (z->kind) {
    case RCACHE__Z_NONE:
        made = avail < cap ? avail : cap;
        memcpy(out, in, made);
        used = made;
        if (avail == 0 && z->in_eof)
            z->member_open = 0;
        break;
    case RCACHE__Z_GZIP: {
        z_stream *s = &z->s.gz;
        if (!z->member_open) { /* another member follows */
            if (inflateReset(s) != Z_OK) {
                zfail(z, "gzip decoder reset failed");
                return -1;
            }
            z->member_open = 1;
        }
        s->next_in = in;
        s->avail_in = (uInt)avail;
        s->next_out = out;
        s->avail_out = (uInt)cap;
        int r = inflate(s, Z_NO_FLUSH);
        used = avail - s->avail_in;
        made = cap - s->avail_out;
        if (r == Z_STREAM_END) {
            z->member_open = 0;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            z->in_pos += used;
            zfail(z, "corrupt gzip data near byte offset %llu of the file (%s)",
                  (unsigned long long)consumed(z), s->msg ? s->msg : "inflate error");
            return -1;
        }
        break;
    }
    case RCACHE__Z_XZ: {
        lzma_stream *s = &z->s.xz;
        s->next_in = in;
        s->avail_in = avail;
        s->next_out = out;
        s->avail_out = cap;
        lzma_ret r = lzma_code(s, z->in_eof ? LZMA_FINISH : LZMA_RUN);
        used = avail - s->avail_in;
        made = cap - s->avail_out;
        if (r == LZMA_STREAM_END) {
            z->member_open = 0;
        } else if (r == LZMA_BUF_ERROR && z->in_eof) {
            z->in_pos += used;
            zfail(z, "truncated xz stream: data ends at byte offset %llu of the file",
                  (unsigned long long)consumed(z));
            return -1;
        } else if (r != LZMA_OK && r != LZMA_BUF_ERROR) {
            z->in_pos += used;
            zfail(z, "corrupt xz data near byte offset %llu of the file (lzma error %d)",
                  (unsigned long long)consumed(z), (int)r);
            return -1;
        }
        break;
    }
    case RCACHE__Z_BZIP2: {
        bz_stream *s = &z->s.bz;
        if (!z->member_open) {
            BZ2_bzDecompressEnd(s);
            memset(s, 0, sizeof *s);
            if (BZ2_bzDecompressInit(s, 0, 0) != BZ_OK) {
                z->inited = 0;
                zfail(z, "bzip2 decoder restart failed");
                return -1;
            }
            z->member_open = 1;
        }
        s->next_in = (char *)in;
        s->avail_in = (unsigned)avail;
        s->next_out = (char *)out;
        s->avail_out = (unsigned)cap;
        int r = BZ2_bzDecompress(s);
        used = avail - s->avail_in;
        made = cap - s->avail_out;
        if (r == BZ_STREAM_END) {
            z->member_open = 0;
        } else if (r != BZ_OK) {
            z->in_pos += used;
            zfail(z, "corrupt bzip2 data near byte offset %llu of the file (bzip2 error %d)",
                  (unsigned long long)consumed(z), r);
            return -1;
        }
        break;
    }
    case RCACHE__Z_ZSTD: {
        ZSTD_inBuffer ib = {in, avail, 0};
        ZSTD_outBuffer ob = {out, cap, 0};
        size_t r = ZSTD_decompressStream(z->zs, &ob, &ib);
        used = ib.pos;
        made = ob.pos;
        if (ZSTD_isError(r)) {
            z->in_pos += used;
            zfail(z, "corrupt zstd data near byte offset %llu of the file (%s)",
                  (unsigned long long)consumed(z), ZSTD_getErrorName(r));
            return -1;
        }
        z->member_open = r != 0;
        break;
    }
    default:
        zfail(z, "unknown compression");
        return -1;
    }
    z->in_pos += used;
    if (used == 0 && made == 0 && z->in_eof && z->in_pos == z->in_len) {
        if (z->member_open) {
            zfail(z, "truncated %s stream: data ends at byte offset %llu of the file",
                  rcache__z_name(z->kind), (unsigned long long)consumed(z));
            return -1;
        }
        z->done = 1;
    }
    return (ssize_t)made;
}

ssize_t rcache__z_read(rcache__z_t *z, void *buf, size_t cap)
{
    if (z->failed)
        return -1;
    if (cap == 0)
        return 0;
    for (;;) {
        if (z->done)
            return 0;
        refill(z);
        if (z->failed)
            return -1;
        /* After the end of a member, data that follows starts a new one
         * (gzip, bzip2); at the end of the file we are done. */
        if (!z->member_open && z->in_pos == z->in_len && z->in_eof) {
            z->done = 1;
            return 0;
        }
        ssize_t n = step(z, buf, cap);
        if (n != 0)
            return n;
    }
}

const char *rcache__z_error(const rcache__z_t *z) { return z->err; }
uint64_t rcache__z_in_pos(const rcache__z_t *z) { return consumed(z); }
uint64_t rcache__z_in_size(const rcache__z_t *z) { return z->file_size; }
rcache__zkind_t rcache__z_kind(const rcache__z_t *z) { return z->kind; }

void rcache__z_close(rcache__z_t *z)
{
    if (!z)
        return;
    decoder_end(z);
    if (z->f)
        fclose(z->f);
    free(z->name);
    free(z);
}
