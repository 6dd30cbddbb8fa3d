/*
 * cacheobj.c - rcache.CacheBase, one librcache cache holding Python objects
 * by reference.
 *
 * Why: the hot calls (get, set, delete, `in`) are implemented here in C so
 * a hit costs one librcache lookup and an INCREF.  Values are object
 * entries (rcache_set_object) owning one reference each; the destructor
 * pyrc_decref_dtor drops it under PyGILState_Ensure, whatever thread
 * librcache runs it on (eviction by another thread, a non-Python thread,
 * close).  The friendlier API (units in MiB and seconds, the deployments'
 * get_stats() dict) is in rcache/_cache.py, a subclass of this type.
 *
 * `busy` counts library calls in progress on this object (a destructor or
 * a compute callback can run arbitrary Python code in the middle of one);
 * close() refuses while it is non-zero instead of freeing the cache under
 * a running call.
 */
#include "ext.h"

#include <math.h>

#define ENTER(self, fail)                                                   \
    do {                                                                    \
        if (pyrc_cache_check(self) < 0)                                     \
            return fail;                                                    \
        (self)->busy++;                                                     \
    } while (0)
#define LEAVE(self) ((self)->busy--)

void pyrc_decref_dtor(void *obj, void *ctx) {
    (void)ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)obj);
    PyGILState_Release(g);
}

int pyrc_cache_check(pyrc_Cache *self) {
    if (!self->c) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed cache");
        return -1;
    }
    return 0;
}

int pyrc_key_bytes(PyObject *key, const char **p, Py_ssize_t *n,
                   PyObject **keep) {
    *keep = NULL;
    if (PyUnicode_Check(key)) {
        *p = PyUnicode_AsUTF8AndSize(key, n);
        if (!*p) {
            /* lone surrogates: keep them, byte-exact and reversible */
            PyErr_Clear();
            *keep = PyUnicode_AsEncodedString(key, "utf-8", "surrogatepass");
            if (!*keep)
                return -1;
            *p = PyBytes_AS_STRING(*keep);
            *n = PyBytes_GET_SIZE(*keep);
        }
    } else if (PyBytes_Check(key)) {
        *p = PyBytes_AS_STRING(key);
        *n = PyBytes_GET_SIZE(key);
    } else {
        PyErr_Format(PyExc_TypeError, "cache key must be str or bytes, not %.100s",
                     Py_TYPE(key)->tp_name);
        return -1;
    }
    if (*n == 0 || (size_t)*n > RCACHE_MAX_KEY_LEN) {
        Py_CLEAR(*keep);
        PyErr_Format(PyExc_ValueError, "cache key length must be 1..%u bytes, got %zd",
                     RCACHE_MAX_KEY_LEN, *n);
        return -1;
    }
    return 0;
}

int pyrc_ttl_arg(PyObject *o, const char *name, int64_t *ttl_ms) {
    if (!o || o == Py_None) {
        *ttl_ms = RCACHE_TTL_DEFAULT;
        return 0;
    }
    if (PyBool_Check(o) || !(PyLong_Check(o) || PyFloat_Check(o))) {
        PyErr_Format(PyExc_TypeError, "%s must be a number of seconds or None, not %.100s",
                     name, Py_TYPE(o)->tp_name);
        return -1;
    }
    double s = PyFloat_AsDouble(o);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    /* 100 years, as rcached's admin API */
    if (!isfinite(s) || s < 0 || s > 3155760000.0) {
        PyErr_Format(PyExc_ValueError,
                     "%s must be between 0 and 3155760000 (100 years), got %R", name, o);
        return -1;
    }
    double ms = ceil(s * 1000.0);
    *ttl_ms = (int64_t)ms;
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int u64_arg(PyObject *o, const char *name, uint64_t *out) {
    if (!o || o == Py_None)
        return 0;
    if (PyBool_Check(o) || !PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_ValueError, "%s must be between 0 and 2**64-1, got %R", name, o);
        return -1;
    }
    *out = v;
    return 0;
}

