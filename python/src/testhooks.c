/*
 * testhooks.c - functions for the package's own tests (underscore names,
 * not part of the API).
 *
 * _native_set: store byte values from a thread that Python never saw (a
 * plain pthread, holding no GIL), so tests can check that Python objects
 * evicted by such a thread are released correctly (PyGILState_Ensure in
 * pyrc_decref_dtor).
 * _memo_waiters: how many callers wait on a key's computation, so
 * single-flight tests can release the computation once every waiter is
 * parked instead of sleeping (librcache's rcache__memo_waiters test hook).
 */
#include "ext.h"

#include <pthread.h>
#include <stdio.h>

long rcache__memo_waiters(rcache_t *c, const void *key, size_t klen);

typedef struct {
    rcache_t *c;
    const char *prefix;
    long n;
    int rc;
} native_job;

static void *native_main(void *arg) {
    native_job *j = arg;
    char key[256];
    for (long i = 0; i < j->n && j->rc == RCACHE_OK; i++) {
        int kn = snprintf(key, sizeof(key), "%s%ld", j->prefix, i);
        j->rc = rcache_set(j->c, key, (size_t)kn, "v", 1, RCACHE_TTL_DEFAULT, 0);
    }
    return NULL;
}

PyObject *pyrc_native_set(PyObject *mod, PyObject *args) {
    PyObject *cobj;
    const char *prefix;
    long n;
    pthread_t t;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O!sl:_native_set", &pyrc_CacheType, &cobj, &prefix, &n))
        return NULL;
    pyrc_Cache *c = (pyrc_Cache *)cobj;
    if (pyrc_cache_check(c) < 0)
        return NULL;
    native_job j = {c->c, prefix, n, RCACHE_OK};
    c->busy++;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = pthread_create(&t, NULL, native_main, &j);
    if (!err)
        pthread_join(t, NULL);
    Py_END_ALLOW_THREADS
    c->busy--;
    if (err) {
        PyErr_SetString(PyExc_OSError, "pthread_create failed");
        return NULL;
    }
    if (j.rc != RCACHE_OK)
        return pyrc_raise(j.rc, "native set");
    Py_RETURN_NONE;
}

PyObject *pyrc_memo_waiters(PyObject *mod, PyObject *args) {
    PyObject *cobj;
    const char *k;
    Py_ssize_t kn;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O!y#:_memo_waiters", &pyrc_CacheType, &cobj, &k, &kn))
        return NULL;
    pyrc_Cache *c = (pyrc_Cache *)cobj;
    if (pyrc_cache_check(c) < 0)
        return NULL;
    return PyLong_FromLong(rcache__memo_waiters(c->c, k, (size_t)kn));
}
