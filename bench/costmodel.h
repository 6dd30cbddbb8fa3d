/*
 * costmodel.h - the per-key compute-cost models of `rcache-bench trace
 * --cost`: how long recomputing a key's value would take, in ms, as a pure
 * function of the key (and its size) and a seed, so every replay of a
 * trace, whatever the policy, charges each key the same cost.
 */
#ifndef RCACHE_BENCH_COSTMODEL_H
#define RCACHE_BENCH_COSTMODEL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RCACHE__COST_NONE = 0,
    RCACHE__COST_LOGNORMAL, /* exp(N(mu, sigma)) ms */
    RCACHE__COST_SIZE       /* size / bytes_per_ms ms */
} rcache__cost_kind_t;

typedef struct rcache__cost_model {
    rcache__cost_kind_t kind;
    double mu, sigma;     /* lognormal: of the cost's natural log, in ln(ms) */
    double bytes_per_ms;  /* size: bytes recomputed per ms */
    uint64_t seed;
} rcache__cost_model_t;

/* Defaults of the parameters a spec leaves out. */
#define RCACHE__COST_MU 1.0
#define RCACHE__COST_SIGMA 2.0
#define RCACHE__COST_BYTES_PER_MS 1024.0

/* Parse "lognormal", "lognormal:MU,SIGMA", "size" or "size:BYTES_PER_MS"
 * (seed left as it is). 0, or -1 with a reason in why. Pure. */
int rcache__cost_parse(const char *spec, rcache__cost_model_t *m, char *why,
                       size_t whylen);
/* The spec back, with every parameter ("lognormal:1,2"). */
void rcache__cost_format(const rcache__cost_model_t *m, char *buf, size_t len);
/* Cost of one request's key, in whole ms, at least 1 (librcache stores
 * whole ms): lognormal ignores size; size needs has_size (else 1). */
uint64_t rcache__cost_of(const rcache__cost_model_t *m, const void *key,
                         size_t klen, uint64_t size, int has_size);

#endif
