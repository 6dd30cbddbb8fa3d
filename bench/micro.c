/*
 * micro.c - `rcache-bench micro`: in-process librcache micro-benchmarks.
 *
 * Operations: get hit, get miss, set new, set overwrite, delete, a 90/10
 * get/set mix, and a memoize hit next to plain gets (the single-flight
 * overhead).  With 1 thread only: rcache_get_many_ref() of 16 keys a
 * call, a set new into a cache sized for its entries, and the get hit
 * again with the next key's bytes prefetched, which takes the benchmark's
 * own miss (its key array read at a random place) off the clock, to state
 * a hit's cost in DRAM-latency units (issue 13) as the cache's alone.
 * Each runs with 1 thread and with N threads (every thread on its own,
 * disjoint part of the key space), with uniform and Zipf(0.99) key
 * choice, several times; ns/op is the median with min and max.  Keys and the
 * key-choice sequences are generated before timing, so the timed loops do
 * only cache calls.  Memory per entry is read from RSS (/proc/self/statm)
 * before and after filling a fresh cache.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "progress.h"
#include "rcache.h"

enum op { OP_GET_HIT, OP_GET_MISS, OP_SET_NEW, OP_SET_OVERWRITE, OP_DELETE,
          OP_MIX, OP_GET_REF, OP_MEMO_HIT, OP_GET_HIT_DIAG, OP_GET_HIT_PF, OP_SET_NEW_SIZED,
          OP_GET_MANY, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
    "get hit", "get miss", "set new", "set overwrite", "delete",
    "mix 90/10 get/set", "get_ref hit", "memoize hit", "get hit, diagnostics on",
    "get hit, next key prefetched", "set new, sized cache", "get_many_ref hit, 16 a call"};

typedef struct cfg {
    uint64_t entries;
    size_t key_size, value_size;
    int threads, runs, json, shards;
    int policy; /* rcache_policy_t */
    uint64_t ops; /* per run, all threads together */
    int do_uniform, do_zipf;
} cfg_t;

typedef struct result {
    enum op op;
    const char *dist;
    int threads;
    double med, min, max; /* ns per op, per thread, wall clock */
    double cpu_med;       /* ns per op of thread CPU time (immune to a busy machine) */
    double ops_per_s;     /* all threads, from the median run */
} result_t;

/* ---- keys and key choice ------------------------------------------------ */

static unsigned char *hit_keys, *miss_keys, *value;
static cfg_t C;

static void make_key(unsigned char *dst, char prefix, uint64_t i)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%0*llu", (int)C.key_size, (unsigned long long)i);
    memcpy(dst, tmp + strlen(tmp) - C.key_size, C.key_size);
    dst[0] = (unsigned char)prefix;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) { return (double)(splitmix(s) >> 11) * 0x1.0p-53; }

/* Zipf(theta) over [0, n): Gray et al., "Quickly generating billion-record
 * synthetic databases" (the YCSB generator). Rank r is spread over the
 * range with a multiplicative bijection so hot keys are not neighbours. */
typedef struct zipf {
    uint64_t n;
    double theta, alpha, zetan, eta;
} zipf_t;

static void zipf_init(zipf_t *z, uint64_t n, double theta)
{
    double zeta2 = 1 + pow(0.5, theta), zn = 0;
    for (uint64_t i = 1; i <= n; i++)
        zn += 1 / pow((double)i, theta);
    z->n = n;
    z->theta = theta;
    z->alpha = 1 / (1 - theta);
    z->zetan = zn;
    z->eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - zeta2 / zn);
}

static uint64_t zipf_next(const zipf_t *z, uint64_t *s)
{
    if (z->n == 0)
        return 0;
    double u = unit(s), uz = u * z->zetan;
    uint64_t r;
    if (uz < 1)
        r = 0;
    else if (uz < 1 + pow(0.5, z->theta))
        r = 1;
    else
        r = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1, z->alpha));
    if (r >= z->n)
        r = z->n - 1;
    return (r * 2654435761ull) % z->n; /* n < 2^32 and odd multiplier: a bijection when gcd = 1 */
}

