/*
 * snapshot_load.c - rcache_snapshot_load(), _load_stream() and _verify():
 * an RDB file (ours or Redis's) into the cache.
 *
 * A file is read twice: first only checked (structure, every length, the
 * CRC-64; values are skipped, not decompressed), then, if it is valid,
 * read again and stored.  So a truncated, corrupt or foreign file stores
 * nothing.  A stream cannot be read twice: it is stored as it is decoded.
 *
 * Storing has rcache_set()'s semantics, so both limits hold and entries
 * that do not fit evict the least recently used ones; a file written by
 * rcache_snapshot_save() lists entries from least to most recently used,
 * so what stays is the most recently used.  It goes through bulk.c
 * (batches stored shard by shard, one lock each; for a file, the tables
 * grown once up front to the number of keys the check pass counted — not
 * for a stream, whose RESIZEDB is unchecked and could claim 2^62 keys),
 * which loads small keys 2-4x as fast as one rcache_set() per key
 * (BENCHMARKS.md); a disabled cache takes rcache_set().
 */
#include "internal.h"
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRESS_EVERY 65536u
#define NTYPES 32

double rcache__snapshot_mono_s(void);
void rcache__snapshot_result_init(rcache_snapshot_result_t *r);

typedef struct load_ctx {
    rcache_t *c; /* NULL: verify only */
    const rcache_snapshot_opts_t *o;
    rcache_snapshot_result_t *res;
    uint64_t bytes_total;   /* file size, 0 for a stream */
    uint64_t entries_total; /* from the check pass, or RESIZEDB */
    int64_t wall_offset;    /* wall clock - cache clock, ms */
    const char *type_name[NTYPES];
    uint64_t type_count[NTYPES];
    int ntypes;
    double t0_s;                       /* when the call began (monotonic) */
    unsigned char *tags;               /* "rcache-tags" AUX for the next key */
    size_t tags_len;
    rcache_snapshot_opts_t defaults;   /* opts when the caller gave none */
    rcache_snapshot_result_t scratch;  /* result when the caller wants none */
    rcache__bulk_t *bulk;              /* storing pass, cache not disabled */
    int reserved;                      /* tables grown for this load */
} load_ctx_t;

static void count_type(load_ctx_t *lc, const char *name) {
    int i;
    lc->res->skipped_unsupported++;
    for (i = 0; i < lc->ntypes; i++)
        if (lc->type_name[i] == name || strcmp(lc->type_name[i], name) == 0)
            break;
    if (i == lc->ntypes) {
        if (lc->ntypes == NTYPES)
            return;
        lc->type_name[lc->ntypes++] = name;
    }
    lc->type_count[i]++;
}