static int cache_init(PyObject *op, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"max_items", "max_bytes", "default_ttl_ms", "shards",
                             "disabled", "clock", "sizeof", "from_env", NULL};
    pyrc_Cache *self = (pyrc_Cache *)op;
    PyObject *mi = NULL, *mb = NULL, *ttl = NULL, *sh = NULL, *clock = Py_None,
             *szf = Py_None;
    int disabled = 0, from_env = 0;
    rcache_config_t cfg;
    uint64_t shards = 0;
    char err[256] = "";

    if (self->c) {
        PyErr_SetString(PyExc_RuntimeError, "cache already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOOpOOp:CacheBase", kwlist, &mi, &mb,
                                     &ttl, &sh, &disabled, &clock, &szf, &from_env))
        return -1;
    rcache_config_init(&cfg);
    if (u64_arg(mi, "max_items", &cfg.max_items) < 0 ||
        u64_arg(mb, "max_bytes", &cfg.max_bytes) < 0 ||
        u64_arg(ttl, "default_ttl_ms", &cfg.default_ttl_ms) < 0 ||
        u64_arg(sh, "shards", &shards) < 0)
        return -1;
    if (cfg.default_ttl_ms > (uint64_t)INT64_MAX) {
        PyErr_SetString(PyExc_ValueError, "default_ttl_ms is too large");
        return -1;
    }
    if (shards > 1024) {
        PyErr_SetString(PyExc_ValueError, "shards must be between 0 and 1024");
        return -1;
    }
    cfg.shards = (uint32_t)shards;
    cfg.disabled = disabled;
    if (clock != Py_None) {
        if (!PyObject_TypeCheck(clock, &pyrc_ClockType)) {
            PyErr_Format(PyExc_TypeError, "clock must be an rcache.ManualClock or None, not %.100s",
                         Py_TYPE(clock)->tp_name);
            return -1;
        }
        cfg.clock = pyrc_clock_fn;
        cfg.clock_ctx = clock;
    }
    if (szf != Py_None && !PyCallable_Check(szf)) {
        PyErr_SetString(PyExc_TypeError, "sizeof must be a callable or None");
        return -1;
    }
    if (from_env && rcache_config_from_env(&cfg, err, sizeof(err)) != RCACHE_OK) {
        PyErr_Format(PyExc_ValueError, "bad cache environment variable: %s", err);
        return -1;
    }
    int rc = rcache_open(&cfg, &self->c);
    if (rc != RCACHE_OK) {
        self->c = NULL;
        pyrc_raise(rc, "rcache_open");
        return -1;
    }
    if (clock != Py_None) {
        Py_INCREF(clock);
        self->clock = clock;
    }
    if (szf != Py_None) {
        Py_INCREF(szf);
        self->sizeof_fn = szf;
    }
    return 0;
}

static void cache_close_now(pyrc_Cache *self) {
    rcache_t *c = self->c;
    if (!c)
        return;
    self->c = NULL;
    self->busy++;
    rcache_close(c); /* destructors run here, GIL held */
    self->busy--;
}

static void cache_dealloc(PyObject *op) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    PyObject_GC_UnTrack(op);
    if (self->weakrefs)
        PyObject_ClearWeakRefs(op);
    cache_close_now(self);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->sizeof_fn);
    Py_CLEAR(self->dict);
    Py_TYPE(op)->tp_free(op);
}

static int cache_traverse(PyObject *op, visitproc visit, void *arg) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    Py_VISIT(self->clock);
    Py_VISIT(self->sizeof_fn);
    Py_VISIT(self->dict);
    return 0;
}

static int cache_clear_refs(PyObject *op) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    Py_CLEAR(self->sizeof_fn);
    Py_CLEAR(self->dict);
    return 0; /* the clock stays: the open cache reads it */
}

static PyObject *cache_close(PyObject *op, PyObject *unused) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    if (self->busy > 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot close the cache from inside one of its own calls "
                        "or while a cached computation is running");
        return NULL;
    }
    cache_close_now(self);
    Py_RETURN_NONE;
}

static PyObject *cache_closed(PyObject *op, void *unused) {
    return PyBool_FromLong(((pyrc_Cache *)op)->c == NULL);
}

/* ---- the hot calls ------------------------------------------------------ */

/* A referenced entry as a new Python reference (bytes entries, stored by
 * other librcache users, come back as bytes). *failed set for a negatively
 * cached failure. */