/* Key choices for one thread: indices into [lo, lo + n). */
static uint32_t *make_seq(uint64_t lo, uint64_t n, uint64_t count, int zipf, uint64_t seed)
{
    uint32_t *seq = malloc((count ? count : 1) * sizeof *seq);
    if (!seq)
        abort();
    if (n == 0)
        n = 1;
    uint64_t s = seed;
    zipf_t z = {0};
    if (zipf)
        zipf_init(&z, n, 0.99);
    for (uint64_t i = 0; i < count; i++)
        seq[i] = (uint32_t)(lo + (zipf ? zipf_next(&z, &s) : splitmix(&s) % n));
    return seq;
}

/* ---- threads -------------------------------------------------------------- */

typedef struct worker {
    pthread_t tid;
    rcache_t *c;
    enum op op;
    const uint32_t *seq; /* key choices (lookups, overwrites, mix) */
    uint64_t lo, n;      /* own key range (set new, delete) */
    uint64_t count;      /* operations to do */
    pthread_barrier_t *bar;
    double t0, t1;
    double cpu;          /* thread CPU seconds spent in the loop */
    int err;
} worker_t;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int memo_fn(const void *key, size_t key_len, rcache_memo_result_t *out, void *ctx)
{
    (void)key; (void)key_len; (void)ctx;
    out->val = value;
    out->val_len = C.value_size;
    return RCACHE_OK;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    rcache_t *c = w->c;
    const size_t ks = C.key_size, vs = C.value_size;
    unsigned char buf[4096];
    size_t len;
    int bad = 0;
    pthread_barrier_wait(w->bar);
    double c0 = thread_cpu();
    w->t0 = rcache__bench_now();
    switch (w->op) {
    case OP_GET_HIT:
    case OP_GET_HIT_DIAG: /* the same loop; the caller turned diagnostics on */
        for (uint64_t i = 0; i < w->count; i++)
            bad |= rcache_get(c, hit_keys + (size_t)w->seq[i] * ks, ks, buf, sizeof buf, &len) != RCACHE_OK;
        break;
    case OP_GET_HIT_PF:
        /* the same lookups, with the benchmark's own miss (reading the next
         * key at a random place of its key array) taken off the clock: what
         * is left is the cache's */
        for (uint64_t i = 0; i < w->count; i++) {
            if (i + 1 < w->count)
                __builtin_prefetch(hit_keys + (size_t)w->seq[i + 1] * ks);
            bad |= rcache_get(c, hit_keys + (size_t)w->seq[i] * ks, ks, buf, sizeof buf, &len) != RCACHE_OK;
        }
        break;
    case OP_GET_MANY: /* rcache_get_many_ref() of 16 keys a call, per key */
        for (uint64_t i = 0; i < w->count; i += 16) {
            const void *keys[16];
            size_t lens[16];
            rcache_ref_t *refs[16];
            size_t m = w->count - i < 16 ? (size_t)(w->count - i) : 16;
            for (size_t j = 0; j < m; j++) {
                keys[j] = hit_keys + (size_t)w->seq[i + j] * ks;
                lens[j] = ks;
            }
            bad |= rcache_get_many_ref(c, m, keys, lens, refs, NULL) != RCACHE_OK;
            for (size_t j = 0; j < m; j++) {
                bad |= refs[j] == NULL;
                rcache_release(refs[j]);
            }
        }
        break;
    case OP_GET_MISS:
        for (uint64_t i = 0; i < w->count; i++)
            bad |= rcache_get(c, miss_keys + (size_t)w->seq[i] * ks, ks, buf, sizeof buf, &len) != RCACHE_ENOTFOUND;
        break;
    case OP_GET_REF:
        for (uint64_t i = 0; i < w->count; i++) {
            rcache_ref_t *r;
            bad |= rcache_get_ref(c, hit_keys + (size_t)w->seq[i] * ks, ks, &r) != RCACHE_OK;
            rcache_release(r);
        }
        break;
    case OP_MEMO_HIT:
        for (uint64_t i = 0; i < w->count; i++) {
            rcache_ref_t *r;
            int how;
            bad |= rcache_memoize(c, hit_keys + (size_t)w->seq[i] * ks, ks, memo_fn, NULL,
                                  NULL, &r, &how) != RCACHE_OK || how != RCACHE_MEMO_HIT;
            rcache_release(r);
        }
        break;
    case OP_SET_OVERWRITE:
        for (uint64_t i = 0; i < w->count; i++)
            bad |= rcache_set(c, hit_keys + (size_t)w->seq[i] * ks, ks, value, vs, 0, 0) != RCACHE_OK;
        break;
    case OP_MIX:
        for (uint64_t i = 0; i < w->count; i++) {
            const unsigned char *k = hit_keys + (size_t)w->seq[i] * ks;
            if (i % 10 == 9)
                bad |= rcache_set(c, k, ks, value, vs, 0, 0) != RCACHE_OK;
            else
                bad |= rcache_get(c, k, ks, buf, sizeof buf, &len) != RCACHE_OK;
        }
        break;
    case OP_SET_NEW:
    case OP_SET_NEW_SIZED: /* the same loop; the caller sized the cache */
        for (uint64_t i = w->lo; i < w->lo + w->n; i++)
            bad |= rcache_set(c, hit_keys + i * ks, ks, value, vs, 0, 0) != RCACHE_OK;
        break;
    case OP_DELETE:
        for (uint64_t i = w->lo; i < w->lo + w->n; i++)
            bad |= rcache_delete(c, hit_keys + i * ks, ks) != RCACHE_OK;
        break;
    default:
        break;
    }
    w->t1 = rcache__bench_now();
    w->cpu = thread_cpu() - c0;
    w->err = bad;
    return NULL;
}

