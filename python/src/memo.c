/*
 * memo.c - rcache.Memo, the callable behind @cached_result_sync (and the
 * key/store helpers behind @cached_result).
 *
 * Why in C: a decorated function's hit must cost about what
 * functools.lru_cache costs, so the key is encoded and looked up without
 * running Python code.
 *
 * Single-flight across threads uses rcache_memoize_async() called with
 * the GIL held:
 *   - hit: returned at once (no GIL traffic at all);
 *   - miss, nobody computing: this thread computes, in compute_cb, still
 *     holding the GIL (the function is Python code anyway); the library
 *     holds no lock while the callback runs;
 *   - miss, another thread computing: the library registers done_cb and
 *     returns RCACHE_EAGAIN; this thread then waits on its own condition
 *     variable WITHOUT the GIL (so the computing thread can run) and wakes
 *     when done_cb, run by the computing thread, hands it the result.
 * A function's exception becomes a pyrc_Failure result (not stored, unless
 * error_ttl_seconds asks for negative caching) so every waiter re-raises
 * the same exception.  A thread asking for a key it is computing itself
 * gets RCACHE_EDEADLK from the library: raised as ReentrantCallError.
 */
#include "ext.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

/* ---- stored exceptions -------------------------------------------------- */

static void failure_dealloc(PyObject *op) {
    Py_CLEAR(((pyrc_Failure *)op)->exc);
    Py_TYPE(op)->tp_free(op);
}

PyTypeObject pyrc_FailureType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rcache._rcache._Failure",
    .tp_basicsize = sizeof(pyrc_Failure),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An exception raised by a cached function, handed to its waiters.",
    .tp_dealloc = failure_dealloc,
};

PyObject *pyrc_failure_raise(PyObject *failure) {
    PyObject *exc = ((pyrc_Failure *)failure)->exc;
    PyObject *tb = PyException_GetTraceback(exc);
    Py_INCREF(exc);
    Py_INCREF(Py_TYPE(exc));
    PyErr_Restore((PyObject *)Py_TYPE(exc), exc, tb);
    return NULL;
}

/* The pending exception as a new failure object (clears it). */
static PyObject *failure_from_error(void) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb && v)
        PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    pyrc_Failure *f = PyObject_New(pyrc_Failure, &pyrc_FailureType);
    if (!f) {
        Py_XDECREF(v);
        return NULL;
    }
    f->exc = v;
    return (PyObject *)f;
}

/* ---- waiting for another thread's computation ---------------------------- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_use;    /* a call is using it (owner thread only) */
    int done;      /* result delivered */
    int abandoned; /* owner gave up: done_cb frees it */
    int err;
    rcache_ref_t *ref;
} waiter_t;

static pthread_key_t waiter_key;
static pthread_once_t waiter_once = PTHREAD_ONCE_INIT;

static void waiter_free(waiter_t *w) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    PyMem_RawFree(w);
}

static void waiter_tls_dtor(void *p) {
    waiter_t *w = p;
    if (w && !w->in_use)
        waiter_free(w);
}

static void waiter_key_init(void) {
    (void)pthread_key_create(&waiter_key, waiter_tls_dtor);
}

static waiter_t *waiter_new(void) {
    waiter_t *w = PyMem_RawCalloc(1, sizeof(*w));
    pthread_condattr_t ca;
    if (!w)
        return NULL;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    return w;
}

/* This thread's waiter (a fresh one if it is in use by an outer call). */
static waiter_t *waiter_get(int *tls_owned) {
    pthread_once(&waiter_once, waiter_key_init);
    waiter_t *w = pthread_getspecific(waiter_key);
    *tls_owned = 1;
    if (w && !w->in_use)
        return w;
    if (!w) {
        w = waiter_new();
        if (w && pthread_setspecific(waiter_key, w) == 0)
            return w;
        if (!w)
            return NULL;
    }
    *tls_owned = 0;
    return waiter_new();
}

/* Completion from the library, on the computing thread (which holds the
 * GIL: it is inside our rcache_memoize_async() call). */
