/*
 * sizing.c - what a stored Python object counts against the memory limit.
 *
 * Why: librcache bounds the cache by bytes, but the size of a Python object
 * graph is not known to it.  The charge is, in order:
 *   1. size_mb given by the caller (MiB, >= 0, finite, at most 2^40);
 *   2. the cache's or decorator's sizeof= callable (an int of bytes >= 0);
 *   3. an estimate: len() of bytes, bytearray and str; nbytes of any other
 *      buffer-protocol object (numpy arrays, memoryview, array.array);
 *      otherwise sys.getsizeof summed over the object and, recursively,
 *      the items of lists, tuples, sets, frozensets and dicts (keys and
 *      values) and the __dict__ of plain instances, at most
 *      PYRC_SIZE_MAX_NODES objects and PYRC_SIZE_MAX_DEPTH levels deep
 *      (so it is bounded in time; shared objects are counted each time).
 */
#include "ext.h"

#include <math.h>

#define PYRC_SIZE_MAX_NODES 10000
#define PYRC_SIZE_MAX_DEPTH 8
#define PYRC_MAX_SIZE_MB 1099511627776.0 /* 2^40 MiB = 2^60 bytes */

typedef struct {
    long nodes;
    uint64_t total;
} walk_t;

static int getsizeof(PyObject *o, uint64_t *out) {
    PyObject *r = PyObject_CallOneArg(pyrc_getsizeof, o);
    if (!r)
        return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(r);
    Py_DECREF(r);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

static int walk(walk_t *w, PyObject *o, int depth);

static int walk_children(walk_t *w, PyObject *o, int depth) {
    if (PyList_Check(o) || PyTuple_Check(o)) {
        PyObject *seq = PySequence_Fast(o, "");
        if (!seq)
            return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        for (Py_ssize_t i = 0; i < n && w->nodes < PYRC_SIZE_MAX_NODES; i++) {
            /* a list may change under us if an item's __sizeof__ runs code */
            if (i >= PySequence_Fast_GET_SIZE(seq))
                break;
            PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
            Py_INCREF(it);
            int r = walk(w, it, depth + 1);
            Py_DECREF(it);
            if (r < 0) {
                Py_DECREF(seq);
                return -1;
            }
        }
        Py_DECREF(seq);
        return 0;
    }
    if (PyDict_Check(o)) {
        PyObject *items = PyDict_Items(o);
        if (!items)
            return -1;
        int r = walk_children(w, items, depth); /* list of (k, v) tuples */
        Py_DECREF(items);
        return r;
    }
    if (PyAnySet_Check(o)) {
        PyObject *lst = PySequence_List(o);
        if (!lst)
            return -1;
        int r = walk_children(w, lst, depth);
        Py_DECREF(lst);
        return r;
    }
    if (Py_TYPE(o)->tp_dictoffset > 0 && !PyType_Check(o) && !PyModule_Check(o)) {
        PyObject **dp = _PyObject_GetDictPtr(o);
        if (dp && *dp)
            return walk(w, *dp, depth + 1);
    }
    return 0;
}

static int walk(walk_t *w, PyObject *o, int depth) {
    uint64_t n;
    if (w->nodes >= PYRC_SIZE_MAX_NODES)
        return 0;
    w->nodes++;
    if (getsizeof(o, &n) < 0)
        return -1;
    w->total += n;
    if (depth >= PYRC_SIZE_MAX_DEPTH || PyUnicode_Check(o) || PyBytes_Check(o) ||
        PyLong_Check(o) || PyFloat_Check(o))
        return 0;
    if (Py_EnterRecursiveCall(" while estimating a cached value's size"))
        return -1;
    int r = walk_children(w, o, depth);
    Py_LeaveRecursiveCall();
    return r;
}

static int estimate(PyObject *v, size_t *out) {
    if (PyBytes_Check(v)) {
        *out = (size_t)PyBytes_GET_SIZE(v);
        return 0;
    }
    if (PyByteArray_Check(v)) {
        *out = (size_t)PyByteArray_GET_SIZE(v);
        return 0;
    }
    if (PyUnicode_Check(v)) {
        *out = (size_t)PyUnicode_GET_LENGTH(v);
        return 0;
    }
    if (PyObject_CheckBuffer(v)) {
        Py_buffer view;
        if (PyObject_GetBuffer(v, &view, PyBUF_FULL_RO) == 0) {
            *out = (size_t)view.len;
            PyBuffer_Release(&view);
            return 0;
        }
        PyErr_Clear(); /* fall back on getsizeof */
    }
    walk_t w = {0, 0};
    if (walk(&w, v, 0) < 0)
        return -1;
    *out = (size_t)w.total;
    return 0;
}

int pyrc_charge(PyObject *value, PyObject *size_mb, PyObject *sizeof_fn,
                size_t *out_bytes) {
    if (size_mb && size_mb != Py_None) {
        if (PyBool_Check(size_mb) || !(PyLong_Check(size_mb) || PyFloat_Check(size_mb))) {
            PyErr_Format(PyExc_TypeError, "size_mb must be a number (MiB) or None, not %.100s",
                         Py_TYPE(size_mb)->tp_name);
            return -1;
        }
        double mb = PyFloat_AsDouble(size_mb);
        if (mb == -1.0 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            mb = INFINITY;
        }
        if (!isfinite(mb) || mb < 0 || mb > PYRC_MAX_SIZE_MB) {
            PyErr_Format(PyExc_ValueError,
                         "size_mb must be between 0 and 2**40 MiB, got %R", size_mb);
            return -1;
        }
        *out_bytes = (size_t)ceil(mb * 1048576.0);
        return 0;
    }
    if (sizeof_fn && sizeof_fn != Py_None) {
        PyObject *r = PyObject_CallOneArg(sizeof_fn, value);
        if (!r)
            return -1;
        if (PyBool_Check(r) || !PyLong_Check(r)) {
            PyErr_Format(PyExc_TypeError, "sizeof callable must return an int of bytes, not %.100s",
                         Py_TYPE(r)->tp_name);
            Py_DECREF(r);
            return -1;
        }
        unsigned long long b = PyLong_AsUnsignedLongLong(r);
        Py_DECREF(r);
        if (b == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "sizeof callable returned a negative or huge size");
            return -1;
        }
        *out_bytes = (size_t)b;
        return 0;
    }
    return estimate(value, out_bytes);
}

PyObject *pyrc_estimate_size(PyObject *mod, PyObject *v) {
    size_t n;
    (void)mod;
    if (estimate(v, &n) < 0)
        return NULL;
    return PyLong_FromSize_t(n);
}
