/*
 * alloc.c - the library's allocation entry points.
 *
 * Every allocation in librcache goes through rcache__malloc() and friends so
 * that one build (RCACHE_ALLOC_FAIL) can make the N-th allocation fail and
 * prove that each public call either succeeds or returns RCACHE_ENOMEM with
 * the cache intact. In normal builds these are thin wrappers the compiler
 * inlines into a call to libc.
 */
#include "internal.h"

#include <stdlib.h>

#ifdef RCACHE_ALLOC_FAIL
static _Atomic long fail_at;     /* allocation number that fails; 0 = off */
static _Atomic long alloc_count; /* allocations since the last arming */
static _Atomic int fail_sticky;

void rcache__alloc_fail_after(long nth, int sticky) {
    atomic_store(&alloc_count, 0);
    atomic_store(&fail_sticky, sticky);
    atomic_store(&fail_at, nth);
}

long rcache__alloc_count(void) { return atomic_load(&alloc_count); }

static int should_fail(void) {
    long at = atomic_load(&fail_at);
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    if (at <= 0)
        return 0;
    return n == at || (atomic_load(&fail_sticky) && n > at);
}
#else
static inline int should_fail(void) { return 0; }
#endif

int rcache__alloc_injected_failure(void) { return should_fail(); }

void *rcache__malloc(size_t n) { return should_fail() ? NULL : malloc(n); }

void *rcache__calloc(size_t n, size_t size) {
    return should_fail() ? NULL : calloc(n, size);
}

void *rcache__realloc(void *p, size_t n) {
    return should_fail() ? NULL : realloc(p, n);
}

void rcache__free(void *p) { free(p); }
