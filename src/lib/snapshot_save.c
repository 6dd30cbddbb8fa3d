/*
 * snapshot_save.c - rcache_snapshot_save(): the cache to an RDB file.
 *
 * Walk: each shard's table is walked bucket by bucket, at most LIST_CHUNK
 * entries per hold of its lock (a 1M-key cache in 64 shards used to hold
 * each lock for a whole 16k-entry walk, milliseconds during which that
 * shard's clients waited: the BGSAVE p99 in BENCHMARKS.md), taking a
 * reference on each live entry (rcache__entry_ref), so the entries stay
 * readable after the lock is dropped even if they are evicted or replaced
 * meanwhile.  No lock is held while sorting, encoding or writing.  Each
 * shard's list is sorted by last-access second, and the lists are merged
 * into one least-to-most-recently-used order (1 s resolution), so a load
 * that runs out of room keeps the most recently used entries (each store
 * evicts the oldest).  Each entry's reference is dropped as soon as it is
 * written.
 *
 * Tags: a tagged entry is preceded by an AUX field "rcache-tags" holding
 * its tags (tags.c's persisted form); Redis ignores AUX fields it does not
 * know wherever they are, so the file still loads in redis-server 7.0 and
 * passes redis-check-rdb.
 *
 * Files: written to "<path>.tmp-<pid>-<n>" in the same directory, fsync'd,
 * renamed over path, directory fsync'd; on any failure the temporary file
 * is removed and path is untouched.
 */
#include "internal.h"
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_EVERY 65536u
#define LIST_CHUNK 512u /* entries listed per shard-lock hold */

void rcache_snapshot_opts_init(rcache_snapshot_opts_t *opts) {
    memset(opts, 0, sizeof(*opts));
    opts->compress_min_bytes = 20;
}

double rcache__snapshot_mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rcache__snapshot_result_init(rcache_snapshot_result_t *r) {
    memset(r, 0, sizeof(*r));
    r->file_ctime_s = -1;
}

/* One listed entry and the fields other threads may change in place
 * (last access, expiry), copied while its shard was locked. */
typedef struct item {
    rcache__entry_t *e;
    uint32_t atime_s;
    uint64_t expire_ms;
} item_t;

/* One shard's live entries, least recently used first (by last-access
 * second). */
typedef struct run {
    item_t *v;
    size_t n, cap, i;
} run_t;

/* An access time (seconds since the cache's epoch) in ms on its clock. */
static uint64_t atime_ms(const rcache_t *c, uint32_t atime_s) {
    return rcache__clock_abs_ms(&c->clock, atime_s);
}

/* A cache-clock time as wall time (Unix ms), as RDB files hold it. */
static uint64_t to_wall(uint64_t at, int64_t offset) {
    if (offset < 0)
        return at > (uint64_t)-offset ? at - (uint64_t)-offset : 1;
    return at > UINT64_MAX - (uint64_t)offset ? UINT64_MAX : at + (uint64_t)offset;
}

/* Sort a run by access second, oldest first: LSD radix sort, 8 bits a
 * pass, a pass skipped where every key has the same byte (access seconds
 * of one cache are mostly close together). */