static void done_cb(int err, rcache_ref_t *ref, void *ctx) {
    waiter_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    if (w->abandoned) {
        pthread_mutex_unlock(&w->mu);
        rcache_release(ref);
        waiter_free(w);
        return;
    }
    w->err = err;
    w->ref = ref;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for done_cb without the GIL, waking every 100 ms to let signal
 * handlers run (Ctrl-C).  0: delivered; 1: timed out; -1: exception; on 1
 * or -1 the waiter is abandoned (done_cb frees it).  -2: exception, the
 * result was delivered and released, the waiter is not abandoned. */
static int waiter_wait(waiter_t *w, int64_t timeout_ms, int tls_owned) {
    double deadline = timeout_ms >= 0 ? mono_s() + (double)timeout_ms / 1000.0 : 0;
    for (;;) {
        int done;
        Py_BEGIN_ALLOW_THREADS
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&w->mu);
        while (!w->done)
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
                break;
        done = w->done;
        pthread_mutex_unlock(&w->mu);
        Py_END_ALLOW_THREADS
        if (done)
            return 0;
        int r = 0;
        if (timeout_ms >= 0 && mono_s() >= deadline)
            r = 1;
        else if (PyErr_CheckSignals() < 0)
            r = -1;
        if (!r)
            continue;
        pthread_mutex_lock(&w->mu);
        if (w->done) { /* arrived meanwhile */
            pthread_mutex_unlock(&w->mu);
            if (r > 0)
                return 0; /* take it rather than time out */
            /* keep the signal handler's exception (Ctrl-C), drop the result */
            rcache_release(w->ref);
            w->ref = NULL;
            w->done = 0;
            return -2;
        }
        w->abandoned = 1;
        pthread_mutex_unlock(&w->mu);
        if (tls_owned)
            pthread_setspecific(waiter_key, NULL);
        return r;
    }
}

/* ---- the Memo object ----------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *fn;
    PyObject *cache;    /* pyrc_Cache, or NULL until resolved */
    PyObject *resolver; /* callable returning the cache, or NULL */
    PyObject *ns;       /* str */
    PyObject *prefix;   /* bytes: ns 0x00 0x01 */
    PyObject *key_fn;
    PyObject *argnames; /* tuple of str */
    PyObject *size_mb;
    PyObject *sizeof_fn;
    PyObject *tags_fn;  /* tags_fn(*args, **kwargs) -> tags of a result, or NULL */
    Py_ssize_t skip;
    int64_t ttl_ms, timeout_ms, error_ttl_ms;
    int enabled;
    unsigned long long hits, misses, computations, waits, errors, timeouts, reentrant;
    double compute_seconds, waited_compute_seconds;
    PyObject *dict, *weakrefs;
} pyrc_Memo;

typedef struct {
    pyrc_Memo *self;
    PyObject *const *args;
    size_t nargsf;
    PyObject *kwnames;
    int ran;
    double seconds;
    pyrc_tags tg; /* the result's tags, alive until the store is done */
} call_ctx;

static pyrc_Cache *memo_cache(pyrc_Memo *self) {
    if (!self->cache) {
        if (!self->resolver) {
            PyErr_SetString(PyExc_RuntimeError, "cached function has no cache");
            return NULL;
        }
        PyObject *c = PyObject_CallNoArgs(self->resolver);
        if (!c)
            return NULL;
        if (!PyObject_TypeCheck(c, &pyrc_CacheType)) {
            PyErr_SetString(PyExc_TypeError, "cache resolver must return an rcache.Cache");
            Py_DECREF(c);
            return NULL;
        }
        if (self->cache) /* resolved meanwhile by the resolver's own code */
            Py_DECREF(c);
        else
            self->cache = c;
    }
    pyrc_Cache *c = (pyrc_Cache *)self->cache;
    return pyrc_cache_check(c) < 0 ? NULL : c;
}

