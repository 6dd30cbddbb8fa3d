/*
 * memo_files.c - rcache-memo-files: memoize a genuinely expensive
 * computation on real input.
 *
 * For every file named on the command line it computes the zlib level-9
 * compression of the whole file (a few ms to seconds per file) and keeps
 * the result summary (sizes, ratio, CRC-32 of the compressed stream, time)
 * in an rcache.  Several threads each walk the file list several times in
 * their own order, so the same file is asked for by many threads, often at
 * the same moment: the first request computes, concurrent ones wait for
 * that computation (single-flight), later ones are cache hits.  At the end
 * it prints how many computations ran, how many requests were served from
 * the cache or by single-flight, and the compute time that saved.
 *
 *   rcache-memo-files [-t threads] [-r rounds] [-l level] [-n] FILE...
 *     -t  threads (default 8)      -r  passes over the list per thread (3)
 *     -l  zlib level 1..9 (9)      -n  memoization off at this call site
 *                                      (RCACHE_MEMO_BYPASS): compute always
 *
 * The memoized function is compress_summary(): a plain-looking C function
 * whose body is one RCACHE_MEMOIZE() call keyed by (path, mtime, size,
 * level), so a changed file is recomputed and a different level is a
 * different result.  See docs/MEMOIZE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "rcache.h"

/* The result kept in the cache (an object entry; its charge is its size). */
typedef struct summary {
    uint64_t in_bytes;
    uint64_t out_bytes;
    uint32_t crc32; /* of the compressed stream */
    double compress_ms;
} summary_t;

/* What the compute callback needs: the arguments of the call. */
typedef struct compress_args {
    const char *path;
    int level;
} compress_args_t;

/* Errors of our own, below RCACHE_EUSER (passed through by the cache). */
#define EX_EIO (RCACHE_EUSER - 1)
#define EX_EZLIB (RCACHE_EUSER - 2)

static void summary_free(void *obj, void *ctx) {
    (void)ctx;
    free(obj);
}

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int read_file(const char *path, unsigned char **buf, size_t *len) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    size_t got = 0;
    if (fd < 0)
        return EX_EIO;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return EX_EIO;
    }
    *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!*buf) {
        close(fd);
        return RCACHE_ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return RCACHE_OK;
}

/* The expensive computation: the compute callback of rcache_memoize(). It
 * runs once per (path, mtime, size, level) however many threads ask. */
static int compute_compress(const void *key, size_t key_len,
                            rcache_memo_result_t *out, void *ctx) {
    const compress_args_t *a = ctx;
    unsigned char *in = NULL, *z;
    size_t in_len = 0;
    uLongf z_len;
    double t0 = mono_ms();
    summary_t *s;
    int rc;
    (void)key;
    (void)key_len;

    if ((rc = read_file(a->path, &in, &in_len)) != RCACHE_OK)
        return rc;
    z_len = compressBound((uLong)in_len);
    z = malloc(z_len);
    s = malloc(sizeof *s);
    if (!z || !s) {
        free(in);
        free(z);
        free(s);
        return RCACHE_ENOMEM;
    }
    if (compress2(z, &z_len, in, (uLong)in_len, a->level) != Z_OK) {
        free(in);
        free(z);
        free(s);
        return EX_EZLIB;
    }
    s->in_bytes = in_len;
    s->out_bytes = z_len;
    s->crc32 = (uint32_t)crc32(0L, z, (uInt)z_len);
    s->compress_ms = mono_ms() - t0;
    free(in);
    free(z);

    out->obj = s; /* the cache owns it now, and frees it with dtor */
    out->charge_bytes = sizeof *s;
    out->dtor = summary_free;
    return RCACHE_OK;
}

/* One switch per call site: RCACHE_MEMO_BYPASS in .flags turns
 * memoization off here only (-n). Errors are cached for 5 s. */
static rcache_memo_opts_t compress_site = {
    .ttl_ms = 10 * 60 * 1000, .wait_timeout_ms = -1, .error_ttl_ms = 5000,
    .flags = 0};

/*
 * The memoized function: reads like a plain call, and its arguments are
 * the key.  *out receives a copy of the summary.
 */
static int compress_summary(rcache_t *c, const char *path, int level,
                            summary_t *out) {
    compress_args_t args = {path, level};
    rcache_ref_t *ref = NULL;
    struct stat st;
    int rc;

    if (stat(path, &st) < 0)
        return EX_EIO;
    rc = RCACHE_MEMOIZE(c, &compress_site, &ref, compute_compress, &args,
                        "zlib-compress/v1", path, (long long)st.st_mtime,
                        (unsigned long long)st.st_size, level);
    if (rc != RCACHE_OK)
        return rc;
    *out = *(const summary_t *)rcache_ref_object(ref);
    rcache_release(ref);
    return RCACHE_OK;
}

