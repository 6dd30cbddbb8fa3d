/*
 * test_epoch.c - epoch-based reclamation (src/lib/epoch.c): a retired
 * block is freed only after every section that could see it has ended,
 * sections nest, a barrier frees the backlog, a stalled reader makes a
 * retirement past RCACHE__EPOCH_MAX_PENDING wait (the bound) instead of
 * letting memory grow, and a stress of readers dereferencing blocks while
 * writers replace and retire them (run under ASan and TSan: a block read
 * after its free is reported; each block also carries a pattern the readers
 * check), and entries: try-get against a freed or write-held entry, and
 * destructors that run at the last unref while the block waits.
 * Synchronisation is explicit (mutex/condvar, polls with a 60 s deadline);
 * nothing sleeps or reads the time to decide an outcome.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"
#include "rcache.h"

static _Atomic uint64_t n_freed;

static void count_free(void *p) {
    atomic_fetch_add(&n_freed, 1);
    free(p);
}

/* A reader thread held inside a section until released. */
typedef struct held {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int inside, go;
} held_t;

static void *held_reader(void *arg) {
    held_t *h = arg;
    assert_int_equal(rcache__epoch_enter(), 0);
    pthread_mutex_lock(&h->m);
    h->inside = 1;
    pthread_cond_broadcast(&h->cv);
    while (!h->go)
        pthread_cond_wait(&h->cv, &h->m);
    pthread_mutex_unlock(&h->m);
    rcache__epoch_leave();
    return NULL;
}

static void held_start(held_t *h, pthread_t *t) {
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->m, NULL);
    pthread_cond_init(&h->cv, NULL);
    assert_int_equal(pthread_create(t, NULL, held_reader, h), 0);
    pthread_mutex_lock(&h->m);
    while (!h->inside)
        pthread_cond_wait(&h->cv, &h->m);
    pthread_mutex_unlock(&h->m);
}

static void held_release(held_t *h, pthread_t t) {
    pthread_mutex_lock(&h->m);
    h->go = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->m);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->m);
}

static void test_barrier_frees(void **state) {
    (void)state;
    rcache__epoch_barrier();
    uint64_t f0 = atomic_load(&n_freed);
    for (int i = 0; i < 10; i++)
        rcache__epoch_retire(malloc(16), 16, count_free);
    rcache__epoch_barrier();
    assert_int_equal(atomic_load(&n_freed) - f0, 10);
    rcache__epoch_info_t in;
    rcache__epoch_info(&in);
    assert_int_equal(in.pending_items, 0);
    assert_int_equal(in.pending_bytes, 0);
}

/* A reader inside a section keeps what was retired meanwhile; once it
 * leaves, the next collections free it. */
static void test_reader_holds(void **state) {
    (void)state;
    held_t h;
    pthread_t t;
    rcache__epoch_barrier();
    held_start(&h, &t);
    uint64_t f0 = atomic_load(&n_freed);
    /* many batches: each tries to advance and collect */
    for (int i = 0; i < 10 * (int)RCACHE__EPOCH_BATCH; i++)
        rcache__epoch_retire(malloc(8), 8, count_free);
    for (int i = 0; i < 100; i++)
        rcache__epoch_collect();
    assert_int_equal(atomic_load(&n_freed) - f0, 0);
    held_release(&h, t);
    for (int i = 0; i < 3; i++)
        rcache__epoch_collect();
    assert_int_equal(atomic_load(&n_freed) - f0, 10 * RCACHE__EPOCH_BATCH);
}

static void test_nesting(void **state) {
    (void)state;
    assert_false(rcache__epoch_inside());
    assert_int_equal(rcache__epoch_enter(), 0);
    assert_int_equal(rcache__epoch_enter(), 0);
    rcache__epoch_leave();
    assert_true(rcache__epoch_inside());
    rcache__epoch_leave();
    assert_false(rcache__epoch_inside());
    /* a barrier inside a section would wait for itself: it returns */
    assert_int_equal(rcache__epoch_enter(), 0);
    rcache__epoch_barrier();
    rcache__epoch_leave();
}

/* The bound: with a reader stalled inside, retirements past
 * RCACHE__EPOCH_MAX_PENDING bytes wait until it leaves. */