static PyObject *ref_to_object(rcache_ref_t *ref, int *failed) {
    PyObject *o = rcache_ref_object(ref);
    *failed = 0;
    if (rcache_memo_ref_error(ref)) { /* a librcache error marker */
        *failed = 1;
        Py_RETURN_NONE;
    }
    if (o) {
        *failed = Py_TYPE(o) == &pyrc_FailureType;
        Py_INCREF(o);
        return o;
    }
    size_t n = 0;
    const void *v = rcache_ref_value(ref, &n);
    return PyBytes_FromStringAndSize(v, (Py_ssize_t)n);
}

/* Look key up: new reference, or NULL with no error set on a miss. */
static PyObject *lookup(pyrc_Cache *self, const char *k, Py_ssize_t kn) {
    rcache_ref_t *ref = NULL;
    int failed;
    self->busy++;
    int rc = rcache_get_ref(self->c, k, (size_t)kn, &ref);
    self->busy--;
    if (rc != RCACHE_OK)
        return rc == RCACHE_ENOTFOUND ? NULL : pyrc_raise(rc, "get");
    PyObject *o = ref_to_object(ref, &failed);
    self->busy++;
    rcache_release(ref);
    self->busy--;
    if (o && failed)
        Py_CLEAR(o); /* a cached failure reads as a miss here */
    return o;
}

static PyObject *cache_get(PyObject *op, PyObject *const *args, Py_ssize_t nargs) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "get() takes 1 or 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(args[0], &k, &kn, &keep) < 0)
        return NULL;
    PyObject *o = lookup(self, k, kn);
    Py_XDECREF(keep);
    if (o || PyErr_Occurred())
        return o;
    o = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(o);
    return o;
}

/* Look up keys[0..n) (Python objects, fast-sequence items) in one
 * rcache_get_many_ref() call and add the hits to out. 0, or -1 with an
 * exception set. */
#define GET_MANY_BATCH 16
static int get_many_batch(pyrc_Cache *self, PyObject *const *keys, Py_ssize_t n,
                          PyObject *out) {
    const void *kp[GET_MANY_BATCH];
    size_t kl[GET_MANY_BATCH];
    PyObject *keep[GET_MANY_BATCH] = {NULL};
    rcache_ref_t *refs[GET_MANY_BATCH] = {NULL};
    int rcs[GET_MANY_BATCH];
    int ret = 0;
    Py_ssize_t got = 0;
    for (; got < n; got++) {
        const char *p;
        Py_ssize_t len;
        if (pyrc_key_bytes(keys[got], &p, &len, &keep[got]) < 0) {
            ret = -1;
            goto out;
        }
        kp[got] = p;
        kl[got] = (size_t)len;
    }
    self->busy++;
    int rc = rcache_get_many_ref(self->c, (size_t)n, kp, kl, refs, rcs);
    self->busy--;
    if (rc != RCACHE_OK) {
        pyrc_raise(rc, "get_many");
        ret = -1;
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (rcs[i] != RCACHE_OK && rcs[i] != RCACHE_ENOTFOUND && ret == 0) {
            pyrc_raise(rcs[i], "get_many");
            ret = -1;
        }
        if (!refs[i] || ret < 0)
            continue;
        int failed;
        PyObject *o = ref_to_object(refs[i], &failed);
        if (!o)
            ret = -1;
        else if (!failed && PyDict_SetItem(out, keys[i], o) < 0)
            ret = -1;
        Py_XDECREF(o);
    }
out:
    self->busy++;
    for (Py_ssize_t i = 0; i < n; i++)
        rcache_release(refs[i]); /* NULL: a no-op */
    self->busy--;
    for (Py_ssize_t i = 0; i < got; i++)
        Py_XDECREF(keep[i]);
    return ret;
}

static PyObject *cache_get_many(PyObject *op, PyObject *keys) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    if (pyrc_cache_check(self) < 0)
        return NULL;
    PyObject *seq = PySequence_Fast(keys, "get_many() takes an iterable of keys");
    if (!seq)
        return NULL;
    PyObject *out = PyDict_New();
    Py_ssize_t n = out ? PySequence_Fast_GET_SIZE(seq) : 0;
    PyObject *const *items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t at = 0; out && at < n; at += GET_MANY_BATCH) {
        Py_ssize_t m = n - at < GET_MANY_BATCH ? n - at : GET_MANY_BATCH;
        if (get_many_batch(self, items + at, m, out) < 0)
            Py_CLEAR(out);
    }
    Py_DECREF(seq);
    return out;
}