static void render_types(load_ctx_t *lc) {
    size_t off = 0, cap = sizeof(lc->res->skipped_types);
    for (int i = 0; i < lc->ntypes && off < cap; i++) {
        int n = snprintf(lc->res->skipped_types + off, cap - off, "%s%s=%llu",
                         i ? " " : "", lc->type_name[i],
                         (unsigned long long)lc->type_count[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

/* keep_metadata: give a just-stored entry the last access the file says. */
static void set_idle(rcache_t *c, const unsigned char *key, size_t klen,
                     int64_t idle_s) {
    rcache__reclaim_t r = {0};
    rcache__loc_t l;
    rcache__entry_t *e = rcache__lock_lookup(c, key, klen, &l, &r);
    if (e) {
        uint64_t now = rcache__clock_now(&c->clock);
        uint64_t at = (uint64_t)idle_s * 1000u < now ? now - (uint64_t)idle_s * 1000u : 0;
        rcache__atime_set(e, rcache__clock_rel_s(&c->clock, at));
    }
    pthread_mutex_unlock(&l.s->lock);
    rcache__reclaim_run(&r);
}

static int store(load_ctx_t *lc, const rcache__rdb_item_t *it) {
    uint64_t now, at;
    rcache_set_opts_t so = {0}; /* no expiry unless the file has one */
    rcache_tag_t tags[RCACHE_MAX_TAGS];
    int rc;
    /* tags saved before this key (a malformed list: stored untagged) */
    if (lc->tags && rcache__tags_decode(lc->tags, lc->tags_len, tags,
                                        &so.ntags) == RCACHE_OK)
        so.tags = tags;
    if (it->db != 0) {
        count_type(lc, "other-db");
        return 0;
    }
    if (it->klen == 0) {
        count_type(lc, "empty-key");
        return 0;
    }
    if (it->too_big) {
        lc->res->skipped_too_big++;
        return 0;
    }
    if (!lc->c) { /* verify */
        lc->res->entries++;
        return 0;
    }
    if (it->expire_ms) { /* the clock is read only for keys with a TTL */
        /* The file holds wall time; the cache keeps its own clock. */
        int64_t off = lc->wall_offset;
        at = off >= 0 ? (it->expire_ms > (uint64_t)off ? it->expire_ms - (uint64_t)off : 0)
                      : it->expire_ms + (uint64_t)-off;
        if (at > INT64_MAX)
            at = INT64_MAX;
        now = rcache_now_ms(lc->c);
        if (at <= now) {
            lc->res->skipped_expired++;
            return 0;
        }
        so.flags = RCACHE_SET_EXPIRE_AT;
        so.ttl_ms = (int64_t)at;
    }
    /* A tagged key is stored by rcache_set_ex() (bulk.c knows no tags),
     * after what is queued, so the load order (LRU order) stays. */
    int direct = !lc->bulk || so.ntags;
    if (lc->bulk && so.ntags)
        rcache__bulk_flush(lc->bulk);
    if (!direct)
        rc = rcache__bulk_add(lc->bulk, it->key, it->klen, it->val, it->vlen,
                              so.flags ? (uint64_t)so.ttl_ms : 0,
                              lc->o->keep_metadata ? it->idle_s : -1);
    else
        rc = rcache_set_ex(lc->c, it->key, it->klen, it->val, it->vlen, &so, NULL);
    if (rc == RCACHE_ETOOBIG) {
        lc->res->skipped_too_big++;
        return 0;
    }
    if (rc != RCACHE_OK)
        return rc;
    lc->res->entries++;
    if (direct && lc->o->keep_metadata && it->idle_s > 0)
        set_idle(lc->c, it->key, it->klen, it->idle_s);
    return 0;
}

/* Forget the tags read for the next key (it has been handled). */
static void tags_done(load_ctx_t *lc) {
    rcache__free(lc->tags);
    lc->tags = NULL;
    lc->tags_len = 0;
}

static int aux(load_ctx_t *lc, const rcache__rdb_item_t *it) {
    char num[32];
    if (it->key && it->klen == sizeof(RCACHE__TAGS_AUX) - 1 &&
        memcmp(it->key, RCACHE__TAGS_AUX, it->klen) == 0) {
        tags_done(lc);
        if (!lc->c || !it->val || !it->vlen)
            return RCACHE_OK; /* verifying, or dropped (too long) */
        if (!(lc->tags = rcache__malloc(it->vlen)))
            return RCACHE_ENOMEM;
        memcpy(lc->tags, it->val, it->vlen);
        lc->tags_len = it->vlen;
        return RCACHE_OK;
    }
    if (!it->key || !it->val || it->vlen >= sizeof(num))
        return RCACHE_OK;
    memcpy(num, it->val, it->vlen);
    num[it->vlen] = '\0';
    if (it->klen == 5 && memcmp(it->key, "ctime", 5) == 0)
        lc->res->file_ctime_s = strtoll(num, NULL, 10);
    return RCACHE_OK;
}

/* Grow the tables once for the n keys a load will store (counted by the
 * check pass, so a file's own count, never an unchecked claim), capped at
 * what the limits let stay (the average entry from the file's size). */
static void reserve(load_ctx_t *lc, uint64_t n) {
    rcache_config_t cfg;
    if (!lc->bulk || lc->reserved || n == 0)
        return;
    lc->reserved = 1;
    rcache_get_config(lc->c, &cfg);
    if (cfg.max_items && n > cfg.max_items)
        n = cfg.max_items;
    if (cfg.max_bytes && lc->bytes_total) {
        uint64_t avg = lc->bytes_total / n + 64; /* + header and table */
        if (n > cfg.max_bytes / avg)
            n = cfg.max_bytes / avg;
    }
    rcache__bulk_reserve(lc->c, n);
}

/* A function library: to the caller's callback when loading (not when
 * only checking), else counted as skipped ("function"). */
static int function(load_ctx_t *lc, const rcache__rdb_item_t *it) {
    const rcache_snapshot_opts_t *o = lc->o;
    if (!lc->c || !o->function || !it->val) {
        if (lc->c)
            count_type(lc, it->type_name);
        return RCACHE_OK;
    }
    return o->function(it->val, it->vlen, o->function_ctx) ? RCACHE_ECANCELED : RCACHE_OK;
}

/* Decode everything; store (or only count, c NULL). */
static int run(load_ctx_t *lc, rcache__rdb_dec_t *d) {
    rcache__rdb_item_t it;
    uint64_t done = 0;
    int rc;
    for (;;) {
        rc = rcache__rdb_dec_next(d, &it);
        if (rc != RCACHE_OK)
            break;
        if (it.kind == RCACHE__RDB_EV_EOF)
            break;
        switch (it.kind) {
        case RCACHE__RDB_EV_AUX: rc = aux(lc, &it); break;
        case RCACHE__RDB_EV_RESIZEDB:
            if (!lc->entries_total)
                lc->entries_total = it.n1;
            break;
        case RCACHE__RDB_EV_SKIPPED:
            if (it.kind == RCACHE__RDB_EV_SKIPPED)
                count_type(lc, it.type_name);
            break;
        case RCACHE__RDB_EV_FUNCTION: rc = function(lc, &it); break;
        case RCACHE__RDB_EV_STRING: rc = store(lc, &it); break;
        default: break;
        }
        if (it.kind == RCACHE__RDB_EV_STRING || it.kind == RCACHE__RDB_EV_SKIPPED)
            tags_done(lc); /* they belonged to this key only */
        if (rc != RCACHE_OK)
            break;
        if (++done % PROGRESS_EVERY == 0 && lc->o->progress &&
            lc->o->progress(lc->c ? done : 0, lc->c ? lc->entries_total : 0,
                            rcache__rdb_dec_offset(d), lc->bytes_total,
                            lc->o->progress_ctx)) {
            rc = RCACHE_ECANCELED;
            break;
        }
    }
    tags_done(lc);
    if (lc->bulk)
        rcache__bulk_flush(lc->bulk); /* the counts below are stored keys */
    lc->res->rdb_version = d->version;
    lc->res->bytes = rcache__rdb_dec_offset(d);
    if (rc == RCACHE_OK && lc->c && lc->o->progress)
        lc->o->progress(done, lc->entries_total, lc->res->bytes,
                        lc->bytes_total, lc->o->progress_ctx);
    return rc;
}

/* One pass over a read callback; crc_checked: an earlier pass over the
 * same bytes (the same open file) checked the CRC-64. */
static int pass(load_ctx_t *lc, rcache_snapshot_read_fn read, void *ctx,
                const char *name, int crc_checked) {
    rcache__rdb_dec_t d;
    uint64_t keep = UINT64_MAX;
    int rc;
    if (lc->c) {
        rcache_config_t cfg;
        rcache_get_config(lc->c, &cfg);
        keep = cfg.max_bytes ? cfg.max_bytes : UINT64_MAX;
    }
    rc = rcache__rdb_dec_init(&d, read, ctx, lc->o->max_string_bytes, keep,
                              lc->c != NULL);
    d.no_crc = crc_checked;
    if (rc == RCACHE_OK && lc->c && !rcache__disabled(lc->c) &&
        !(lc->bulk = rcache__bulk_new(lc->c)))
        rc = RCACHE_ENOMEM;
    if (rc == RCACHE_OK) {
        reserve(lc, lc->entries_total);
        rc = run(lc, &d);
    }
    rcache__bulk_free(lc->bulk); /* a stream keeps what it decoded */
    lc->bulk = NULL;
    if (rc != RCACHE_OK && d.err) {
        lc->res->error_offset = d.err_off;
        snprintf(lc->res->error, sizeof(lc->res->error), "%.160s: offset %llu: %s",
                 name, (unsigned long long)d.err_off, d.err_msg);
    } else if (rc != RCACHE_OK) {
        lc->res->error_offset = rcache__rdb_dec_offset(&d);
        snprintf(lc->res->error, sizeof(lc->res->error), "%.160s: offset %llu: %s",
                 name, (unsigned long long)lc->res->error_offset,
                 rcache_strerror(rc));
    }
    rcache__rdb_dec_free(&d);
    return rc;
}

/* Begin a load or a check: starts its clock; a NULL result or opts is
 * replaced by lc's own scratch result or the default options (so callers
 * read and write lc->res, never their result argument). */
static void start(load_ctx_t *lc, rcache_t *c, const rcache_snapshot_opts_t *opts,
                  rcache_snapshot_result_t *result) {
    double t0_s = rcache__snapshot_mono_s();
    memset(lc, 0, sizeof(*lc));
    lc->t0_s = t0_s;
    if (!result)
        result = &lc->scratch;
    rcache__snapshot_result_init(result);
    if (!opts) {
        rcache_snapshot_opts_init(&lc->defaults);
        opts = &lc->defaults;
    }
    lc->c = c;
    lc->o = opts;
    lc->res = result;
    lc->wall_offset = c ? rcache_wall_offset_ms(c) : 0;
}

/* End a load or a check: the skipped types and the time taken. */
static void finish(load_ctx_t *lc) {
    render_types(lc);
    lc->res->seconds = rcache__snapshot_mono_s() - lc->t0_s;
}

static uint64_t evictions(rcache_t *c) {
    rcache_stats_t st;
    if (!c)
        return 0;
    rcache_stats(c, &st);
    return st.evictions;
}

int rcache_snapshot_load_stream(rcache_t *c, rcache_snapshot_read_fn read,
                                void *read_ctx,
                                const rcache_snapshot_opts_t *opts,
                                rcache_snapshot_result_t *result) {
    load_ctx_t lc;
    uint64_t ev0;
    int rc;
    start(&lc, c, opts, result);
    if (!c || !read)
        return RCACHE_EINVAL;
    ev0 = evictions(c);
    rc = pass(&lc, read, read_ctx, "stream", 0);
    lc.res->evicted = evictions(c) - ev0;
    finish(&lc);
    return rc;
}

/* ---- files ------------------------------------------------------------ */

static long fd_read(void *ctx, void *buf, size_t cap) {
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        return (long)n;
    }
}

static int open_file(const char *path, rcache_snapshot_result_t *r,
                     uint64_t *size) {
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(r->error, sizeof(r->error), "%s: cannot open: %s", path,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* Check pass over a file; the counts it leaves are the file's. */
static int check_file(load_ctx_t *lc, int fd, const char *path) {
    rcache_t *c = lc->c;
    int rc;
    lc->c = NULL;
    rc = pass(lc, fd_read, &fd, path, 0);
    lc->c = c;
    return rc;
}

int rcache_snapshot_verify(const char *path, const rcache_snapshot_opts_t *opts,
                           rcache_snapshot_result_t *result) {
    load_ctx_t lc;
    int fd, rc;
    start(&lc, NULL, opts, result);
    if (!path)
        return RCACHE_EINVAL;
    fd = open_file(path, lc.res, &lc.bytes_total);
    if (fd < 0)
        return RCACHE_EIO;
    rc = check_file(&lc, fd, path);
    close(fd);
    finish(&lc);
    return rc;
}

int rcache_snapshot_load(rcache_t *c, const char *path,
                         const rcache_snapshot_opts_t *opts,
                         rcache_snapshot_result_t *result) {
    load_ctx_t lc;
    uint64_t ev0;
    int fd, rc;
    start(&lc, c, opts, result);
    if (!c || !path)
        return RCACHE_EINVAL;
    fd = open_file(path, lc.res, &lc.bytes_total);
    if (fd < 0)
        return RCACHE_EIO;
    rc = check_file(&lc, fd, path);
    if (rc == RCACHE_OK) {
        lc.entries_total = lc.res->entries;
        rcache__snapshot_result_init(lc.res);
        lc.ntypes = 0;
        ev0 = evictions(c);
        if (lseek(fd, 0, SEEK_SET) != 0) {
            snprintf(lc.res->error, sizeof(lc.res->error), "%s: seek: %s", path,
                     strerror(errno));
            rc = RCACHE_EIO;
        } else {
            rc = pass(&lc, fd_read, &fd, path, 1); /* same fd, same bytes */
        }
        lc.res->evicted = evictions(c) - ev0;
    }
    close(fd);
    finish(&lc);
    return rc;
}