typedef struct bound_writer {
    _Atomic int done;
} bound_writer_t;

static void *bound_write(void *arg) {
    bound_writer_t *w = arg;
    rcache__epoch_retire(malloc(8), 2u << 20, count_free); /* past it */
    atomic_store(&w->done, 1);
    return NULL;
}

static void poll_until(_Atomic uint64_t *v, uint64_t want) {
    time_t deadline = time(NULL) + 60;
    while (atomic_load(v) < want) {
        assert_true(time(NULL) < deadline);
        sched_yield();
    }
}

static void test_bound(void **state) {
    (void)state;
    held_t h;
    pthread_t t, wt;
    rcache__epoch_info_t in;
    rcache__epoch_barrier();
    rcache__epoch_info(&in);
    uint64_t w0 = in.waits, f0 = atomic_load(&n_freed);
    held_start(&h, &t);
    /* 63 MiB of (pretend) retired bytes: under the bound, nothing waits */
    for (int i = 0; i < 63; i++)
        rcache__epoch_retire(malloc(8), 1u << 20, count_free);
    rcache__epoch_info(&in);
    assert_int_equal(in.waits, w0);
    assert_true(in.pending_bytes >= (63ull << 20));
    bound_writer_t bw;
    atomic_init(&bw.done, 0);
    assert_int_equal(pthread_create(&wt, NULL, bound_write, &bw), 0);
    /* it must wait for the reader, not return */
    time_t deadline = time(NULL) + 60;
    for (;;) {
        rcache__epoch_info(&in);
        if (in.waits > w0)
            break;
        assert_true(time(NULL) < deadline);
        sched_yield();
    }
    assert_int_equal(atomic_load(&n_freed) - f0, 0);
    assert_int_equal(atomic_load(&bw.done), 0);
    held_release(&h, t);
    assert_int_equal(pthread_join(wt, NULL), 0);
    assert_int_equal(atomic_load(&bw.done), 1);
    poll_until(&n_freed, f0 + 64);
    rcache__epoch_barrier();
    rcache__epoch_info(&in);
    assert_int_equal(in.pending_bytes, 0);
}

/* Stress: readers dereference blocks that writers replace and retire. */
#define SLOTS 64
#define BLOCK 48
#define WRITERS 2
#define READERS 4
#define WRITES 20000
static unsigned char *_Atomic slots[SLOTS];
static _Atomic int writers_left;

static unsigned char *block_new(unsigned seed) {
    unsigned char *b = malloc(BLOCK);
    assert_non_null(b);
    memset(b, (int)(seed & 0xff) | 1, BLOCK); /* never 0 */
    return b;
}

static void block_free(void *p) {
    memset(p, 0, BLOCK); /* a reader that still saw it would see 0s */
    free(p);
}

static void *stress_writer(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < WRITES; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned char *nb = block_new(seed >> 8);
        unsigned char *old = atomic_exchange_explicit(
            &slots[(seed >> 16) % SLOTS], nb, memory_order_acq_rel);
        rcache__epoch_retire(old, BLOCK, block_free);
    }
    atomic_fetch_sub(&writers_left, 1);
    return NULL;
}

static void *stress_reader(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    uint64_t reads = 0;
    while (atomic_load_explicit(&writers_left, memory_order_relaxed) > 0 ||
           reads < 1000) {
        assert_int_equal(rcache__epoch_enter(), 0);
        for (int k = 0; k < 8; k++) {
            seed = seed * 1103515245u + 12345u;
            const unsigned char *b = atomic_load_explicit(
                &slots[(seed >> 16) % SLOTS], memory_order_acquire);
            unsigned char v = b[0];
            assert_true(v != 0);
            for (int j = 1; j < BLOCK; j++)
                assert_int_equal(b[j], v);
            reads++;
        }
        rcache__epoch_leave();
    }
    return NULL;
}

