/*
 * keyset.c - exact set of byte-string keys (open addressing, linear
 * probing, xxHash3 hashes), keeping each key's last size.
 *
 * rcache-bench needs exact unique-key counts (capacity = a percentage of
 * them) and the bytes of unique objects; a probabilistic counter would make
 * the hit ratios differ from the reference.  Keys are copied into one
 * growing arena so that a 5M-request trace costs a few MB.
 */
#include "keyset.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct slot {
    uint64_t hash;  /* 0 = empty (real hashes of 0 are stored as 1) */
    uint64_t off;   /* key bytes at arena[off, off + len) */
    uint64_t size;  /* last size seen */
    uint32_t len;
    uint32_t id;    /* dense id: the key's rank in order of first sight */
} slot_t;

struct rcache__keyset {
    slot_t *slots;
    size_t cap;     /* power of two */
    size_t count;
    unsigned char *arena;
    size_t arena_len, arena_cap;
    uint64_t size_sum;
};

rcache__keyset_t *rcache__keyset_new(void)
{
    rcache__keyset_t *ks = calloc(1, sizeof *ks);
    if (!ks)
        return NULL;
    ks->cap = 1024;
    ks->slots = calloc(ks->cap, sizeof *ks->slots);
    if (!ks->slots) {
        free(ks);
        return NULL;
    }
    return ks;
}

static int grow(rcache__keyset_t *ks)
{
    size_t ncap = ks->cap * 2;
    slot_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < ks->cap; i++) {
        if (!ks->slots[i].hash)
            continue;
        size_t j = ks->slots[i].hash & (ncap - 1);
        while (ns[j].hash)
            j = (j + 1) & (ncap - 1);
        ns[j] = ks->slots[i];
    }
    free(ks->slots);
    ks->slots = ns;
    ks->cap = ncap;
    return 0;
}

int rcache__keyset_add(rcache__keyset_t *ks, const void *key, size_t len,
                       uint64_t size)
{
    uint32_t id;
    return rcache__keyset_add_id(ks, key, len, size, &id);
}

int rcache__keyset_add_id(rcache__keyset_t *ks, const void *key, size_t len,
                          uint64_t size, uint32_t *id)
{
    uint64_t h = XXH3_64bits(key, len);
    if (h == 0)
        h = 1;
    size_t i = h & (ks->cap - 1);
    for (; ks->slots[i].hash; i = (i + 1) & (ks->cap - 1)) {
        slot_t *s = &ks->slots[i];
        if (s->hash == h && s->len == len &&
            memcmp(ks->arena + s->off, key, len) == 0) {
            ks->size_sum += size - s->size;
            s->size = size;
            *id = s->id;
            return 0;
        }
    }
    if (ks->count >= UINT32_MAX)
        return -1; /* no dense id left */
    if (ks->arena_len + len > ks->arena_cap) {
        size_t ncap = ks->arena_cap ? ks->arena_cap * 2 : 65536;
        while (ncap < ks->arena_len + len)
            ncap *= 2;
        unsigned char *na = realloc(ks->arena, ncap);
        if (!na)
            return -1;
        ks->arena = na;
        ks->arena_cap = ncap;
    }
    memcpy(ks->arena + ks->arena_len, key, len);
    *id = (uint32_t)ks->count;
    ks->slots[i] = (slot_t){h, ks->arena_len, size, (uint32_t)len, *id};
    ks->arena_len += len;
    ks->count++;
    ks->size_sum += size;
    if (ks->count * 4 > ks->cap * 3 && grow(ks) != 0)
        return -1;
    return 1;
}

uint64_t rcache__keyset_count(const rcache__keyset_t *ks) { return ks->count; }
uint64_t rcache__keyset_size_sum(const rcache__keyset_t *ks) { return ks->size_sum; }

void rcache__keyset_free(rcache__keyset_t *ks)
{
    if (!ks)
        return;
    free(ks->slots);
    free(ks->arena);
    free(ks);
}
