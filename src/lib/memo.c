/*
 * memo.c - get-or-compute with single-flight (placeholder until the
 * memoize work lands: the hooks below keep rcache_open/close linkable).
 */
#include "internal.h"

int rcache__memo_init(rcache_t *c) {
    c->memo = NULL;
    return RCACHE_OK;
}

void rcache__memo_fini(rcache_t *c) { (void)c; }
