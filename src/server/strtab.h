/*
 * strtab.h - a chained hash table of nodes named by byte strings, shared by
 * the Pub/Sub channel registry (pubsub.c) and the client-side caching key
 * table (tracking.c).
 *
 * Intrusive: a node type embeds rcache__strtab_node_t as its first member
 * and points its `name` at bytes it owns (usually its own flexible array);
 * the table allocates only its bucket array, never a node. Names are
 * compared as bytes (binary-safe, any length).
 *
 * Thread-safety: none; every call under the owner's lock.
 */
#ifndef RCACHE_SERVER_STRTAB_H
#define RCACHE_SERVER_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct rcache__strtab_node {
    struct rcache__strtab_node *next; /* bucket chain (or the owner's list) */
    const char *name;                 /* the node's name, owned by the node */
    size_t len;                       /* its length in bytes */
} rcache__strtab_node_t;

typedef struct rcache__strtab {
    rcache__strtab_node_t **buckets; /* mask + 1 chains; NULL before init */
    size_t mask;
    size_t count; /* nodes linked */
} rcache__strtab_t;

/* Allocate nbuckets (a power of 2, >= 1) empty chains. Returns 0, or -1
 * when out of memory (t unchanged). */
int rcache__strtab_init(rcache__strtab_t *t, size_t nbuckets);
/* Free the bucket array (not the nodes: unlink them first). */
void rcache__strtab_fini(rcache__strtab_t *t);
/* The link that holds the node named (name, len), or the empty link at the
 * end of its chain where such a node would go (*result NULL). t
 * initialised. */
rcache__strtab_node_t **rcache__strtab_slot(const rcache__strtab_t *t,
                                            const void *name, size_t len);
/* The same over a plain list linked by `next` (from *head). */
rcache__strtab_node_t **rcache__strtab_list_slot(rcache__strtab_node_t **head,
                                                 const void *name, size_t len);
/* Put n (name set, not in the table) in the empty link `slot` returned by
 * rcache__strtab_slot for its name. Doubles the bucket array past two
 * nodes a bucket (kept as it is when that allocation fails: longer
 * chains, still correct), so other slots are stale after the call. */
void rcache__strtab_link(rcache__strtab_t *t, rcache__strtab_node_t **slot,
                         rcache__strtab_node_t *n);
/* Take out the node held by `slot` and return it (the caller frees it). */
rcache__strtab_node_t *rcache__strtab_unlink(rcache__strtab_t *t,
                                             rcache__strtab_node_t **slot);

#endif
