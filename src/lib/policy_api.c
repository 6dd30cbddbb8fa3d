/*
 * policy_api.c - the public side of eviction policies: names, parsing,
 * and changing the policy of a live cache (rcache_set_policy()).
 *
 * A change allocates every shard's new state first (so ENOMEM leaves the
 * cache as it was), then visits the shards one at a time and, under each
 * lock, rethreads its entries into the new policy (policy.c). Nothing is
 * evicted or freed, so references and both limits are unaffected.
 */
#include "internal.h"

#include <strings.h>

static const char *const names[RCACHE_POLICY_COUNT] = {
    [RCACHE_POLICY_LRU] = "lru",
    [RCACHE_POLICY_S3FIFO] = "s3fifo",
    [RCACHE_POLICY_SIEVE] = "sieve",
    [RCACHE_POLICY_WTINYLFU] = "wtinylfu",
    [RCACHE_POLICY_WTINYLFU_FIXED] = "wtinylfu-fixed",
    [RCACHE_POLICY_GDSF] = "gdsf",
};

const char *rcache_policy_name(int policy) {
    if (policy < 0 || policy >= RCACHE_POLICY_COUNT)
        return NULL;
    return names[policy];
}

int rcache_policy_parse(const char *name, int *out) {
    if (!name || !out)
        return RCACHE_EINVAL;
    for (int i = 0; i < RCACHE_POLICY_COUNT; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = i;
            return RCACHE_OK;
        }
    }
    if (strcasecmp(name, "w-tinylfu") == 0 || strcasecmp(name, "tinylfu") == 0) {
        *out = RCACHE_POLICY_WTINYLFU;
        return RCACHE_OK;
    }
    return RCACHE_EINVAL;
}

int rcache_get_policy(const rcache_t *c) {
    if (!c)
        return RCACHE_POLICY_LRU;
    return atomic_load_explicit(&c->policy, memory_order_relaxed);
}

int rcache_set_policy(rcache_t *c, int policy) {
    if (!c || policy < 0 || policy >= RCACHE_POLICY_COUNT)
        return RCACHE_EINVAL;
    pthread_mutex_lock(&c->policy_lock);
    if (atomic_load(&c->policy) == policy) {
        pthread_mutex_unlock(&c->policy_lock);
        return RCACHE_OK;
    }
    rcache__pol_t *np = rcache__calloc(c->nshards, sizeof(*np));
    uint32_t made = 0;
    if (np) {
        for (; made < c->nshards; made++)
            if (rcache__pol_init(&np[made], policy) != RCACHE_OK)
                break;
    }
    if (!np || made < c->nshards) {
        for (uint32_t i = 0; np && i < made; i++)
            rcache__pol_fini(&np[i]);
        rcache__free(np);
        pthread_mutex_unlock(&c->policy_lock);
        return RCACHE_ENOMEM;
    }
    for (uint32_t i = 0; i < c->nshards; i++) {
        rcache__shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        rcache__pol_switch_locked(c, s, &np[i]);
        pthread_mutex_unlock(&s->lock);
    }
    atomic_store(&c->policy, policy);
    rcache__free(np);
    pthread_mutex_unlock(&c->policy_lock);
    return RCACHE_OK;
}