static int sort_run(run_t *r) {
    item_t *tmp;
    if (r->n < 2)
        return RCACHE_OK;
    tmp = rcache__malloc(r->n * sizeof(*tmp));
    if (!tmp)
        return RCACHE_ENOMEM;
    for (unsigned shift = 0; shift < 32; shift += 8) {
        size_t cnt[256] = {0}, pos = 0;
        for (size_t i = 0; i < r->n; i++)
            cnt[(r->v[i].atime_s >> shift) & 0xffu]++;
        if (cnt[(r->v[0].atime_s >> shift) & 0xffu] == r->n)
            continue;
        for (unsigned b = 0; b < 256; b++) {
            size_t c = cnt[b];
            cnt[b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < r->n; i++)
            tmp[cnt[(r->v[i].atime_s >> shift) & 0xffu]++] = r->v[i];
        memcpy(r->v, tmp, r->n * sizeof(*tmp));
    }
    rcache__free(tmp);
    return RCACHE_OK;
}

/* List a shard: its table is walked bucket by bucket, LIST_CHUNK entries
 * per lock hold, so a large shard never blocks its clients for long (the
 * table is pinned meanwhile: no resize moves an entry to a bucket already
 * walked, so every entry present for the whole walk is listed exactly
 * once; one stored meanwhile may be listed or not).  Each listed entry
 * gets a reference (readable after the lock is dropped).  Then the run is
 * sorted by last access, least recent first. */
static int list_shard(rcache_t *c, rcache__shard_t *s, run_t *r,
                      uint64_t *expired) {
    size_t b = 0;
    int rc = RCACHE_OK;
    pthread_mutex_lock(&s->lock);
    s->pinned++;
    while (rc == RCACHE_OK) {
        uint64_t now = rcache__clock_now(&c->clock);
        size_t listed = 0;
        /* room for every entry the shard holds now, so the walk below
         * (which lists at most those) never runs out */
        if (r->cap - r->n < s->count) {
            size_t cap = r->n + (size_t)s->count + LIST_CHUNK;
            item_t *v = rcache__realloc(r->v, cap * sizeof(*v));
            if (!v) {
                rc = RCACHE_ENOMEM;
                break;
            }
            r->v = v;
            r->cap = cap;
        }
        size_t nb = rcache__index_buckets(&s->idx); /* pinned: fixed */
        for (; b < nb && listed < LIST_CHUNK; b++) {
            rcache__index_it_t it;
            rcache__entry_t *e;
            rcache__index_it_start(&s->idx, b, &it);
            while ((e = rcache__index_it_next(&it)) != NULL) {
                if (rcache__expired(e, now)) {
                    (*expired)++;
                    continue;
                }
                rcache__entry_ref(e);
                r->v[r->n].e = e;
                r->v[r->n].atime_s = rcache__atime(e);
                r->v[r->n].expire_ms = e->expire_at_ms;
                r->n++;
                listed++;
            }
        }
        if (b >= nb)
            break;
        pthread_mutex_unlock(&s->lock); /* let the shard's clients in */
        pthread_mutex_lock(&s->lock);
    }
    s->pinned--;
    pthread_mutex_unlock(&s->lock);
    return rc == RCACHE_OK ? sort_run(r) : rc;
}

/* Min-heap of run indices keyed by the access second of their next entry. */
typedef struct merge {
    run_t *runs;
    uint32_t *heap;
    uint32_t n;
} merge_t;

static uint32_t key_of(const merge_t *m, uint32_t r) {
    return m->runs[r].v[m->runs[r].i].atime_s;
}

static void sift_down(merge_t *m, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, best = i;
        if (l < m->n && key_of(m, m->heap[l]) < key_of(m, m->heap[best]))
            best = l;
        if (l + 1 < m->n && key_of(m, m->heap[l + 1]) < key_of(m, m->heap[best]))
            best = l + 1;
        if (best == i)
            return;
        uint32_t t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

/* Next entry in global LRU->MRU order; 0 when all runs are done. */
static int merge_next(merge_t *m, item_t *it) {
    run_t *r;
    if (m->n == 0)
        return 0;
    r = &m->runs[m->heap[0]];
    *it = r->v[r->i];
    r->v[r->i++].e = NULL;
    if (r->i == r->n)
        m->heap[0] = m->heap[--m->n];
    sift_down(m, 0);
    return 1;
}

typedef struct save_ctx {
    rcache_t *c;
    const rcache_snapshot_opts_t *o;
    rcache_snapshot_result_t *res;
    rcache__rdb_enc_t enc;
    uint64_t total;
    int64_t wall_offset; /* wall clock - cache clock, ms */
} save_ctx_t;

/* Encode one entry (or count why not). 0 or an error. Key, value and
 * object of an entry never change once it exists; expiry and access time
 * may, so the copies taken under the shard lock are used. */
static int save_entry(save_ctx_t *sc, const item_t *it, uint64_t now) {
    const rcache__entry_t *e = it->e;
    const rcache__objext_t *x = rcache__entry_obj(e);
    const void *val = rcache__entry_val(e);
    size_t vlen = e->vlen;
    void *ser = NULL;
    int64_t idle = -1;
    if (it->expire_ms != 0 && now >= it->expire_ms) {
        sc->res->skipped_expired++;
        return 0;
    }
    if (x) {
        if (!sc->o->serialize ||
            sc->o->serialize(rcache__entry_key(e), e->klen, x->obj, &ser, &vlen,
                             sc->o->serialize_ctx) != 0) {
            sc->res->skipped_unsupported++;
            return 0;
        }
        val = ser;
    }
    unsigned char *tags = NULL;
    size_t tlen = 0;
    if (rcache__tags_encode(sc->c, e, &tags, &tlen) != RCACHE_OK) {
        free(ser);
        return RCACHE_ENOMEM;
    }
    if (tlen) /* the tags of the key that follows */
        rcache__rdb_enc_aux_bin(&sc->enc, RCACHE__TAGS_AUX, tags, tlen);
    rcache__free(tags);
    if (sc->o->keep_metadata) {
        uint64_t at = atime_ms(sc->c, it->atime_s);
        idle = now > at ? (int64_t)((now - at) / 1000u) : 0;
    }
    rcache__rdb_enc_string(&sc->enc, rcache__entry_key(e), e->klen, val, vlen,
                           it->expire_ms ? to_wall(it->expire_ms, sc->wall_offset) : 0,
                           idle);
    free(ser);
    sc->res->entries++;
    return sc->enc.err;
}

static void write_aux(save_ctx_t *sc, uint64_t keys) {
    char num[32];
    rcache_stats_t st;
    rcache_stats(sc->c, &st);
    rcache__rdb_enc_aux(&sc->enc, "redis-ver", "7.0.0");
    rcache__rdb_enc_aux(&sc->enc, "redis-bits", sizeof(void *) == 8 ? "64" : "32");
    snprintf(num, sizeof(num), "%llu",
             (unsigned long long)(to_wall(rcache_now_ms(sc->c), sc->wall_offset) /
                                  1000u));
    rcache__rdb_enc_aux(&sc->enc, "ctime", num);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)st.bytes);
    rcache__rdb_enc_aux(&sc->enc, "used-mem", num);
    rcache__rdb_enc_aux(&sc->enc, "aof-base", "0");
    snprintf(num, sizeof(num), "%d.%d.%d", RCACHE_VERSION_MAJOR,
             RCACHE_VERSION_MINOR, RCACHE_VERSION_PATCH);
    rcache__rdb_enc_aux(&sc->enc, "rcache-ver", num);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)keys);
    rcache__rdb_enc_aux(&sc->enc, "rcache-keys", num);
}

