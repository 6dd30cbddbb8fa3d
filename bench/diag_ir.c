/*
 * diag_ir.c - rcache-diag-ir: the get-hit loop of `rcache-bench micro`, in
 * one diagnostics mode per run, for counting instructions under callgrind
 * (bench/dashboard_cost.sh, issue 15).
 *
 * Why a program of its own: wall-clock ns/op of a ~50 ns lookup on a shared
 * machine varies more between identical runs than the estimator costs, and
 * `rcache-bench micro` runs diagnostics off and on in one process. Here one
 * process runs one mode, and the lookups are in measured_gets() alone, so
 * `valgrind --tool=callgrind --toggle-collect=measured_gets` counts exactly
 * their instructions, which repeat to the instruction on any machine load.
 * Instructions do not see cache misses or lock contention: the figure is the
 * work the estimator and sketches add, not their full wall-clock cost.
 *
 * usage: rcache-diag-ir [--entries N] [--ops K] [--dist uniform|zipf]
 *                       [--mode off|lib|rcached]
 *   off      diagnostics off
 *   lib      rcache_diag_enable() with the library defaults (MRC rate at
 *            most 1/256, hot keys 1 lookup in 256)
 *   rcached  the options rcached uses (MRC rate 1, hot keys 1 in 16)
 * Keys of 14 bytes and values of 100 (as micro); a warm-up pass of K
 * lookups, then K measured ones with the same key sequence.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcache.h"

#define KEY_SIZE 14
#define VALUE_SIZE 100

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) { /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static void make_key(char *dst, uint64_t i) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "k%0*llu", KEY_SIZE - 1, (unsigned long long)i);
    memcpy(dst, tmp, KEY_SIZE);
}

/* K indexes in [0, n): uniform, or Zipf(0.99) by inverse CDF. */
static uint32_t *make_seq(uint64_t n, uint64_t k, int zipf) {
    uint32_t *seq = malloc(k * sizeof *seq);
    double *cdf = zipf ? malloc(n * sizeof *cdf) : NULL;
    double sum = 0;
    if (!seq || (zipf && !cdf))
        exit(1);
    for (uint64_t i = 0; zipf && i < n; i++)
        cdf[i] = (sum += 1.0 / pow((double)(i + 1), 0.99));
    for (uint64_t j = 0; j < k; j++) {
        if (!zipf) {
            seq[j] = (uint32_t)(next_rand() % n);
            continue;
        }
        double u = (double)(next_rand() >> 11) / 9007199254740992.0 * sum;
        uint64_t lo = 0, hi = n - 1;
        while (lo < hi) {
            uint64_t mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        /* rank r -> a key spread over the table, not the first ones */
        seq[j] = (uint32_t)((lo * 2654435761u) % n);
    }
    free(cdf);
    return seq;
}

static inline int get_loop(rcache_t *c, const char *keys, const uint32_t *seq,
                           uint64_t k) {
    char buf[VALUE_SIZE];
    size_t len;
    int bad = 0;
    for (uint64_t j = 0; j < k; j++)
        bad |= rcache_get(c, keys + (size_t)seq[j] * KEY_SIZE, KEY_SIZE, buf, sizeof buf,
                          &len) != RCACHE_OK;
    return bad;
}

/* The measured loop (callgrind --toggle-collect=measured_gets). */
__attribute__((noipa)) static int measured_gets(rcache_t *c, const char *keys,
                                                   const uint32_t *seq, uint64_t k) {
    return get_loop(c, keys, seq, k);
}

/* The same loop, not measured (its own copy: callgrind counts every call
 * of measured_gets). */
__attribute__((noipa)) static int warm_gets(rcache_t *c, const char *keys,
                                               const uint32_t *seq, uint64_t k) {
    return get_loop(c, keys, seq, k);
}

int main(int argc, char **argv) {
    uint64_t n = 1000000, k = 1000000;
    const char *mode = "off", *dist = "uniform";
    rcache_config_t cfg;
    rcache_t *c = NULL;
    char *keys, val[VALUE_SIZE];
    uint32_t *seq;
    int bad;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--entries"))
            n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--ops"))
            k = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
        else if (!strcmp(argv[i], "--dist"))
            dist = argv[i + 1];
        else
            break;
    }
    if (n == 0 || n > UINT32_MAX || k == 0 ||
        (strcmp(mode, "off") != 0 && strcmp(mode, "lib") != 0 &&
         strcmp(mode, "rcached") != 0) ||
        (strcmp(dist, "uniform") != 0 && strcmp(dist, "zipf") != 0)) {
        fprintf(stderr, "usage: rcache-diag-ir [--entries N] [--ops K] "
                        "[--dist uniform|zipf] [--mode off|lib|rcached]\n");
        return 2;
    }
    keys = malloc(n * KEY_SIZE);
    rcache_config_init(&cfg);
    if (!keys || rcache_open(&cfg, &c) != RCACHE_OK) {
        free(keys);
        return 1;
    }
    memset(val, 'v', sizeof val);
    bad = 0;
    for (uint64_t i = 0; i < n && !bad; i++) {
        make_key(keys + i * KEY_SIZE, i);
        bad = rcache_set(c, keys + i * KEY_SIZE, KEY_SIZE, val, sizeof val, 0, 0) != RCACHE_OK;
    }
    if (!strcmp(mode, "lib")) {
        bad |= rcache_diag_enable(c, 1) != RCACHE_OK;
    } else if (!strcmp(mode, "rcached")) {
        rcache_diag_opts_t o;
        rcache_diag_opts_init(&o);
        o.mrc_max_rate = 1.0;
        o.hotkeys_every = 16;
        bad |= rcache_diag_enable_ex(c, 1, &o) != RCACHE_OK;
    }
    if (!bad) {
        seq = make_seq(n, k, !strcmp(dist, "zipf"));
        bad = warm_gets(c, keys, seq, k);
        bad |= measured_gets(c, keys, seq, k);
        free(seq);
    }
    printf("entries %llu, ops %llu, %s, diagnostics %s%s\n", (unsigned long long)n,
           (unsigned long long)k, dist, mode, bad ? " (FAILED: broken run)" : "");
    rcache_close(c);
    free(keys);
    return bad;
}