/* Result (or failure) of a computation, as librcache's object result. */
static int fill_result(pyrc_Memo *self, pyrc_Cache *cache, PyObject *r,
                       rcache_memo_result_t *out) {
    size_t charge = 0;
    if (r && pyrc_charge(r, self->size_mb, self->sizeof_fn ? self->sizeof_fn
                                                          : cache->sizeof_fn,
                         &charge) < 0)
        Py_CLEAR(r); /* a failing size estimate fails the call */
    if (!r) {
        r = failure_from_error();
        if (!r)
            return RCACHE_ENOMEM;
        self->errors++;
        charge = 64;
        out->no_store = self->error_ttl_ms <= 0;
        if (self->error_ttl_ms > 0)
            out->ttl_ms = self->error_ttl_ms;
    }
    out->obj = r;
    out->charge_bytes = charge;
    out->dtor = pyrc_decref_dtor;
    return RCACHE_OK;
}

static int compute_cb(const void *key, size_t klen, rcache_memo_result_t *out, void *ctx) {
    call_ctx *cc = ctx;
    pyrc_Memo *self = cc->self;
    (void)key;
    (void)klen;
    cc->ran = 1;
    double t0 = mono_s();
    PyObject *r = PyObject_Vectorcall(self->fn, cc->args, cc->nargsf, cc->kwnames);
    cc->seconds = mono_s() - t0;
    self->compute_seconds += cc->seconds;
    if (r && self->tags_fn) { /* failing tags fail the call, as sizes do */
        PyObject *tl = PyObject_Vectorcall(self->tags_fn, cc->args, cc->nargsf, cc->kwnames);
        if (!tl || pyrc_tags_arg(tl, &cc->tg) < 0)
            Py_CLEAR(r);
        Py_XDECREF(tl);
    }
    int rc = fill_result(self, (pyrc_Cache *)self->cache, r, out);
    out->tags = cc->tg.n ? cc->tg.t : NULL;
    out->ntags = cc->tg.n;
    return rc;
}

/* Key of a call into b. */
static int build_key(pyrc_Memo *self, pyrc_buf *b, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames) {
    if (self->key_fn) {
        PyObject *k = PyObject_Vectorcall(self->key_fn, args, (size_t)nargs, kwnames);
        const char *p;
        Py_ssize_t n;
        PyObject *keep;
        if (!k)
            return -1;
        int r = pyrc_key_bytes(k, &p, &n, &keep);
        if (r == 0)
            r = pyrc_buf_put(b, p, (size_t)n);
        Py_XDECREF(keep);
        Py_DECREF(k);
        return r;
    }
    if (pyrc_buf_put(b, PyBytes_AS_STRING(self->prefix), (size_t)PyBytes_GET_SIZE(self->prefix)) < 0)
        return -1;
    Py_ssize_t skip = nargs < self->skip ? nargs : self->skip;
    return pyrc_encode_args(b, args, nargs, kwnames, skip, self->argnames, self->ns);
}

/* A result reference as the call's return value (or raised failure). */
static PyObject *from_ref(rcache_ref_t *ref) {
    PyObject *o = rcache_ref_object(ref), *r;
    if (rcache_memo_ref_error(ref)) {
        r = pyrc_raise(rcache_memo_ref_error(ref), "cached failure");
    } else if (!o) {
        size_t n = 0;
        const void *v = rcache_ref_value(ref, &n);
        r = PyBytes_FromStringAndSize(v, (Py_ssize_t)n);
    } else if (Py_TYPE(o) == &pyrc_FailureType) {
        r = pyrc_failure_raise(o);
    } else {
        Py_INCREF(o);
        r = o;
    }
    rcache_release(ref);
    return r;
}

/* Wait for the computation another thread runs (after RCACHE_EAGAIN).
 * Returns its code with *ref set, or 1 with an exception set (timeout,
 * signal); then *w is abandoned (done_cb frees it) and set to NULL. */
static int wait_shared(pyrc_Memo *self, waiter_t **w, int tls_owned, rcache_ref_t **ref) {
    waiter_t *wt = *w;
    wt->in_use = 1; /* until delivered: a signal handler's call takes another */
    int wr = waiter_wait(wt, self->timeout_ms, tls_owned);
    if (wr == -2) {
        wt->in_use = 0;
        return 1;
    }
    if (wr == 0) {
        int rc = wt->err;
        *ref = wt->ref;
        wt->done = 0;
        wt->ref = NULL;
        wt->in_use = 0;
        self->misses++;
        self->waits++;
        return rc;
    }
    *w = NULL;
    if (wr > 0) {
        self->timeouts++;
        PyErr_Format(pyrc_TimeoutError,
                     "%S: waited more than %.3f s for another caller's computation "
                     "of the same arguments (it goes on)",
                     self->ns, (double)self->timeout_ms / 1000.0);
    }
    return 1;
}

