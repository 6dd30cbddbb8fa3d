/*
 * strtab.c - the chained string-keyed hash table behind the Pub/Sub
 * registry and the tracking key table (strtab.h). One implementation so the
 * two keep one hash, one growth rule and one binary-safe compare.
 *
 * Names are hashed with the cache's own key hash (rcache_key_hash, XXH3)
 * rather than a second hash function of this file's own.
 */
#include "strtab.h"

#include "rcache.h"

#include <stdlib.h>
#include <string.h>

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
    return rcache__strtab_list_slot(&t->buckets[rcache_key_hash(name, len) & t->mask],
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
            rcache__strtab_node_t **b = &nb[rcache_key_hash(n->name, n->len) & nmask];
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
