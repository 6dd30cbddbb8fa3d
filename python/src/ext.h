/*
 * ext.h - declarations shared by the files of the _rcache extension module
 * (the CPython binding of librcache).  Names private to the extension use
 * the pyrc_ prefix.
 *
 * Locking rule of the whole extension: every librcache call is made with
 * the GIL held, except the waits of single-flight followers, which wait on
 * an extension condition variable (not inside the library) with the GIL
 * released.  librcache never runs a destructor or a callback while it
 * holds a shard or stripe lock (include/rcache.h), so a destructor that
 * takes the GIL (PyGILState_Ensure) can never wait for the GIL while
 * holding a lock that a GIL holder waits for.
 */
#ifndef PYRC_EXT_H
#define PYRC_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdatomic.h>
#include <stdint.h>

#include "rcache.h"

/* ---- module state (module.c) ------------------------------------------ */
extern PyObject *pyrc_Error;           /* rcache.CacheError (RuntimeError) */
extern PyObject *pyrc_ReentrantError;  /* rcache.ReentrantCallError */
extern PyObject *pyrc_TimeoutError;    /* rcache.CacheTimeoutError */
extern PyObject *pyrc_getsizeof;       /* sys.getsizeof */

/* Raise the Python exception matching an RCACHE_E* code. NULL returned. */
PyObject *pyrc_raise(int rc, const char *what);

/* ---- manual clock (clock.c) ------------------------------------------- */
typedef struct {
    PyObject_HEAD
    _Atomic uint64_t now_ms;
} pyrc_Clock;
extern PyTypeObject pyrc_ClockType;
uint64_t pyrc_clock_fn(void *ctx);

/* ---- stored exceptions (memo.c) --------------------------------------- */
typedef struct {
    PyObject_HEAD
    PyObject *exc; /* the exception instance, traceback attached */
} pyrc_Failure;
extern PyTypeObject pyrc_FailureType;
/* Raise the exception a failure holds. Returns NULL. */
PyObject *pyrc_failure_raise(PyObject *failure);

/* ---- cache objects (cacheobj.c) --------------------------------------- */
typedef struct {
    PyObject_HEAD
    rcache_t *c;          /* NULL once closed */
    PyObject *clock;      /* a pyrc_Clock or NULL */
    PyObject *sizeof_fn;  /* user size estimator or NULL */
    long busy;            /* library calls and flights in progress */
    uint64_t async_computations; /* asyncio single-flight counters */
    uint64_t async_dedup;
    PyObject *weakrefs;
    PyObject *dict;
} pyrc_Cache;
extern PyTypeObject pyrc_CacheType;

/* The destructor of every Python object stored in a cache. */
void pyrc_decref_dtor(void *obj, void *ctx);
/* Key (str or bytes) as bytes; *keep gets a reference to release (or
 * NULL).  -1 with TypeError/ValueError on a bad key. */
int pyrc_key_bytes(PyObject *key, const char **p, Py_ssize_t *n,
                   PyObject **keep);
/* Check the cache is open: -1 with ValueError when closed. */
int pyrc_cache_check(pyrc_Cache *self);
/* A TTL in seconds (None = default) as librcache ttl_ms; -1 on error. */
int pyrc_ttl_arg(PyObject *o, const char *name, int64_t *ttl_ms);

/* ---- tags (tags.c) ------------------------------------------------------ */
typedef struct {
    rcache_tag_t t[RCACHE_MAX_TAGS];
    PyObject *keep[RCACHE_MAX_TAGS]; /* re-encodings to release, or NULL */
    PyObject *seq;                   /* keeps the items alive */
    size_t n;
} pyrc_tags;
/* tags= (None, or a list/tuple of str/bytes) as librcache tags: 0, or -1
 * with TypeError/ValueError. Release with pyrc_tags_release(). */
int pyrc_tags_arg(PyObject *tags, pyrc_tags *out);
void pyrc_tags_release(pyrc_tags *t);
/* Cache.invalidate_tag(tag) and Cache.get_tags(key). */
PyObject *pyrc_cache_invalidate_tag(PyObject *self, PyObject *tag);
PyObject *pyrc_cache_get_tags(PyObject *self, PyObject *key);

/* ---- sizes (sizing.c) -------------------------------------------------- */
/* Charge of a value in bytes: size_mb if not None, else sizeof_fn(value)
 * if given, else the estimate documented in python/README.md. */
int pyrc_charge(PyObject *value, PyObject *size_mb, PyObject *sizeof_fn,
                size_t *out_bytes);
/* estimate_size(value) of the module. */
PyObject *pyrc_estimate_size(PyObject *mod, PyObject *v);

/* ---- argument keys (keyenc.c) ------------------------------------------ */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
    unsigned char inline_buf[256];
} pyrc_buf;
void pyrc_buf_init(pyrc_buf *b);
void pyrc_buf_free(pyrc_buf *b);
int pyrc_buf_put(pyrc_buf *b, const void *p, size_t n);
/* Append the encoding of one argument value: 0, -1 with an exception
 * set, or -2 for an unsupported value (no exception set; *bad gets a
 * borrowed reference to the offending object). */
int pyrc_encode_value(pyrc_buf *b, PyObject *v, PyObject **bad);
/* Start a key: namespace bytes, 0x00, format version. -1 ValueError. */
int pyrc_encode_ns(pyrc_buf *b, PyObject *ns);
/* Append positional args (skipping the first `skip`) and keyword args
 * (sorted by name) to a key; names from argnames (tuple of str) for
 * errors. */
int pyrc_encode_args(pyrc_buf *b, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, Py_ssize_t skip, PyObject *argnames,
                     PyObject *fname);
PyObject *pyrc_encode_key_py(PyObject *mod, PyObject *args);

/* ---- memoized functions (memo.c) --------------------------------------- */
extern PyTypeObject pyrc_MemoType;

/* ---- test support (testhooks.c) ----------------------------------------- */
PyObject *pyrc_native_set(PyObject *mod, PyObject *args);
PyObject *pyrc_memo_waiters(PyObject *mod, PyObject *args);

#endif