static PyObject *memo_call(PyObject *op, PyObject *const *args, size_t nargsf,
                           PyObject *kwnames) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (!self->enabled)
        return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
    pyrc_Cache *cache = memo_cache(self);
    if (!cache)
        return NULL;
    pyrc_buf b;
    pyrc_buf_init(&b);
    if (build_key(self, &b, args, nargs, kwnames) < 0) {
        pyrc_buf_free(&b);
        return NULL;
    }
    int tls_owned;
    waiter_t *w = waiter_get(&tls_owned);
    if (!w) {
        pyrc_buf_free(&b);
        return PyErr_NoMemory();
    }
    call_ctx cc = {self, args, nargsf, kwnames, 0, 0.0, {.n = 0, .seq = NULL}};
    rcache_memo_opts_t opts;
    rcache_memo_opts_init(&opts);
    opts.ttl_ms = self->ttl_ms;
    rcache_ref_t *ref = NULL;
    Py_INCREF(self);
    Py_INCREF(cache);
    cache->busy++;
    int rc = rcache_memoize_async(cache->c, b.buf, b.len, compute_cb, &cc, &opts, done_cb, w, &ref);
    PyObject *result = NULL;
    if (rc == RCACHE_EAGAIN) {
        rc = wait_shared(self, &w, tls_owned, &ref);
    } else if (cc.ran) {
        self->misses++;
        self->computations++;
    } else if (rc == RCACHE_OK) {
        self->hits++;
    }
    /* Only a waiter this call waited on is ours to touch now: without
     * RCACHE_EAGAIN, the thread's waiter may have been used by a call made
     * inside our computation, and abandoned and freed meanwhile
     * (test_nested_wait_timeout_inside_a_computation). A private waiter
     * (not the thread's) is ours unless abandoned (then w is NULL). */
    if (w && !tls_owned)
        waiter_free(w);
    if (rc == RCACHE_OK) {
        result = from_ref(ref);
    } else if (rc == RCACHE_EDEADLK) {
        self->reentrant++;
        PyErr_Format(pyrc_ReentrantError,
                     "%S was called again with the same arguments while computing them "
                     "(directly or through other cached functions); this would deadlock",
                     self->ns);
    } else if (rc != 1) {
        pyrc_raise(rc, "cached call");
    }
    cache->busy--;
    pyrc_tags_release(&cc.tg); /* stored (or not) by now */
    Py_DECREF(cache);
    Py_DECREF(self);
    pyrc_buf_free(&b);
    return result;
}

/* ---- construction -------------------------------------------------------- */

static int seconds_opt(PyObject *o, const char *name, int64_t none_value, int64_t *out) {
    if (!o || o == Py_None) {
        *out = none_value;
        return 0;
    }
    return pyrc_ttl_arg(o, name, out);
}

