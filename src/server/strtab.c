/*
 * strtab.c - the chained string-keyed hash table behind the Pub/Sub
 * registry and the tracking key table (strtab.h). One implementation so the
 * two keep one hash, one growth rule and one binary-safe compare.
 *
 * FNV-1a hashes the names: channel names and tracked keys are short, the
 * tables are small next to the cache, and neither is reachable by a client
 * choosing names to collide any more cheaply than by filling it (each has
 * its own size limit).
 */
#include "strtab.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_of(const void *p, size_t len) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

int rcache__strtab_init(rcache__strtab_t *t, size_t nbuckets) {
    rcache__strtab_node_t **b = calloc(nbuckets, sizeof(rcache__strtab_node_t *));
    if (!b)
        return -1;
    t->buckets = b;
    t->mask = nbuckets - 1;
    t->count = 0;
    return 0;
}

void rcache__strtab_fini(rcache__strtab_t *t) {
    free(t->buckets);
    t->buckets = NULL;
    t->mask = t->count = 0;
}

rcache__strtab_node_t **rcache__strtab_list_slot(rcache__strtab_node_t **head,
                                                 const void *name, size_t len) {
    rcache__strtab_node_t **p = head;
    while (*p && !((*p)->len == len && memcmp((*p)->name, name, len) == 0))
        p = &(*p)->next;
    return p;
}

rcache__strtab_node_t **rcache__strtab_slot(const rcache__strtab_t *t,
                                            const void *name, size_t len) {
    return rcache__strtab_list_slot(&t->buckets[hash_of(name, len) & t->mask],
                                    name, len);
}

static void grow(rcache__strtab_t *t) {
    size_t nmask = t->mask * 2 + 1;
    rcache__strtab_node_t **nb = calloc(nmask + 1, sizeof(rcache__strtab_node_t *));
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i <= t->mask; i++) {
        for (rcache__strtab_node_t *n = t->buckets[i], *next; n; n = next) {
            next = n->next;
            rcache__strtab_node_t **b = &nb[hash_of(n->name, n->len) & nmask];
            n->next = *b;
            *b = n;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->mask = nmask;
}

void rcache__strtab_link(rcache__strtab_t *t, rcache__strtab_node_t **slot,
                         rcache__strtab_node_t *n) {
    n->next = NULL;
    *slot = n;
    if (++t->count > 2 * (t->mask + 1))
        grow(t);
}

rcache__strtab_node_t *rcache__strtab_unlink(rcache__strtab_t *t,
                                             rcache__strtab_node_t **slot) {
    rcache__strtab_node_t *n = *slot;
    *slot = n->next;
    t->count--;
    return n;
}