static PyObject *cache_subscript(PyObject *op, PyObject *key) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return NULL;
    PyObject *o = lookup(self, k, kn);
    Py_XDECREF(keep);
    if (!o && !PyErr_Occurred())
        PyErr_SetObject(PyExc_KeyError, key);
    return o;
}

/* Store value under key. Returns 1 stored, 0 not stored (too big or
 * NX/XX refusal), -1 error. */
static int store(pyrc_Cache *self, PyObject *key, PyObject *value, PyObject *size_mb,
                 PyObject *ttl, unsigned flags, PyObject *compute_s, PyObject *tags) {
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    rcache_set_opts_t so = {.ttl_ms = RCACHE_TTL_DEFAULT, .flags = flags};
    pyrc_tags tg = {.n = 0, .seq = NULL};
    size_t charge;

    if (pyrc_cache_check(self) < 0 || pyrc_ttl_arg(ttl, "ttl_seconds", &so.ttl_ms) < 0)
        return -1;
    if (compute_s && compute_s != Py_None) {
        double s = PyFloat_AsDouble(compute_s);
        if (s == -1.0 && PyErr_Occurred())
            return -1;
        so.compute_ms = (isfinite(s) && s > 0) ? (uint64_t)fmin(s * 1000.0, 4e9) : 0;
    }
    if (pyrc_charge(value, size_mb, self->sizeof_fn, &charge) < 0)
        return -1;
    if (pyrc_tags_arg(tags, &tg) < 0)
        return -1;
    if (pyrc_key_bytes(key, &k, &kn, &keep) < 0) {
        pyrc_tags_release(&tg);
        return -1;
    }
    so.tags = tg.n ? tg.t : NULL;
    so.ntags = tg.n;
    Py_INCREF(value);
    self->busy++;
    int rc = rcache_set_object(self->c, k, (size_t)kn, value, charge, pyrc_decref_dtor,
                               NULL, &so);
    pyrc_tags_release(&tg);
    if (rc == RCACHE_ETOOBIG && !flags)
        (void)rcache_delete(self->c, k, (size_t)kn); /* no stale old value */
    self->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_OK)
        return 1;
    Py_DECREF(value); /* ownership stays with us on error */
    if (rc == RCACHE_ETOOBIG || rc == RCACHE_EEXIST || rc == RCACHE_ENOTFOUND)
        return 0;
    pyrc_raise(rc, "set");
    return -1;
}

static PyObject *cache_set(PyObject *op, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"key", "value", "size_mb", "ttl_seconds", "nx", "xx",
                             "compute_seconds", "tags", NULL};
    PyObject *key, *value, *size_mb = Py_None, *ttl = Py_None, *cs = Py_None;
    PyObject *tags = Py_None;
    int nx = 0, xx = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO$ppOO:set", kwlist, &key, &value,
                                     &size_mb, &ttl, &nx, &xx, &cs, &tags))
        return NULL;
    if (nx && xx) {
        PyErr_SetString(PyExc_ValueError, "nx and xx are exclusive");
        return NULL;
    }
    int r = store((pyrc_Cache *)op, key, value, size_mb, ttl,
                  (nx ? RCACHE_SET_NX : 0u) | (xx ? RCACHE_SET_XX : 0u), cs, tags);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static int del_key(pyrc_Cache *self, PyObject *key) {
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return -1;
    self->busy++;
    int rc = rcache_delete(self->c, k, (size_t)kn);
    self->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_OK)
        return 1;
    if (rc == RCACHE_ENOTFOUND)
        return 0;
    pyrc_raise(rc, "delete");
    return -1;
}

static int cache_ass_subscript(PyObject *op, PyObject *key, PyObject *value) {
    if (value) {
        int r = store((pyrc_Cache *)op, key, value, Py_None, Py_None, 0, NULL, NULL);
        if (r == 0)
            PyErr_SetString(PyExc_ValueError,
                            "value is larger than the cache's memory limit");
        return r > 0 ? 0 : -1;
    }
    int r = del_key((pyrc_Cache *)op, key);
    if (r == 0)
        PyErr_SetObject(PyExc_KeyError, key);
    return r > 0 ? 0 : -1;
}