static void test_stress(void **state) {
    (void)state;
    pthread_t w[WRITERS], r[READERS];
    for (int i = 0; i < SLOTS; i++)
        atomic_store(&slots[i], block_new((unsigned)i));
    atomic_store(&writers_left, WRITERS);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&r[i], NULL, stress_reader,
                                        (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&w[i], NULL, stress_writer,
                                        (void *)(uintptr_t)(100 + i)), 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    rcache__epoch_barrier();
    rcache__epoch_info_t in;
    rcache__epoch_info(&in);
    assert_int_equal(in.pending_items, 0);
    for (int i = 0; i < SLOTS; i++)
        free(atomic_load(&slots[i]));
}

/* Records of exited threads are reused: threads started one after another
 * each get a record and release it (a leak here would show under ASan's
 * leak check only as growth, so check that sections still work). */
static void *short_reader(void *arg) {
    (void)arg;
    assert_int_equal(rcache__epoch_enter(), 0);
    rcache__epoch_leave();
    return NULL;
}

static void test_thread_churn(void **state) {
    (void)state;
    for (int i = 0; i < 200; i++) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, short_reader, NULL), 0);
        pthread_join(t, NULL);
    }
    /* an exited thread's record does not hold the epoch back */
    uint64_t f0 = atomic_load(&n_freed);
    rcache__epoch_retire(malloc(8), 8, count_free);
    rcache__epoch_barrier();
    assert_int_equal(atomic_load(&n_freed) - f0, 1);
}


/* Entries (entry.c): a lock-free reader's try-get takes a reference only
 * from a live count with no writer holding the entry; the last unref runs
 * the destructor at once, and only the block waits for the readers. */
static void test_entry_try_ref(void **state) {
    (void)state;
    rcache_t *c = NULL;
    assert_int_equal(rcache_open(NULL, &c), RCACHE_OK);
    rcache__entry_t *e = rcache__entry_new(c, "k", 1, "v", 1, 0);
    assert_non_null(e);
    assert_true(rcache__entry_try_ref(e)); /* 2 */
    assert_false(rcache__entry_write_begin(e)); /* someone else holds it */
    rcache__entry_unref(e);                     /* 1 */
    assert_true(rcache__entry_write_begin(e));  /* 1 | WRITE */
    assert_false(rcache__entry_try_ref(e));
    assert_false(rcache__entry_write_begin(e));
    rcache__entry_write_end(e);
    assert_true(rcache__entry_try_ref(e));
    rcache__entry_unref(e);
    /* with a reader inside, the freed entry's block stays readable and
     * its count stays 0: try-get fails */
    held_t h;
    pthread_t t;
    held_start(&h, &t);
    rcache__epoch_info_t in;
    rcache__epoch_info(&in);
    uint64_t p0 = in.pending_items;
    rcache__entry_unref(e); /* 0: retired */
    rcache__epoch_info(&in);
    assert_int_equal(in.pending_items, p0 + 1);
    assert_false(rcache__entry_try_ref(e));
    held_release(&h, t);
    rcache_close(c);
}

static _Atomic int dtor_runs;
static void count_dtor(void *obj, void *ctx) {
    (void)obj;
    (void)ctx;
    atomic_fetch_add(&dtor_runs, 1);
}

static void test_destructor_prompt(void **state) {
    (void)state;
    rcache_t *c = NULL;
    assert_int_equal(rcache_open(NULL, &c), RCACHE_OK);
    static int obj;
    assert_int_equal(rcache_set_object(c, "o", 1, &obj, 8, count_dtor, NULL,
                                       NULL), RCACHE_OK);
    held_t h;
    pthread_t t;
    held_start(&h, &t);
    atomic_store(&dtor_runs, 0);
    assert_int_equal(rcache_delete(c, "o", 1), RCACHE_OK);
    /* the destructor ran although a reader keeps the block */
    assert_int_equal(atomic_load(&dtor_runs), 1);
    rcache__epoch_info_t in;
    rcache__epoch_info(&in);
    assert_true(in.pending_items > 0);
    held_release(&h, t);
    rcache_close(c); /* its barrier frees the block before the store goes */
    rcache__epoch_info(&in);
    assert_int_equal(in.pending_items, 0);
    assert_int_equal(atomic_load(&dtor_runs), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_barrier_frees),
        cmocka_unit_test(test_reader_holds),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_thread_churn),
        cmocka_unit_test(test_entry_try_ref),
        cmocka_unit_test(test_destructor_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
