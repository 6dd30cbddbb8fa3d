/*
 * costmodel.c - per-key compute costs for `rcache-bench trace --cost`
 * (costmodel.h): a seeded hash of the key drives them, so a key costs the
 * same in every replay and for every policy, and the figure "compute time
 * recomputed" (the sum of the costs of the misses) compares policies on
 * the same workload.
 *
 * lognormal[:MU,SIGMA]: cost = exp(MU + SIGMA * z) ms rounded to whole ms
 *   (at least 1), z standard normal from two uniforms of the key's hash
 *   (Box-Muller). Defaults MU 1, SIGMA 2: median 2.7 ms, mean 20 ms, the
 *   costliest 1% above 285 ms: a few results dominate what misses cost,
 *   as for a result cache in front of queries of very unequal weight.
 * size[:BYTES_PER_MS]: cost = size / BYTES_PER_MS ms (default 1024: 1 ms
 *   per KiB), rounded up, at least 1; for traces with sizes.
 */
#include "costmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* FNV-1a of the key, mixed with the seed. */
static uint64_t key_hash(const void *key, size_t klen, uint64_t seed) {
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return mix(h ^ mix(seed + 0x9e3779b97f4a7c15ull));
}

/* Two numbers "A,B" after a colon, both finite. */
static int two(const char *s, double *a, double *b) {
    char *end;
    *a = strtod(s, &end);
    if (end == s || *end != ',' || !isfinite(*a))
        return -1;
    const char *t = end + 1;
    *b = strtod(t, &end);
    return end == t || *end || !isfinite(*b) ? -1 : 0;
}

int rcache__cost_parse(const char *spec, rcache__cost_model_t *m, char *why,
                       size_t whylen) {
    uint64_t seed = m->seed;
    memset(m, 0, sizeof *m);
    m->seed = seed;
    if (strncmp(spec, "lognormal", 9) == 0 && (!spec[9] || spec[9] == ':')) {
        m->kind = RCACHE__COST_LOGNORMAL;
        m->mu = RCACHE__COST_MU;
        m->sigma = RCACHE__COST_SIGMA;
        if (spec[9] && (two(spec + 10, &m->mu, &m->sigma) != 0 || m->sigma < 0 ||
                        m->mu > 30 || m->mu < -30 || m->sigma > 10)) {
            snprintf(why, whylen, "lognormal:MU,SIGMA wants -30 <= MU <= 30 and "
                                  "0 <= SIGMA <= 10 (ln ms)");
            return -1;
        }
        return 0;
    }
    if (strncmp(spec, "size", 4) == 0 && (!spec[4] || spec[4] == ':')) {
        m->kind = RCACHE__COST_SIZE;
        m->bytes_per_ms = RCACHE__COST_BYTES_PER_MS;
        if (spec[4]) {
            char *end;
            m->bytes_per_ms = strtod(spec + 5, &end);
            if (end == spec + 5 || *end || !isfinite(m->bytes_per_ms) ||
                m->bytes_per_ms <= 0) {
                snprintf(why, whylen, "size:BYTES_PER_MS wants a number > 0");
                return -1;
            }
        }
        return 0;
    }
    snprintf(why, whylen, "unknown cost model '%s' (lognormal[:MU,SIGMA] or "
                          "size[:BYTES_PER_MS])", spec);
    return -1;
}

void rcache__cost_format(const rcache__cost_model_t *m, char *buf, size_t len) {
    if (m->kind == RCACHE__COST_LOGNORMAL)
        snprintf(buf, len, "lognormal:%g,%g seed %llu", m->mu, m->sigma,
                 (unsigned long long)m->seed);
    else if (m->kind == RCACHE__COST_SIZE)
        snprintf(buf, len, "size:%g", m->bytes_per_ms);
    else
        snprintf(buf, len, "none");
}

uint64_t rcache__cost_of(const rcache__cost_model_t *m, const void *key,
                         size_t klen, uint64_t size, int has_size) {
    double ms = 1;
    if (m->kind == RCACHE__COST_LOGNORMAL) {
        uint64_t h = key_hash(key, klen, m->seed);
        /* two 26-bit uniforms in (0, 1) */
        double u1 = ((double)(h >> 38) + 0.5) / 67108864.0;
        double u2 = ((double)((h >> 12) & 0x3ffffffu) + 0.5) / 67108864.0;
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        ms = floor(exp(m->mu + m->sigma * z) + 0.5);
    } else if (m->kind == RCACHE__COST_SIZE && has_size) {
        ms = ceil((double)size / m->bytes_per_ms);
    }
    if (!(ms >= 1))
        return 1;
    return ms > 4294967295.0 ? 4294967295u : (uint64_t)ms;
}