/* sized: max_items 1.25 x the entries, so the index starts at its final
 * size (no doublings while filling) and nothing is evicted */
static rcache_t *open_cache_as(int sized)
{
    rcache_config_t cfg;
    rcache_config_init(&cfg);
    /* unbounded: nothing is evicted while measuring */
    cfg.max_items = sized ? C.entries + C.entries / 4 : 0;
    cfg.max_bytes = 0;
    cfg.default_ttl_ms = 0;
    cfg.shards = (uint32_t)C.shards;
    cfg.policy = C.policy;
    rcache_t *c = NULL;
    if (rcache_open(&cfg, &c) != RCACHE_OK) {
        fprintf(stderr, "rcache-bench: rcache_open failed\n");
        exit(1);
    }
    return c;
}

static rcache_t *open_cache(void)
{
    return open_cache_as(0);
}

static void fill(rcache_t *c)
{
    for (uint64_t i = 0; i < C.entries; i++)
        if (rcache_set(c, hit_keys + i * C.key_size, C.key_size, value, C.value_size, 0, 0) != RCACHE_OK) {
            fprintf(stderr, "rcache-bench: fill failed at entry %llu\n", (unsigned long long)i);
            exit(1);
        }
}

/* One timed run of op with T threads; returns wall seconds. seqs[t] are the
 * threads' key choices (NULL for set new / delete). */