/* The function libraries the caller gave, one FUNCTION2 record each (the
 * code as an RDB string), after the AUX fields as Redis 7.0 writes them. */
static void write_functions(save_ctx_t *sc) {
    const rcache_snapshot_opts_t *o = sc->o;
    for (size_t i = 0; o && i < o->nfunctions; i++) {
        unsigned char op = RDB_OP_FUNCTION2;
        rcache__rdb_enc_raw(&sc->enc, &op, 1);
        rcache__rdb_enc_str(&sc->enc, o->function_codes[i], o->function_lens[i]);
    }
}

/* List every shard, then encode in merged order. */
static int save_all(save_ctx_t *sc) {
    rcache_t *c = sc->c;
    merge_t m = {0};
    uint64_t keys = 0, expires = 0, done = 0;
    int rc = RCACHE_OK;
    m.runs = rcache__calloc(c->nshards, sizeof(*m.runs));
    m.heap = rcache__calloc(c->nshards, sizeof(*m.heap));
    if (!m.runs || !m.heap)
        rc = RCACHE_ENOMEM;
    for (uint32_t i = 0; rc == RCACHE_OK && i < c->nshards; i++)
        rc = list_shard(c, &c->shards[i], &m.runs[i], &sc->res->skipped_expired);
    for (uint32_t i = 0; rc == RCACHE_OK && i < c->nshards; i++) {
        run_t *r = &m.runs[i];
        keys += r->n;
        for (size_t j = 0; j < r->n; j++)
            expires += r->v[j].expire_ms != 0;
        if (r->n)
            m.heap[m.n++] = i;
    }
    sc->total = keys;
    if (rc == RCACHE_OK) {
        for (uint32_t i = m.n; i-- > 0;)
            sift_down(&m, i);
        rcache__rdb_enc_header(&sc->enc);
        write_aux(sc, keys);
        write_functions(sc);
        if (keys) {
            rcache__rdb_enc_selectdb(&sc->enc, 0);
            rcache__rdb_enc_resizedb(&sc->enc, keys, expires);
        }
    }
    for (item_t it; rc == RCACHE_OK && merge_next(&m, &it);) {
        rc = save_entry(sc, &it, rcache__clock_now(&c->clock));
        rcache__entry_unref(it.e);
        if (rc == RCACHE_OK && ++done % PROGRESS_EVERY == 0 && sc->o->progress &&
            sc->o->progress(done, keys, sc->enc.bytes, 0, sc->o->progress_ctx))
            rc = RCACHE_ECANCELED;
    }
    for (uint32_t i = 0; m.runs && i < c->nshards; i++) { /* on error */
        for (size_t j = m.runs[i].i; j < m.runs[i].n; j++)
            if (m.runs[i].v[j].e)
                rcache__entry_unref(m.runs[i].v[j].e);
        rcache__free(m.runs[i].v);
    }
    rcache__free(m.runs);
    rcache__free(m.heap);
    if (rc == RCACHE_OK)
        rc = rcache__rdb_enc_finish(&sc->enc);
    if (rc == RCACHE_OK && sc->o->progress)
        sc->o->progress(done, keys, sc->enc.bytes, sc->enc.bytes,
                        sc->o->progress_ctx);
    return rc;
}