static PyObject *cache_delete(PyObject *op, PyObject *key) {
    int r = del_key((pyrc_Cache *)op, key);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static int cache_contains(PyObject *op, PyObject *key) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return -1;
    self->busy++; /* an expired entry reclaimed here runs its destructor */
    int r = rcache_exists(self->c, k, (size_t)kn);
    self->busy--;
    Py_XDECREF(keep);
    return r;
}

static Py_ssize_t cache_len(PyObject *op) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    if (pyrc_cache_check(self) < 0)
        return -1;
    return (Py_ssize_t)rcache_count(self->c);
}

static PyObject *cache_clear(PyObject *op, PyObject *unused) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    uint64_t n = 0;
    ENTER(self, NULL);
    rcache_clear(self->c, &n);
    LEAVE(self);
    return PyLong_FromUnsignedLongLong(n);
}

/* ---- administration ---------------------------------------------------- */

#define SET_U64(d, name, v)                                                 \
    do {                                                                    \
        PyObject *x_ = PyLong_FromUnsignedLongLong(v);                      \
        if (!x_ || PyDict_SetItemString(d, name, x_) < 0) {                 \
            Py_XDECREF(x_);                                                 \
            Py_DECREF(d);                                                   \
            return NULL;                                                    \
        }                                                                   \
        Py_DECREF(x_);                                                      \
    } while (0)

static PyObject *cache_raw_stats(PyObject *op, PyObject *unused) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    rcache_stats_t s;
    rcache_memo_stats_t m;
    if (pyrc_cache_check(self) < 0)
        return NULL;
    rcache_stats(self->c, &s);
    rcache_memo_stats(self->c, &m);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    SET_U64(d, "hits", s.hits);
    SET_U64(d, "misses", s.misses);
    SET_U64(d, "sets", s.sets);
    SET_U64(d, "deletes", s.deletes);
    SET_U64(d, "evictions", s.evictions);
    SET_U64(d, "evictions_items", s.evictions_items);
    SET_U64(d, "evictions_bytes", s.evictions_bytes);
    SET_U64(d, "expirations", s.expirations);
    SET_U64(d, "items", s.items);
    SET_U64(d, "bytes", s.bytes);
    SET_U64(d, "peak_bytes", s.peak_bytes);
    SET_U64(d, "max_items", s.max_items);
    SET_U64(d, "max_bytes", s.max_bytes);
    SET_U64(d, "default_ttl_ms", s.default_ttl_ms);
    SET_U64(d, "compute_saved_ms", s.compute_saved_ms);
    SET_U64(d, "computations", s.computations + self->async_computations);
    SET_U64(d, "singleflight_dedup", s.singleflight_dedup + self->async_dedup);
    SET_U64(d, "disabled", (uint64_t)s.disabled);
    SET_U64(d, "compute_ms_total", m.compute_ms_total);
    SET_U64(d, "dedup_saved_ms", m.dedup_saved_ms);
    SET_U64(d, "compute_errors", m.errors);
    SET_U64(d, "negative_hits", m.negative_hits);
    SET_U64(d, "singleflight_timeouts", m.timeouts);
    SET_U64(d, "reentrant_calls", m.deadlocks);
    SET_U64(d, "in_flight", m.in_flight);
    return d;
}

static PyObject *cache_reset_stats(PyObject *op, PyObject *unused) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    if (pyrc_cache_check(self) < 0)
        return NULL;
    rcache_stats_reset(self->c);
    Py_RETURN_NONE;
}

static PyObject *cache_set_limits(PyObject *op, PyObject *args) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    PyObject *a, *b;
    uint64_t mi = 0, mb = 0;
    if (!PyArg_ParseTuple(args, "OO:_set_limits", &a, &b))
        return NULL;
    if (u64_arg(a, "max_items", &mi) < 0 || u64_arg(b, "max_bytes", &mb) < 0)
        return NULL;
    ENTER(self, NULL);
    rcache_stats_t before, after;
    rcache_stats(self->c, &before);
    int rc = rcache_set_limits(self->c, mi, mb);
    rcache_stats(self->c, &after);
    LEAVE(self);
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "set_limits");
    return PyLong_FromUnsignedLongLong(after.evictions - before.evictions);
}