static double run_once(rcache_t *c, enum op op, int T, uint32_t **seqs, uint64_t per_thread,
                       double *cpu)
{
    worker_t w[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)T);
    for (int t = 0; t < T; t++) {
        w[t] = (worker_t){.c = c, .op = op, .seq = seqs ? seqs[t] : NULL,
                          .lo = C.entries * (uint64_t)t / (uint64_t)T,
                          .count = per_thread, .bar = &bar};
        w[t].n = C.entries * (uint64_t)(t + 1) / (uint64_t)T - w[t].lo;
        pthread_create(&w[t].tid, NULL, work, &w[t]);
    }
    double t0 = 1e300, t1 = 0, cpu_sum = 0;
    int bad = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(w[t].tid, NULL);
        t0 = w[t].t0 < t0 ? w[t].t0 : t0;
        t1 = w[t].t1 > t1 ? w[t].t1 : t1;
        bad |= w[t].err;
        cpu_sum += w[t].cpu;
    }
    *cpu = cpu_sum / T; /* mean CPU seconds per thread */
    pthread_barrier_destroy(&bar);
    if (bad) {
        fprintf(stderr, "rcache-bench: %s: an operation returned an unexpected code\n", op_names[op]);
        exit(1);
    }
    return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static result_t summarize(enum op op, const char *dist, int T, double *secs, double *cpus,
                          uint64_t total_ops)
{
    qsort(secs, (size_t)C.runs, sizeof *secs, cmp_double);
    qsort(cpus, (size_t)C.runs, sizeof *cpus, cmp_double);
    double cmed = C.runs % 2 ? cpus[C.runs / 2] : (cpus[C.runs / 2 - 1] + cpus[C.runs / 2]) / 2;
    double med = C.runs % 2 ? secs[C.runs / 2] : (secs[C.runs / 2 - 1] + secs[C.runs / 2]) / 2;
    /* ns per operation as one thread sees it: wall time / its own ops. */
    double per = (double)total_ops / T;
    result_t r = {op, dist, T, med * 1e9 / per, secs[0] * 1e9 / per,
                  secs[C.runs - 1] * 1e9 / per, cmed * 1e9 / per, (double)total_ops / med};
    return r;
}