static int memo_init(PyObject *op, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"fn", "namespace", "cache", "resolver", "key_fn", "argnames",
                             "skip", "ttl_seconds", "timeout_seconds", "error_ttl_seconds",
                             "size_mb", "sizeof", "enabled", "tags_fn", NULL};
    pyrc_Memo *self = (pyrc_Memo *)op;
    PyObject *fn, *ns, *cache = Py_None, *resolver = Py_None, *key_fn = Py_None,
             *argnames = NULL, *ttl = Py_None, *tmo = Py_None, *ettl = Py_None,
             *size_mb = Py_None, *szf = Py_None, *tags_fn = Py_None;
    Py_ssize_t skip = 0;
    int enabled = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OU|$OOOO!nOOOOOpO:Memo", kwlist, &fn, &ns,
                                     &cache, &resolver, &key_fn, &PyTuple_Type, &argnames,
                                     &skip, &ttl, &tmo, &ettl, &size_mb, &szf, &enabled,
                                     &tags_fn))
        return -1;
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "fn must be callable");
        return -1;
    }
    if (cache != Py_None && !PyObject_TypeCheck(cache, &pyrc_CacheType)) {
        PyErr_Format(PyExc_TypeError, "cache must be an rcache.Cache or None, not %.100s",
                     Py_TYPE(cache)->tp_name);
        return -1;
    }
    if ((resolver != Py_None && !PyCallable_Check(resolver)) ||
        (key_fn != Py_None && !PyCallable_Check(key_fn)) ||
        (szf != Py_None && !PyCallable_Check(szf)) ||
        (tags_fn != Py_None && !PyCallable_Check(tags_fn))) {
        PyErr_SetString(PyExc_TypeError,
                        "resolver, cache_key_fn, sizeof and tags_fn must be callables or None");
        return -1;
    }
    if (skip < 0 || skip > 1) {
        PyErr_SetString(PyExc_ValueError, "skip must be 0 or 1");
        return -1;
    }
    if (size_mb != Py_None) {
        size_t dummy;
        if (pyrc_charge(Py_None, size_mb, NULL, &dummy) < 0)
            return -1;
    }
    if (seconds_opt(ttl, "ttl_seconds", RCACHE_TTL_DEFAULT, &self->ttl_ms) < 0 ||
        seconds_opt(tmo, "timeout_seconds", -1, &self->timeout_ms) < 0 ||
        seconds_opt(ettl, "error_ttl_seconds", 0, &self->error_ttl_ms) < 0)
        return -1;
    pyrc_buf b;
    pyrc_buf_init(&b);
    if (pyrc_encode_ns(&b, ns) < 0)
        return -1;
    PyObject *prefix = PyBytes_FromStringAndSize((char *)b.buf, (Py_ssize_t)b.len);
    pyrc_buf_free(&b);
    if (!prefix)
        return -1;
#define SETREF(field, v)                                                   \
    do {                                                                   \
        PyObject *v_ = (v) == Py_None ? NULL : (v);                        \
        Py_XINCREF(v_);                                                    \
        Py_XSETREF(self->field, v_);                                       \
    } while (0)
    SETREF(fn, fn);
    SETREF(ns, ns);
    Py_XSETREF(self->prefix, prefix);
    SETREF(cache, cache);
    SETREF(resolver, resolver);
    SETREF(key_fn, key_fn);
    if (argnames)
        SETREF(argnames, argnames);
    SETREF(size_mb, size_mb);
    SETREF(sizeof_fn, szf);
    SETREF(tags_fn, tags_fn);
    self->skip = skip;
    self->enabled = enabled;
    self->vectorcall = memo_call;
    return 0;
}

static int memo_traverse(PyObject *op, visitproc visit, void *arg) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    Py_VISIT(self->fn);
    Py_VISIT(self->cache);
    Py_VISIT(self->resolver);
    Py_VISIT(self->key_fn);
    Py_VISIT(self->sizeof_fn);
    Py_VISIT(self->tags_fn);
    Py_VISIT(self->dict);
    return 0;
}

static int memo_clear(PyObject *op) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    Py_CLEAR(self->fn);
    Py_CLEAR(self->cache);
    Py_CLEAR(self->resolver);
    Py_CLEAR(self->key_fn);
    Py_CLEAR(self->sizeof_fn);
    Py_CLEAR(self->tags_fn);
    Py_CLEAR(self->dict);
    return 0;
}

static void memo_dealloc(PyObject *op) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    PyObject_GC_UnTrack(op);
    if (self->weakrefs)
        PyObject_ClearWeakRefs(op);
    memo_clear(op);
    Py_CLEAR(self->ns);
    Py_CLEAR(self->prefix);
    Py_CLEAR(self->argnames);
    Py_CLEAR(self->size_mb);
    Py_TYPE(op)->tp_free(op);
}

static PyObject *memo_descr_get(PyObject *op, PyObject *obj, PyObject *type) {
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(op);
        return op;
    }
    return PyMethod_New(op, obj);
}

/* ---- helpers for the asyncio wrapper (rcache/_decorators.py) ------------ */