static PyObject *cache_set_default_ttl(PyObject *op, PyObject *arg) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    uint64_t ms = 0;
    if (u64_arg(arg, "default_ttl_ms", &ms) < 0 || pyrc_cache_check(self) < 0)
        return NULL;
    int rc = rcache_set_default_ttl(self->c, ms);
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "set_default_ttl");
    Py_RETURN_NONE;
}

static PyObject *cache_set_disabled(PyObject *op, PyObject *arg) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    int d = PyObject_IsTrue(arg);
    if (d < 0 || pyrc_cache_check(self) < 0)
        return NULL;
    rcache_set_disabled(self->c, d);
    Py_RETURN_NONE;
}

static PyObject *info_tuple(const rcache_entry_info_t *e) {
    return Py_BuildValue("(y#KKKKKLKii)", (const char *)e->key, (Py_ssize_t)e->key_len,
                         (unsigned long long)e->value_len,
                         (unsigned long long)e->size_bytes,
                         (unsigned long long)e->created_at_ms,
                         (unsigned long long)e->last_access_ms,
                         (unsigned long long)e->access_count, (long long)e->ttl_ms,
                         (unsigned long long)e->compute_ms, e->expired, e->is_object);
}

static PyObject *cache_scan(PyObject *op, PyObject *args) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    unsigned long long cursor;
    Py_ssize_t count;
    PyObject *pat = Py_None, *keep = NULL;
    int incl = 1;
    const char *p = NULL;
    Py_ssize_t pn = 0;
    rcache_scan_page_t page = {NULL, 0};
    uint64_t next = 0;
    if (!PyArg_ParseTuple(args, "Kn|Op:_scan", &cursor, &count, &pat, &incl))
        return NULL;
    if (count < 1) {
        PyErr_SetString(PyExc_ValueError, "count must be >= 1");
        return NULL;
    }
    if (pat != Py_None && pyrc_key_bytes(pat, &p, &pn, &keep) < 0)
        return NULL;
    if (pyrc_cache_check(self) < 0) {
        Py_XDECREF(keep);
        return NULL;
    }
    self->busy++;
    int rc = rcache_scan(self->c, cursor, (size_t)count, p, (size_t)pn, incl, &page, &next);
    self->busy--;
    Py_XDECREF(keep);
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "scan");
    PyObject *list = PyList_New((Py_ssize_t)page.count);
    for (size_t i = 0; list && i < page.count; i++) {
        PyObject *t = info_tuple(&page.entries[i]);
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    rcache_scan_page_free(&page);
    if (!list)
        return NULL;
    return Py_BuildValue("(KN)", (unsigned long long)next, list);
}

static PyObject *cache_entry_info(PyObject *op, PyObject *key) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    rcache_entry_info_t e;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return NULL;
    self->busy++;
    int rc = rcache_entry_info(self->c, k, (size_t)kn, &e);
    self->busy--;
    PyObject *r = rc == RCACHE_OK ? info_tuple(&e) : NULL;
    Py_XDECREF(keep);
    if (rc == RCACHE_ENOTFOUND)
        Py_RETURN_NONE;
    return rc == RCACHE_OK ? r : pyrc_raise(rc, "entry_info");
}