static uint64_t rss_bytes(void)
{
    /* statm: "size resident shared ..." in pages */
    FILE *f = fopen("/proc/self/statm", "r");
    char line[256];
    unsigned long long res = 0;
    if (f) {
        if (fgets(line, sizeof line, f)) {
            char *end;
            strtoull(line, &end, 10);
            res = strtoull(end, NULL, 10);
        }
        fclose(f);
    }
    return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Reference: ns per dependent load at random over 128 MiB (a pointer chase
 * through one random cycle, Sattolo's shuffle), i.e. what one cache miss to
 * DRAM costs here. A get on a large uniform table pays a few of these. */
static double dram_latency_ns(void)
{
    size_t n = (128u << 20) / sizeof(uint32_t);
    uint32_t *nx = malloc(n * sizeof *nx);
    if (!nx)
        return 0;
    for (size_t i = 0; i < n; i++)
        nx[i] = (uint32_t)i;
    uint64_t s = 12345;
    for (size_t i = n - 1; i > 0; i--) { /* Sattolo: a single cycle */
        size_t j = splitmix(&s) % i;
        uint32_t t = nx[i];
        nx[i] = nx[j];
        nx[j] = t;
    }
    const size_t steps = 4000000;
    uint32_t p = 0;
    double t0 = rcache__bench_now();
    for (size_t i = 0; i < steps; i++)
        p = nx[p];
    double t1 = rcache__bench_now();
    volatile uint32_t sink = p;
    (void)sink;
    free(nx);
    return (t1 - t0) * 1e9 / (double)steps;
}

/* Strict unsigned number option; exits with a message when it is not one. */
static uint64_t num_opt(const char *name, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-') {
        fprintf(stderr, "rcache-bench: --%s needs a number, not '%s'\n", name, s);
        exit(2);
    }
    return v;
}

static void micro_usage(FILE *f)
{
    fputs("usage: rcache-bench micro [options]\n"
          "  --entries N      entries in the table (default 1000000)\n"
          "  --key-size B     key bytes (default 14, at least 8)\n"
          "  --value-size B   value bytes (default 100, at most 4096)\n"
          "  --threads N      the multi-thread runs use N threads (default: CPUs, >= 2)\n"
          "  --runs R         timed runs per figure; ns/op is their median (default 5)\n"
          "  --ops N          operations per run, all threads together (default = entries)\n"
          "  --dist D         uniform, zipf or both (default both; zipf = Zipf(0.99))\n"
          "  --shards S       cache shards (default 0: the library chooses)\n"
          "  --policy P       eviction policy (lru, sieve, s3fifo, ...; default lru)\n"
          "  --quick          small and fast: 100000 entries, 3 runs\n"
          "  --json           machine-readable output\n", f);
}

int rcache__cmd_micro(int argc, char **argv)
{
    static const struct option opts[] = {
        {"entries", required_argument, 0, 'e'}, {"key-size", required_argument, 0, 'k'},
        {"value-size", required_argument, 0, 'v'}, {"threads", required_argument, 0, 't'},
        {"runs", required_argument, 0, 'r'}, {"ops", required_argument, 0, 'o'},
        {"dist", required_argument, 0, 'd'}, {"shards", required_argument, 0, 's'},
        {"quick", no_argument, 0, 'q'}, {"json", no_argument, 0, 'j'},
        {"policy", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    C = (cfg_t){.entries = 1000000, .key_size = 14, .value_size = 100,
                .threads = ncpu >= 2 ? (int)ncpu : 2, .runs = 5, .do_uniform = 1, .do_zipf = 1};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'e': C.entries = num_opt("entries", optarg); break;
        case 'k': C.key_size = (size_t)num_opt("key-size", optarg); break;
        case 'v': C.value_size = (size_t)num_opt("value-size", optarg); break;
        case 't': C.threads = (int)(num_opt("threads", optarg) > 64 ? 65 : num_opt("threads", optarg)); break;
        case 'r': C.runs = (int)(num_opt("runs", optarg) > 101 ? 102 : num_opt("runs", optarg)); break;
        case 'o': C.ops = num_opt("ops", optarg); break;
        case 'd':
            C.do_uniform = strcmp(optarg, "zipf") != 0;
            C.do_zipf = strcmp(optarg, "uniform") != 0;
            break;
        case 's': C.shards = (int)(num_opt("shards", optarg) > 1024 ? 1025 : num_opt("shards", optarg)); break;
        case 'q': C.entries = 100000; C.runs = 3; break;
        case 'p':
            if (rcache_policy_parse(optarg, &C.policy) != RCACHE_OK) {
                fprintf(stderr, "rcache-bench: unknown policy '%s'\n", optarg);
                return 2;
            }
            break;
        case 'j': C.json = 1; break;
        case 'h': micro_usage(stdout); return 0;
        default: micro_usage(stderr); return 2;
        }
    }
    if (optind != argc || C.entries < 64 || C.entries > 0xffffffffull || C.key_size < 8 ||
        C.key_size > 24 || C.value_size > 4096 || C.threads < 1 || C.threads > 64 ||
        C.runs < 1 || C.runs > 101 || C.shards > 1024) {
        micro_usage(stderr);
        return 2;
    }
    if (C.ops == 0)
        C.ops = C.entries;

    /* Keys and a value, made before any measurement. */
    hit_keys = malloc(C.entries * C.key_size);
    miss_keys = malloc(C.entries * C.key_size);
    value = malloc(C.value_size + 1);
    if (!hit_keys || !miss_keys || !value)
        abort();
    for (uint64_t i = 0; i < C.entries; i++) {
        make_key(hit_keys + i * C.key_size, 'k', i);
        make_key(miss_keys + i * C.key_size, 'm', i);
    }
    memset(value, 'v', C.value_size + 1);

    /* Memory: RSS growth when filling a fresh cache (one thread). */
    uint64_t rss0 = rss_bytes();
    rcache_t *c = open_cache();
    fill(c);
    uint64_t rss1 = rss_bytes();
    rcache_stats_t st;
    rcache_stats(c, &st);
    rcache_config_t used;
    rcache_get_config(c, &used);
    int nshards = (int)used.shards; /* what the library chose for 0 */
    double per_entry = (double)(rss1 - rss0) / (double)C.entries;
    double overhead = per_entry - (double)(C.key_size + C.value_size);
    double charged = (double)st.bytes / (double)C.entries;

    double dram_ns = dram_latency_ns();

    int tcounts[2] = {1, C.threads};
    int ntc = C.threads > 1 ? 2 : 1;
    result_t res[256];
    size_t nres = 0;
    double *secs = calloc((size_t)C.runs, sizeof *secs);
    double *cpus = calloc((size_t)C.runs, sizeof *cpus);
    double dummy;
    const char *dists[2];
    int nd = 0;
    if (C.do_uniform)
        dists[nd++] = "uniform";
    if (C.do_zipf)
        dists[nd++] = "zipf0.99";

    /* Lookups, overwrites and the mix on the filled cache. */
    static const enum op on_filled[] = {OP_GET_HIT, OP_GET_HIT_PF, OP_GET_MISS, OP_GET_REF,
                                        OP_GET_MANY, OP_MEMO_HIT, OP_SET_OVERWRITE, OP_MIX};
    for (int d = 0; d < nd; d++) {
        for (int ti = 0; ti < ntc; ti++) {
            int T = tcounts[ti];
            uint64_t per = C.ops / (uint64_t)T;
            uint32_t *seqs[64];
            for (int t = 0; t < T; t++) {
                uint64_t lo = C.entries * (uint64_t)t / (uint64_t)T;
                uint64_t n = C.entries * (uint64_t)(t + 1) / (uint64_t)T - lo;
                seqs[t] = make_seq(lo, n, per, d == 1 || !C.do_uniform, 42 + (uint64_t)t * 7919);
            }
            for (size_t k = 0; k < sizeof on_filled / sizeof on_filled[0]; k++) {
                if (T > 1 && (on_filled[k] == OP_GET_REF || on_filled[k] == OP_MEMO_HIT ||
                              on_filled[k] == OP_GET_HIT_PF || on_filled[k] == OP_GET_MANY))
                    continue; /* the memoize comparison and the DRAM units are 1-thread figures */
                run_once(c, on_filled[k], T, seqs, per, &dummy); /* warm-up */
                if (on_filled[k] == OP_GET_HIT) {
                    /* diagnostics off and on (issue 15), runs interleaved so
                     * a change in machine load hits both alike */
                    double *s2 = calloc((size_t)C.runs, sizeof *s2), *c2 = calloc((size_t)C.runs, sizeof *c2);
                    if (!s2 || !c2)
                        abort();
                    rcache_diag_enable(c, 1);
                    run_once(c, OP_GET_HIT_DIAG, T, seqs, per, &dummy); /* warm-up */
                    rcache_diag_enable(c, 0);
                    for (int r = 0; r < C.runs; r++) {
                        secs[r] = run_once(c, OP_GET_HIT, T, seqs, per, &cpus[r]);
                        rcache_diag_enable(c, 1);
                        s2[r] = run_once(c, OP_GET_HIT_DIAG, T, seqs, per, &c2[r]);
                        rcache_diag_enable(c, 0);
                    }
                    res[nres++] = summarize(OP_GET_HIT, dists[d], T, secs, cpus, per * (uint64_t)T);
                    res[nres++] = summarize(OP_GET_HIT_DIAG, dists[d], T, s2, c2, per * (uint64_t)T);
                    free(s2);
                    free(c2);
                    continue;
                }
                for (int r = 0; r < C.runs; r++)
                    secs[r] = run_once(c, on_filled[k], T, seqs, per, &cpus[r]);
                res[nres++] = summarize(on_filled[k], dists[d], T, secs, cpus, per * (uint64_t)T);
            }
            for (int t = 0; t < T; t++)
                free(seqs[t]);
        }
    }
    rcache_close(c);

    /* Set new (fresh cache each run) and delete (refilled each run): every
     * thread on its own key range; the key choice does not apply. */
    for (int ti = 0; ti < ntc; ti++) {
        int T = tcounts[ti];
        for (int r = 0; r < C.runs; r++) {
            c = open_cache();
            secs[r] = run_once(c, OP_SET_NEW, T, NULL, 0, &cpus[r]);
            rcache_close(c);
        }
        res[nres++] = summarize(OP_SET_NEW, "sequential", T, secs, cpus, C.entries);
        if (T == 1) { /* the store's own cost, without the index's doublings */
            for (int r = 0; r < C.runs; r++) {
                c = open_cache_as(1);
                secs[r] = run_once(c, OP_SET_NEW_SIZED, T, NULL, 0, &cpus[r]);
                rcache_close(c);
            }
            res[nres++] = summarize(OP_SET_NEW_SIZED, "sequential", T, secs, cpus, C.entries);
        }
        for (int r = 0; r < C.runs; r++) {
            c = open_cache();
            fill(c);
            secs[r] = run_once(c, OP_DELETE, T, NULL, 0, &cpus[r]);
            rcache_close(c);
        }
        res[nres++] = summarize(OP_DELETE, "sequential", T, secs, cpus, C.entries);
    }
    free(secs);
    free(cpus);

    /* Headline figures (issue 2 targets). */
    const result_t *gh1 = NULL, *ghN = NULL, *sn1 = NULL, *gref = NULL, *memo = NULL, *gpf = NULL,
                   *sns = NULL, *gmany = NULL;
    for (size_t i = 0; i < nres; i++) {
        const result_t *r = &res[i];
        if (strcmp(r->dist, "sequential") != 0 && strcmp(r->dist, dists[0]) != 0)
            continue;
        if (r->op == OP_GET_HIT && r->threads == 1) gh1 = r;
        if (r->op == OP_GET_HIT && r->threads == C.threads && C.threads > 1) ghN = r;
        if (r->op == OP_SET_NEW && r->threads == 1) sn1 = r;
        if (r->op == OP_GET_REF && r->threads == 1) gref = r;
        if (r->op == OP_MEMO_HIT && r->threads == 1) memo = r;
        if (r->op == OP_GET_HIT_PF && r->threads == 1) gpf = r;
        if (r->op == OP_GET_MANY && r->threads == 1) gmany = r;
        if (r->op == OP_SET_NEW_SIZED && r->threads == 1) sns = r;
    }
    double scaling = gh1 && ghN ? ghN->ops_per_s / gh1->ops_per_s : 0;

    if (C.json) {
        printf("{\"config\": {\"entries\": %llu, \"key_size\": %zu, \"value_size\": %zu, "
               "\"threads\": %d, \"runs\": %d, \"ops_per_run\": %llu, \"shards\": %d, \"cpus\": %ld, "
               "\"dram_random_load_ns\": %.1f},\n",
               (unsigned long long)C.entries, C.key_size, C.value_size, C.threads, C.runs,
               (unsigned long long)C.ops, nshards, ncpu, dram_ns);
        printf(" \"memory\": {\"rss_delta_bytes\": %llu, \"rss_bytes_per_entry\": %.1f, "
               "\"overhead_bytes_per_entry\": %.1f, \"charged_bytes_per_entry\": %.1f},\n",
               (unsigned long long)(rss1 - rss0), per_entry, overhead, charged);
        printf(" \"results\": [\n");
        for (size_t i = 0; i < nres; i++)
            printf("  {\"op\": \"%s\", \"keys\": \"%s\", \"threads\": %d, \"ns_per_op_median\": %.1f, "
                   "\"ns_per_op_min\": %.1f, \"ns_per_op_max\": %.1f, \"cpu_ns_per_op_median\": %.1f, "
                   "\"ops_per_second\": %.0f}%s\n",
                   op_names[res[i].op], res[i].dist, res[i].threads, res[i].med, res[i].min,
                   res[i].max, res[i].cpu_med, res[i].ops_per_s, i + 1 < nres ? "," : "");
        printf(" ],\n \"targets\": {\"get_hit_ns\": %.1f, \"set_new_ns\": %.1f, "
               "\"threads_scaling_get_hit\": %.2f, \"overhead_bytes_per_entry\": %.1f, "
               "\"memoize_hit_ns\": %.1f, \"get_ref_hit_ns\": %.1f, \"memoize_overhead_ns\": %.1f, "
               "\"memoize_overhead_cpu_ns\": %.1f}}\n",
               gh1 ? gh1->med : 0, sn1 ? sn1->med : 0, scaling, overhead, memo ? memo->med : 0,
               gref ? gref->med : 0, memo && gref ? memo->med - gref->med : 0,
               memo && gref ? memo->cpu_med - gref->cpu_med : 0);
        return 0;
    }
    printf("librcache micro-benchmarks: %llu entries, %zu-byte keys, %zu-byte values, "
           "%d shards, policy %s, %d runs per figure, %llu ops per run, %ld CPUs\n",
           (unsigned long long)C.entries, C.key_size, C.value_size, nshards,
           rcache_policy_name(C.policy), C.runs, (unsigned long long)C.ops, ncpu);
    printf("reference: one dependent random load over 128 MiB (a DRAM miss) takes %.1f ns here\n\n",
           dram_ns);
    printf("| operation | keys | threads | ns/op median | min | max | CPU ns/op | ops/s (all threads) |\n"
           "|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < nres; i++)
        printf("| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.0f |\n", op_names[res[i].op],
               res[i].dist, res[i].threads, res[i].med, res[i].min, res[i].max,
               res[i].cpu_med, res[i].ops_per_s);
    printf("\nns/op is the wall time one thread spends per operation (wall time / its operations);\n"
           "CPU ns/op is the same with the thread's CPU time, which a busy machine does not inflate.\n");
    printf("\nmemory: RSS grew %.1f MiB for %llu entries: %.1f bytes per entry, %.1f beyond "
           "key + value (%zu); the cache charges %.1f bytes per entry\n",
           (double)(rss1 - rss0) / 1048576.0, (unsigned long long)C.entries, per_entry,
           overhead, C.key_size + C.value_size, charged);
    printf("\nissue-2 targets (%s keys, %llu entries; the targets are for 1000000):\n", dists[0],
           (unsigned long long)C.entries);
    if (gh1)
        printf("  get hit, 1 thread:       %7.1f ns median (CPU %.1f)  target <= 100: %s\n",
               gh1->med, gh1->cpu_med, gh1->med <= 100 ? "met" : "NOT met");
    if (sn1)
        printf("  set new 100-byte value:  %7.1f ns median (CPU %.1f)  target <= 250: %s\n",
               sn1->med, sn1->cpu_med, sn1->med <= 250 ? "met" : "NOT met");
    if (ghN)
        printf("  get hit, %d threads / 1:  %7.2fx throughput              target >= 1.7: %s\n",
               C.threads, scaling, scaling >= 1.7 ? "met" : "NOT met");
    printf("  overhead per entry:      %7.1f bytes (RSS)                target <= 48:  %s\n",
           overhead, overhead <= 48 ? "met" : "NOT met");
    if (memo && gref && gh1)
        printf("  memoize hit %.1f ns (CPU %.1f) vs get_ref hit %.1f ns (CPU %.1f): single-flight "
               "overhead %+.1f ns (CPU %+.1f); get with copy %.1f ns (CPU %.1f)\n",
               memo->med, memo->cpu_med, gref->med, gref->cpu_med, memo->med - gref->med,
               memo->cpu_med - gref->cpu_med, gh1->med, gh1->cpu_med);
    if (gh1 && gpf && dram_ns > 0)
        printf("  get hit in DRAM-latency units (issue 13, target <= 1.5): %.2f; %.2f with the "
               "next key prefetched (the cache's own misses)\n",
               gh1->med / dram_ns, gpf->med / dram_ns);
    if (gmany && gref && dram_ns > 0)
        printf("  get_many_ref, 16 keys a call: %.2f DRAM-latency units a key (get_ref alone: "
               "%.2f)\n",
               gmany->med / dram_ns, gref->med / dram_ns);
    if (sn1 && sns && dram_ns > 0)
        printf("  set new in DRAM-latency units (issue 13, target <= 2): %.2f; %.2f into a sized "
               "cache (no index doublings)\n",
               sn1->med / dram_ns, sns->med / dram_ns);
    return 0;
}