static PyObject *memo_key_py(PyObject *op, PyObject *args) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    PyObject *pos, *kw = Py_None;
    if (!PyArg_ParseTuple(args, "O!|O:_key", &PyTuple_Type, &pos, &kw))
        return NULL;
    Py_ssize_t np = PyTuple_GET_SIZE(pos), nk = (kw != Py_None) ? PyDict_GET_SIZE(kw) : 0;
    PyObject *full = PyTuple_New(np + nk), *names = PyTuple_New(nk), *r = NULL;
    if (!full || !names)
        goto out;
    for (Py_ssize_t i = 0; i < np; i++) {
        Py_INCREF(PyTuple_GET_ITEM(pos, i));
        PyTuple_SET_ITEM(full, i, PyTuple_GET_ITEM(pos, i));
    }
    Py_ssize_t p = 0, j = 0;
    PyObject *k, *v;
    while (nk && PyDict_Next(kw, &p, &k, &v)) {
        Py_INCREF(k);
        Py_INCREF(v);
        PyTuple_SET_ITEM(names, j, k);
        PyTuple_SET_ITEM(full, np + j, v);
        j++;
    }
    pyrc_buf b;
    pyrc_buf_init(&b);
    if (build_key(self, &b, &PyTuple_GET_ITEM(full, 0), np, nk ? names : NULL) == 0)
        r = PyBytes_FromStringAndSize((char *)b.buf, (Py_ssize_t)b.len);
    pyrc_buf_free(&b);
out:
    Py_XDECREF(full);
    Py_XDECREF(names);
    return r;
}

/* _store(key, value, compute_seconds, failed, tags=None) -> bool */
static PyObject *memo_store_py(PyObject *op, PyObject *args) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    PyObject *key, *value, *keep, *tags = Py_None;
    pyrc_tags tg = {.n = 0, .seq = NULL};
    double secs;
    int failed;
    const char *k;
    Py_ssize_t kn;
    if (!PyArg_ParseTuple(args, "OOdp|O:_store", &key, &value, &secs, &failed, &tags))
        return NULL;
    pyrc_Cache *cache = memo_cache(self);
    if (!cache || pyrc_tags_arg(tags, &tg) < 0)
        return NULL;
    if (pyrc_key_bytes(key, &k, &kn, &keep) < 0) {
        pyrc_tags_release(&tg);
        return NULL;
    }
    rcache_memo_result_t out = {0};
    out.ttl_ms = self->ttl_ms;
    if (failed) {
        if (!PyExceptionInstance_Check(value)) {
            Py_XDECREF(keep);
            pyrc_tags_release(&tg);
            PyErr_SetString(PyExc_TypeError, "failed=True needs an exception");
            return NULL;
        }
        PyErr_SetObject((PyObject *)Py_TYPE(value), value);
        value = NULL;
    } else {
        Py_INCREF(value);
    }
    if (fill_result(self, cache, value, &out) != RCACHE_OK) {
        Py_XDECREF(keep);
        pyrc_tags_release(&tg);
        return PyErr_NoMemory();
    }
    int rc = RCACHE_ETOOBIG;
    if (!out.no_store) {
        rcache_set_opts_t so = {.ttl_ms = out.ttl_ms,
                                .compute_ms = (isfinite(secs) && secs > 0)
                                                  ? (uint64_t)fmin(secs * 1000.0, 4e9) : 0,
                                .tags = tg.n ? tg.t : NULL,
                                .ntags = tg.n};
        cache->busy++;
        rc = rcache_set_object(cache->c, k, (size_t)kn, out.obj, out.charge_bytes,
                               pyrc_decref_dtor, NULL, &so);
        cache->busy--;
    }
    Py_XDECREF(keep);
    pyrc_tags_release(&tg);
    if (rc != RCACHE_OK)
        Py_DECREF((PyObject *)out.obj);
    return PyBool_FromLong(rc == RCACHE_OK);
}