int rcache_snapshot_save_stream(rcache_t *c, rcache_snapshot_write_fn write,
                                void *write_ctx,
                                const rcache_snapshot_opts_t *opts,
                                rcache_snapshot_result_t *result) {
    rcache_snapshot_opts_t defaults;
    rcache_snapshot_result_t scratch;
    save_ctx_t sc;
    double t0 = rcache__snapshot_mono_s();
    int rc;
    if (!result)
        result = &scratch;
    rcache__snapshot_result_init(result);
    if (!opts) {
        rcache_snapshot_opts_init(&defaults);
        opts = &defaults;
    }
    if (!c || !write)
        return RCACHE_EINVAL;
    memset(&sc, 0, sizeof(sc));
    sc.c = c;
    sc.o = opts;
    sc.res = result;
    sc.wall_offset = rcache_wall_offset_ms(c);
    rc = rcache__rdb_enc_init(&sc.enc, write, write_ctx, opts->compress_min_bytes);
    if (rc == RCACHE_OK)
        rc = save_all(&sc);
    result->bytes = sc.enc.bytes;
    result->seconds = rcache__snapshot_mono_s() - t0;
    if (rc != RCACHE_OK && !result->error[0]) {
        result->error_offset = sc.enc.bytes;
        snprintf(result->error, sizeof(result->error), "save failed at offset %llu: %s",
                 (unsigned long long)sc.enc.bytes, rcache_strerror(rc));
    }
    rcache__rdb_enc_free(&sc.enc);
    return rc;
}

/* ---- files ------------------------------------------------------------ */

typedef struct fd_sink {
    int fd;
    int err; /* errno of the first failure */
} fd_sink_t;

static int fd_write(void *ctx, const void *buf, size_t len) {
    fd_sink_t *w = ctx;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            w->err = n < 0 ? errno : ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the directory holding path, so the rename is durable. */
static int fsync_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd, rc;
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static int io_fail(rcache_snapshot_result_t *r, const char *path,
                   const char *what, int err) {
    char at[48] = "";
    if (r->error_offset)
        snprintf(at, sizeof(at), " at offset %llu",
                 (unsigned long long)r->error_offset);
    snprintf(r->error, sizeof(r->error), "%.200s: %s failed%s: %s", path, what,
             at, strerror(err));
    return RCACHE_EIO;
}

int rcache_snapshot_save(rcache_t *c, const char *path,
                         const rcache_snapshot_opts_t *opts,
                         rcache_snapshot_result_t *result) {
    static _Atomic unsigned seq;
    rcache_snapshot_result_t scratch;
    char tmp[4200];
    fd_sink_t w = {-1, 0};
    int rc;
    double t0 = rcache__snapshot_mono_s();
    if (!result)
        result = &scratch;
    rcache__snapshot_result_init(result);
    if (!c || !path || strlen(path) > 4000)
        return RCACHE_EINVAL;
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-%u", path, (long)getpid(),
             atomic_fetch_add(&seq, 1u));
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w.fd < 0)
        return io_fail(result, tmp, "create", errno);
    rc = rcache_snapshot_save_stream(c, fd_write, &w, opts, result);
    if (rc == RCACHE_EIO) {
        result->error_offset = result->bytes;
        io_fail(result, tmp, "write", w.err ? w.err : EIO);
    } else if (rc == RCACHE_OK && !(opts && opts->no_fsync) && fsync(w.fd) != 0) {
        rc = io_fail(result, tmp, "fsync", errno);
    }
    if (close(w.fd) != 0 && rc == RCACHE_OK)
        rc = io_fail(result, tmp, "close", errno);
    if (rc == RCACHE_OK && rename(tmp, path) != 0)
        rc = io_fail(result, path, "rename", errno);
    if (rc != RCACHE_OK) {
        unlink(tmp);
    } else if (!(opts && opts->no_fsync) && fsync_dir(path) != 0) {
        rc = io_fail(result, path, "fsync of the directory", errno);
    }
    result->seconds = rcache__snapshot_mono_s() - t0;
    return rc;
}
