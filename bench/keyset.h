/*
 * keyset.h - an exact set of byte-string keys, with the last size seen for
 * each, used to count a trace's unique keys and bytes of unique objects.
 */
#ifndef RCACHE_BENCH_KEYSET_H
#define RCACHE_BENCH_KEYSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct rcache__keyset rcache__keyset_t;

rcache__keyset_t *rcache__keyset_new(void);
/* Add a key (or find it) and record `size` as its last size.
 * Returns 1 if the key is new, 0 if it was there, -1 out of memory. */
int rcache__keyset_add(rcache__keyset_t *ks, const void *key, size_t len,
                       uint64_t size);
/* The same, and the key's dense id in *id: 0 for the first key added, 1 for
 * the second new one, ... (the same id each time the key comes back).
 * -1 also when 2^32 - 1 keys are already there. */
int rcache__keyset_add_id(rcache__keyset_t *ks, const void *key, size_t len,
                          uint64_t size, uint32_t *id);
uint64_t rcache__keyset_count(const rcache__keyset_t *ks);
/* Sum over the keys of their last size. */
uint64_t rcache__keyset_size_sum(const rcache__keyset_t *ks);
void rcache__keyset_free(rcache__keyset_t *ks);

#endif