/* _lookup(key, miss) -> the value, or miss; raises a cached failure. */
static PyObject *memo_lookup_py(PyObject *op, PyObject *args) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    PyObject *key, *miss, *keep;
    const char *k;
    Py_ssize_t kn;
    rcache_ref_t *ref = NULL;
    if (!PyArg_ParseTuple(args, "OO:_lookup", &key, &miss))
        return NULL;
    pyrc_Cache *cache = memo_cache(self);
    if (!cache || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return NULL;
    cache->busy++;
    int rc = rcache_get_ref(cache->c, k, (size_t)kn, &ref);
    cache->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_ENOTFOUND) {
        Py_INCREF(miss);
        return miss;
    }
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "get");
    cache->busy++;
    PyObject *r = from_ref(ref);
    cache->busy--;
    return r;
}

static PyObject *memo_cache_py(PyObject *op, PyObject *unused) {
    pyrc_Cache *c = memo_cache((pyrc_Memo *)op);
    if (!c)
        return NULL;
    Py_INCREF(c);
    return (PyObject *)c;
}

static PyObject *memo_invalidate(PyObject *op, PyObject *unused) {
    pyrc_Memo *self = (pyrc_Memo *)op;
    pyrc_Cache *c = memo_cache(self);
    uint64_t n = 0;
    if (!c)
        return NULL;
    c->busy++;
    int rc = rcache_key_invalidate_ns(c->c, PyUnicode_AsUTF8(self->ns), &n);
    c->busy--;
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "cache_clear");
    return PyLong_FromUnsignedLongLong(n);
}

static PyMethodDef memo_methods[] = {
    {"_key", memo_key_py, METH_VARARGS, NULL},
    {"_store", memo_store_py, METH_VARARGS, NULL},
    {"_lookup", memo_lookup_py, METH_VARARGS, NULL},
    {"_cache", memo_cache_py, METH_NOARGS, NULL},
    {"cache_clear", memo_invalidate, METH_NOARGS,
     "cache_clear() -> int: remove every cached result of this function (all\n"
     "argument lists; keys built with cache_key_fn are not covered)."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef memo_members[] = {
    {"enabled", T_INT, offsetof(pyrc_Memo, enabled), 0,
     "False: call the function every time, bypassing the cache."},
    {"namespace", T_OBJECT, offsetof(pyrc_Memo, ns), READONLY, "Key namespace."},
    {"_resolved_cache", T_OBJECT, offsetof(pyrc_Memo, cache), READONLY,
     "The cache, once resolved (None before the first call with the default cache)."},
    {"__wrapped__", T_OBJECT, offsetof(pyrc_Memo, fn), READONLY, "The decorated function."},
    {"hits", T_ULONGLONG, offsetof(pyrc_Memo, hits), 0, NULL},
    {"misses", T_ULONGLONG, offsetof(pyrc_Memo, misses), 0, NULL},
    {"computations", T_ULONGLONG, offsetof(pyrc_Memo, computations), 0, NULL},
    {"singleflight_waits", T_ULONGLONG, offsetof(pyrc_Memo, waits), 0, NULL},
    {"errors", T_ULONGLONG, offsetof(pyrc_Memo, errors), 0, NULL},
    {"timeouts", T_ULONGLONG, offsetof(pyrc_Memo, timeouts), 0, NULL},
    {"reentrant_calls", T_ULONGLONG, offsetof(pyrc_Memo, reentrant), 0, NULL},
    {"compute_seconds", T_DOUBLE, offsetof(pyrc_Memo, compute_seconds), 0, NULL},
    {NULL, 0, 0, 0, NULL}};

PyTypeObject pyrc_MemoType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rcache._rcache.Memo",
    .tp_basicsize = sizeof(pyrc_Memo),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_doc = "A function memoized in an rcache cache (made by @cached_result_sync).",
    .tp_new = PyType_GenericNew,
    .tp_init = memo_init,
    .tp_dealloc = memo_dealloc,
    .tp_traverse = memo_traverse,
    .tp_clear = memo_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(pyrc_Memo, vectorcall),
    .tp_descr_get = memo_descr_get,
    .tp_methods = memo_methods,
    .tp_members = memo_members,
    .tp_dictoffset = offsetof(pyrc_Memo, dict),
    .tp_weaklistoffset = offsetof(pyrc_Memo, weakrefs),
};