/* ---- the driver ---------------------------------------------------------- */

typedef struct worker {
    pthread_t th;
    int id;
    rcache_t *c;
    char **files;
    int nfiles, rounds, level;
    unsigned long requests, failures;
} worker_t;

static void *worker_main(void *arg) {
    worker_t *w = arg;
    for (int r = 0; r < w->rounds; r++)
        for (int i = 0; i < w->nfiles; i++) {
            /* Each thread starts at a different file and half of them walk
             * backwards: overlapping, partly simultaneous requests. */
            int k = (w->id % 2) ? (i + w->id * 3) % w->nfiles
                                : (w->nfiles - 1 - i + w->id) % w->nfiles;
            summary_t s;
            w->requests++;
            if (compress_summary(w->c, w->files[k], w->level, &s) !=
                RCACHE_OK)
                w->failures++;
        }
    return NULL;
}

static void usage(void) {
    fprintf(stderr,
            "usage: rcache-memo-files [-t threads] [-r rounds] [-l level] "
            "[-n] FILE...\n");
    exit(2);
}

int main(int argc, char **argv) {
    int threads = 8, rounds = 3, level = 9, opt;
    rcache_config_t cfg;
    rcache_t *c = NULL;
    rcache_stats_t st;
    rcache_memo_stats_t ms;
    unsigned long requests = 0, failures = 0;
    double t0, wall;

    while ((opt = getopt(argc, argv, "t:r:l:nh")) != -1) {
        switch (opt) {
        case 't': threads = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'l': level = atoi(optarg); break;
        case 'n': compress_site.flags |= RCACHE_MEMO_BYPASS; break;
        default: usage();
        }
    }
    if (optind >= argc || threads < 1 || threads > 1024 || rounds < 1 ||
        level < 1 || level > 9)
        usage();

    rcache_config_init(&cfg);
    cfg.max_items = 100000;
    if (rcache_open(&cfg, &c) != RCACHE_OK) {
        fprintf(stderr, "rcache_open failed\n");
        return 1;
    }

    worker_t *w = calloc((size_t)threads, sizeof *w);
    if (!w)
        return 1;
    t0 = mono_ms();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.id = i, .c = c, .files = argv + optind,
                          .nfiles = argc - optind, .rounds = rounds,
                          .level = level};
        pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].th, NULL);
        requests += w[i].requests;
        failures += w[i].failures;
    }
    wall = mono_ms() - t0;

    /* A few results, from the cache (hits now). */
    uint64_t in_total = 0, out_total = 0;
    for (int i = optind; i < argc; i++) {
        summary_t s;
        if (compress_summary(c, argv[i], level, &s) != RCACHE_OK)
            continue;
        in_total += s.in_bytes;
        out_total += s.out_bytes;
        if (i - optind < 5)
            printf("  %-50s %10llu -> %10llu bytes (%.1f%%) crc %08x, %.1f ms\n",
                   argv[i], (unsigned long long)s.in_bytes,
                   (unsigned long long)s.out_bytes,
                   s.in_bytes ? 100.0 * (double)s.out_bytes / (double)s.in_bytes
                              : 0.0,
                   s.crc32, s.compress_ms);
    }
    if (argc - optind > 5)
        printf("  ... and %d more\n", argc - optind - 5);

    rcache_stats(c, &st);
    rcache_memo_stats(c, &ms);
    printf("\nfiles %d, threads %d, rounds %d, zlib level %d%s\n",
           argc - optind, threads, rounds, level,
           (compress_site.flags & RCACHE_MEMO_BYPASS) ? ", memoization OFF"
                                                      : "");
    printf("requests            %lu (%lu failed)\n", requests, failures);
    printf("computations run    %llu\n", (unsigned long long)st.computations);
    printf("served from cache   %llu (hits, incl. the summary pass)\n",
           (unsigned long long)st.hits);
    printf("singleflight dedup  %llu (waited for another thread's run)\n",
           (unsigned long long)st.singleflight_dedup);
    printf("compute time        %.3f s spent in callbacks\n",
           (double)ms.compute_ms_total / 1e3);
    printf("time saved          %.3f s by hits + %.3f s by single-flight\n",
           (double)st.compute_saved_ms / 1e3,
           (double)ms.dedup_saved_ms / 1e3);
    printf("compressed          %llu -> %llu bytes\n",
           (unsigned long long)in_total, (unsigned long long)out_total);
    printf("wall time           %.3f s\n", wall / 1e3);
    free(w);
    rcache_close(c);
    return 0;
}