static PyObject *cache_invalidate(PyObject *op, PyObject *pat) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *p;
    Py_ssize_t pn;
    PyObject *keep;
    uint64_t n = 0;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(pat, &p, &pn, &keep) < 0)
        return NULL;
    self->busy++;
    int rc = rcache_invalidate(self->c, p, (size_t)pn, &n);
    self->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_EPATTERN) {
        PyErr_Format(PyExc_ValueError, "malformed glob pattern %R", pat);
        return NULL;
    }
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "invalidate_pattern");
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *cache_invalidate_ns(PyObject *op, PyObject *ns) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    uint64_t n = 0;
    const char *s = PyUnicode_Check(ns) ? PyUnicode_AsUTF8(ns) : NULL;
    if (!s) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "namespace must be a str");
        return NULL;
    }
    ENTER(self, NULL);
    int rc = rcache_key_invalidate_ns(self->c, s, &n);
    LEAVE(self);
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "invalidate namespace");
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *cache_expire(PyObject *op, PyObject *args) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    PyObject *key, *ttl, *keep;
    const char *k;
    Py_ssize_t kn;
    int64_t ms;
    int rc;
    if (!PyArg_ParseTuple(args, "OO:touch", &key, &ttl))
        return NULL;
    if (pyrc_ttl_arg(ttl, "ttl_seconds", &ms) < 0)
        return NULL;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return NULL;
    self->busy++;
    if (ms == RCACHE_TTL_DEFAULT)
        rc = rcache_persist(self->c, k, (size_t)kn);
    else if (ms == 0) /* zero: expire now */
        rc = rcache_delete(self->c, k, (size_t)kn) == RCACHE_OK ? RCACHE_OK : RCACHE_ENOTFOUND;
    else
        rc = rcache_expire(self->c, k, (size_t)kn, (uint64_t)ms);
    self->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_OK || rc == RCACHE_ENOTFOUND)
        return PyBool_FromLong(rc == RCACHE_OK);
    return pyrc_raise(rc, "touch");
}

static PyObject *cache_ttl(PyObject *op, PyObject *key) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    int64_t ms = 0;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return NULL;
    self->busy++;
    int rc = rcache_ttl(self->c, k, (size_t)kn, &ms);
    self->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_ENOTFOUND) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "ttl");
    if (ms < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)ms / 1000.0);
}

static PyObject *cache_now(PyObject *op, PyObject *unused) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    if (pyrc_cache_check(self) < 0)
        return NULL;
    return PyFloat_FromDouble((double)rcache_now_ms(self->c) / 1000.0);
}

static PyObject *cache_enter(PyObject *op, PyObject *unused) {
    if (pyrc_cache_check((pyrc_Cache *)op) < 0)
        return NULL;
    Py_INCREF(op);
    return op;
}

static PyObject *cache_exit(PyObject *op, PyObject *args) {
    PyObject *r = cache_close(op, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyMethodDef cache_methods[] = {
    {"get", (PyCFunction)(void (*)(void))cache_get, METH_FASTCALL,
     "get(key, default=None) -> object\n\n"
     "The object stored under key (the very object, not a copy), or default\n"
     "when the key is absent or expired. Counts a hit or a miss. key: str\n"
     "(UTF-8) or bytes, 1 byte .. 16 MiB. TypeError/ValueError on a bad key."},
    {"get_many", (PyCFunction)cache_get_many, METH_O,
     "get_many(keys) -> dict\n\n"
     "The objects stored under several keys, as a dict of the keys found\n"
     "(absent and expired keys are left out), each as get() would return it\n"
     "and counted as a hit or a miss. The lookups of up to 16 keys at a time\n"
     "overlap their memory accesses (rcache_get_many_ref), so on a large\n"
     "cache this costs less than a get() per key. keys: an iterable of str or\n"
     "bytes keys; TypeError/ValueError on a bad key (nothing is returned)."},
    {"set", (PyCFunction)(void (*)(void))cache_set, METH_VARARGS | METH_KEYWORDS,
     "set(key, value, size_mb=None, ttl_seconds=None, *, nx=False, xx=False,\n"
     "    compute_seconds=None, tags=None) -> bool\n\n"
     "Store value by reference under key, replacing any previous value, then\n"
     "evict least-recently-used entries until both limits hold.\n"
     "size_mb: what the value counts against the memory limit, in MiB\n"
     "(default: the estimate described in the package README).\n"
     "ttl_seconds: None = the cache's default TTL, 0 = no expiry, > 0 seconds.\n"
     "nx: only if absent; xx: only if present. compute_seconds: how long the\n"
     "value took to produce (feeds compute_saved_seconds). tags: a list of\n"
     "str/bytes (at most 32, 1..1024 bytes each) for invalidate_tag(); a set\n"
     "without tags leaves the key untagged.\n"
     "Returns True if stored; False if refused by nx/xx or if the value alone\n"
     "exceeds the memory limit (any previous value of key is then removed).\n"
     "TypeError for wrong types, ValueError for negative/huge numbers."},
    {"delete", cache_delete, METH_O, "delete(key) -> bool: remove key; False if it was absent."},
    {"clear", cache_clear, METH_NOARGS, "clear() -> int: remove every entry; returns how many."},
    {"invalidate_pattern", cache_invalidate, METH_O,
     "invalidate_pattern(pattern) -> int\n\n"
     "Remove every key matching a Redis-style glob ('*', '?', '[a-z]', '\\\\'\n"
     "escapes; case-sensitive); returns how many. ValueError if malformed."},
    {"invalidate_tag", pyrc_cache_invalidate_tag, METH_O,
     "invalidate_tag(tag) -> int\n\n"
     "Remove every key stored with this tag (set(..., tags=[...])); returns\n"
     "how many. Costs time in proportion to those keys, not to the cache."},
    {"get_tags", pyrc_cache_get_tags, METH_O,
     "get_tags(key) -> list | None: the key's tags (str, or bytes when not\n"
     "UTF-8), [] for none; None if the key is absent."},
    {"touch", cache_expire, METH_VARARGS,
     "touch(key, ttl_seconds) -> bool: give key a new TTL (None = no expiry,\n"
     "0 = expire now); False if key is absent."},
    {"ttl", cache_ttl, METH_O,
     "ttl(key) -> float | None: seconds left, None if no expiry; KeyError if absent."},
    {"now", cache_now, METH_NOARGS, "now() -> float: the cache clock, seconds since the epoch."},
    {"close", cache_close, METH_NOARGS,
     "close(): free every entry (dropping the references) and the cache.\n"
     "Later calls raise ValueError. RuntimeError if called from inside a\n"
     "call on this cache (e.g. a __del__ run by an eviction)."},
    {"reset_stats", cache_reset_stats, METH_NOARGS, "reset_stats(): zero the counters."},
    {"__enter__", cache_enter, METH_NOARGS, NULL},
    {"__exit__", cache_exit, METH_VARARGS, NULL},
    {"_raw_stats", cache_raw_stats, METH_NOARGS, NULL},
    {"_set_limits", cache_set_limits, METH_VARARGS, NULL},
    {"_set_default_ttl", cache_set_default_ttl, METH_O, NULL},
    {"_set_disabled", cache_set_disabled, METH_O, NULL},
    {"_scan", cache_scan, METH_VARARGS, NULL},
    {"_entry_info", cache_entry_info, METH_O, NULL},
    {"_invalidate_ns", cache_invalidate_ns, METH_O, NULL},
    {NULL, NULL, 0, NULL}};

static PyObject *cache_clock(PyObject *op, void *unused) {
    PyObject *c = ((pyrc_Cache *)op)->clock;
    if (!c)
        Py_RETURN_NONE;
    Py_INCREF(c);
    return c;
}

static PyGetSetDef cache_getset[] = {
    {"clock", cache_clock, NULL, "The ManualClock given at creation, or None (real time).", NULL},
    {"closed", cache_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef cache_members[] = {
    {"_async_computations", T_ULONGLONG, offsetof(pyrc_Cache, async_computations), 0, NULL},
    {"_async_dedup", T_ULONGLONG, offsetof(pyrc_Cache, async_dedup), 0, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyMappingMethods cache_as_mapping = {cache_len, cache_subscript, cache_ass_subscript};
static PySequenceMethods cache_as_sequence = {.sq_contains = cache_contains};

PyTypeObject pyrc_CacheType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rcache._rcache.CacheBase",
    .tp_basicsize = sizeof(pyrc_Cache),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "C core of rcache.Cache: one librcache cache of Python objects.",
    .tp_new = PyType_GenericNew,
    .tp_init = cache_init,
    .tp_dealloc = cache_dealloc,
    .tp_traverse = cache_traverse,
    .tp_clear = cache_clear_refs,
    .tp_methods = cache_methods,
    .tp_getset = cache_getset,
    .tp_members = cache_members,
    .tp_as_mapping = &cache_as_mapping,
    .tp_as_sequence = &cache_as_sequence,
    .tp_weaklistoffset = offsetof(pyrc_Cache, weakrefs),
    .tp_dictoffset = offsetof(pyrc_Cache, dict),
};
