/*
 * keyenc.c - cache keys built from a function's arguments.
 *
 * Why: keys must be the same in every process and every run (so they can
 * be shared through a Redis tier or a snapshot), unambiguous (distinct
 * argument lists give distinct keys) and cheap to build.  repr() and hash()
 * are none of these, so arguments are encoded by type, in librcache's
 * argument-key format v1 (include/rcache.h: ns 0x00 0x01 then tagged
 * arguments), which a C caller of RCACHE_KEY_ARGS() with the same
 * namespace and the same str/int/float/bytes arguments reproduces byte for
 * byte.  Python-only types get tags librcache does not use:
 *
 *   None      'n'                      bool   'u' be64 (0 or 1)
 *   int       'i' be64 (int64 range), 'u' be64 (2^63..2^64-1), or
 *             'I' len32 decimal-ASCII (beyond); also objects with
 *             __index__ (numpy integers)
 *   float     'd' be64 (IEEE bits; -0.0 as 0.0, NaN canonical)
 *   str       's' len32 UTF-8 (lone surrogates kept: surrogatepass)
 *   bytes, bytearray                   'b' len32 bytes
 *   tuple     't' count32 items        list   'l' count32 items
 *   dict      'D' count32 (key value)* sorted by the key's encoding
 *   set, frozenset                     'f' count32 items sorted by encoding
 *   dataclass 'c' name (field-name value)*, name = 's' "module.QualName"
 *   __cache_key__()                    'K' name encoding-of-its-result
 *   keyword argument                   'k' name value (sorted by name,
 *                                      after the positional arguments)
 * Anything else is refused (-2): silently keying on repr() would make two
 * different objects share a result, or one object miss forever.
 */
#include "ext.h"

#include <string.h>

void pyrc_buf_init(pyrc_buf *b) {
    b->buf = b->inline_buf;
    b->len = 0;
    b->cap = sizeof(b->inline_buf);
}

void pyrc_buf_free(pyrc_buf *b) {
    if (b->buf != b->inline_buf)
        PyMem_Free(b->buf);
    pyrc_buf_init(b);
}

int pyrc_buf_put(pyrc_buf *b, const void *p, size_t n) {
    if (n > b->cap - b->len) {
        size_t need = b->len + n, cap = b->cap * 2;
        if (need > RCACHE_MAX_KEY_LEN) {
            PyErr_SetString(PyExc_ValueError,
                            "the arguments make a cache key longer than 16 MiB");
            return -1;
        }
        while (cap < need)
            cap *= 2;
        unsigned char *nb = PyMem_Malloc(cap);
        if (!nb) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(nb, b->buf, b->len);
        if (b->buf != b->inline_buf)
            PyMem_Free(b->buf);
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

static int put_tag_u32(pyrc_buf *b, char tag, size_t n) {
    if (n > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "cache key argument too large");
        return -1;
    }
    unsigned char h[5] = {(unsigned char)tag, (unsigned char)(n >> 24),
                          (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                          (unsigned char)n};
    return pyrc_buf_put(b, h, 5);
}

static int put_tag_u64(pyrc_buf *b, char tag, uint64_t v) {
    unsigned char h[9];
    h[0] = (unsigned char)tag;
    for (int i = 0; i < 8; i++)
        h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    return pyrc_buf_put(b, h, 9);
}

static int put_blob(pyrc_buf *b, char tag, const void *p, size_t n) {
    if (put_tag_u32(b, tag, n) < 0)
        return -1;
    return pyrc_buf_put(b, p, n);
}

static int put_str(pyrc_buf *b, PyObject *s) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p)
        return put_blob(b, 's', p, (size_t)n);
    PyErr_Clear();
    PyObject *e = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (!e)
        return -1;
    int r = put_blob(b, 's', PyBytes_AS_STRING(e), (size_t)PyBytes_GET_SIZE(e));
    Py_DECREF(e);
    return r;
}

static int put_typename(pyrc_buf *b, PyTypeObject *t) {
    PyObject *mod = PyObject_GetAttrString((PyObject *)t, "__module__");
    PyObject *qn = mod ? PyObject_GetAttrString((PyObject *)t, "__qualname__") : NULL;
    PyObject *full = qn ? PyUnicode_FromFormat("%S.%S", mod, qn) : NULL;
    int r = full ? put_str(b, full) : -1;
    Py_XDECREF(mod);
    Py_XDECREF(qn);
    Py_XDECREF(full);
    return r;
}

static int put_int(pyrc_buf *b, PyObject *v) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (!overflow)
        return put_tag_u64(b, 'i', (uint64_t)x);
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(v);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred()))
            return put_tag_u64(b, 'u', u);
        PyErr_Clear();
    }
    PyObject *s = PyNumber_ToBase(v, 10);
    if (!s)
        return -1;
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    int r = p ? put_blob(b, 'I', p, (size_t)n) : -1;
    Py_DECREF(s);
    return r;
}

static int put_float(pyrc_buf *b, double d) {
    uint64_t bits;
    if (d == 0.0)
        d = 0.0; /* -0.0 -> +0.0 */
    if (d != d)
        bits = UINT64_C(0x7ff8000000000000);
    else
        memcpy(&bits, &d, 8);
    return put_tag_u64(b, 'd', bits);
}

/* Encode v alone into a new bytes object (for sorting dict/set items). */
static PyObject *encode_alone(PyObject *v, PyObject **bad, int *rc) {
    pyrc_buf t;
    pyrc_buf_init(&t);
    *rc = pyrc_encode_value(&t, v, bad);
    PyObject *r = *rc == 0 ? PyBytes_FromStringAndSize((char *)t.buf, (Py_ssize_t)t.len) : NULL;
    if (*rc == 0 && !r)
        *rc = -1;
    pyrc_buf_free(&t);
    return r;
}

static int put_sorted(pyrc_buf *b, PyObject *list) {
    if (PyList_Sort(list) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *it = PyList_GET_ITEM(list, i);
        if (PyTuple_Check(it)) {
            for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(it); j++) {
                PyObject *e = PyTuple_GET_ITEM(it, j);
                if (pyrc_buf_put(b, PyBytes_AS_STRING(e), (size_t)PyBytes_GET_SIZE(e)) < 0)
                    return -1;
            }
        } else if (pyrc_buf_put(b, PyBytes_AS_STRING(it), (size_t)PyBytes_GET_SIZE(it)) < 0) {
            return -1;
        }
    }
    return 0;
}

static int put_dict(pyrc_buf *b, PyObject *d, PyObject **bad) {
    PyObject *k, *v, *list = PyList_New(0);
    Py_ssize_t pos = 0;
    int rc = 0;
    if (!list)
        return -1;
    if (put_tag_u32(b, 'D', (size_t)PyDict_GET_SIZE(d)) < 0)
        rc = -1;
    while (rc == 0 && PyDict_Next(d, &pos, &k, &v)) {
        PyObject *ek = encode_alone(k, bad, &rc), *ev = NULL, *pair = NULL;
        if (rc == 0)
            ev = encode_alone(v, bad, &rc);
        if (rc == 0 && (!(pair = PyTuple_Pack(2, ek, ev)) || PyList_Append(list, pair) < 0))
            rc = -1;
        Py_XDECREF(ek);
        Py_XDECREF(ev);
        Py_XDECREF(pair);
    }
    if (rc == 0 && put_sorted(b, list) < 0)
        rc = -1;
    Py_DECREF(list);
    return rc;
}

static int put_set(pyrc_buf *b, PyObject *s, PyObject **bad) {
    PyObject *it = PyObject_GetIter(s), *x, *list = PyList_New(0);
    int rc = (it && list) ? 0 : -1;
    if (rc == 0 && put_tag_u32(b, 'f', (size_t)PySet_GET_SIZE(s)) < 0)
        rc = -1;
    while (rc == 0 && (x = PyIter_Next(it))) {
        PyObject *e = encode_alone(x, bad, &rc);
        Py_DECREF(x);
        if (rc == 0 && PyList_Append(list, e) < 0)
            rc = -1;
        Py_XDECREF(e);
    }
    if (rc == 0 && PyErr_Occurred())
        rc = -1;
    if (rc == 0 && put_sorted(b, list) < 0)
        rc = -1;
    Py_XDECREF(it);
    Py_XDECREF(list);
    return rc;
}

static PyObject *dc_fields; /* dataclasses.fields */

static int put_dataclass(pyrc_buf *b, PyObject *v, PyObject **bad) {
    if (!dc_fields) {
        PyObject *m = PyImport_ImportModule("dataclasses");
        if (!m)
            return -1;
        dc_fields = PyObject_GetAttrString(m, "fields");
        Py_DECREF(m);
        if (!dc_fields)
            return -1;
    }
    PyObject *fields = PyObject_CallOneArg(dc_fields, v);
    if (!fields)
        return -1;
    PyObject *seq = PySequence_Fast(fields, "dataclasses.fields() must be a sequence");
    Py_DECREF(fields);
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int rc = put_tag_u32(b, 'c', (size_t)n);
    if (rc == 0)
        rc = put_typename(b, Py_TYPE(v));
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
        PyObject *name = PyObject_GetAttrString(PySequence_Fast_GET_ITEM(seq, i), "name");
        PyObject *val = name ? PyObject_GetAttr(v, name) : NULL;
        rc = val ? put_str(b, name) : -1;
        if (rc == 0)
            rc = pyrc_encode_value(b, val, bad);
        Py_XDECREF(name);
        Py_XDECREF(val);
    }
    Py_DECREF(seq);
    return rc;
}

static int put_seq(pyrc_buf *b, char tag, PyObject *v, PyObject **bad) {
    PyObject *seq = PySequence_Fast(v, "");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int rc = put_tag_u32(b, tag, (size_t)n);
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
        rc = pyrc_encode_value(b, PySequence_Fast_GET_ITEM(seq, i), bad);
    Py_DECREF(seq);
    return rc;
}

static int encode_other(pyrc_buf *b, PyObject *v, PyObject **bad) {
    PyTypeObject *t = Py_TYPE(v);
    PyObject *ck = PyObject_GetAttrString((PyObject *)t, "__cache_key__");
    if (ck) {
        Py_DECREF(ck);
        PyObject *r = PyObject_CallMethod(v, "__cache_key__", NULL);
        if (!r)
            return -1;
        int rc = pyrc_buf_put(b, "K", 1);
        if (rc == 0)
            rc = put_typename(b, t);
        if (rc == 0)
            rc = pyrc_encode_value(b, r, bad);
        Py_DECREF(r);
        return rc;
    }
    PyErr_Clear();
    if (!PyType_Check(v) && PyObject_HasAttrString((PyObject *)t, "__dataclass_fields__"))
        return put_dataclass(b, v, bad);
    if (PyList_Check(v))
        return put_seq(b, 'l', v, bad);
    if (PyTuple_Check(v))
        return put_seq(b, 't', v, bad);
    if (PyDict_Check(v))
        return put_dict(b, v, bad);
    if (PyAnySet_Check(v))
        return put_set(b, v, bad);
    if (PyLong_Check(v)) /* int subclasses (IntEnum, IntFlag) */
        return put_int(b, v);
    if (PyFloat_Check(v))
        return put_float(b, PyFloat_AS_DOUBLE(v));
    if (PyUnicode_Check(v))
        return put_str(b, v);
    if (PyBytes_Check(v))
        return put_blob(b, 'b', PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
    if (PyIndex_Check(v)) { /* integers that are not int subclasses (numpy.int64) */
        PyObject *i = PyNumber_Index(v);
        if (i) {
            int rc = put_int(b, i);
            Py_DECREF(i);
            return rc;
        }
        PyErr_Clear(); /* e.g. a numpy array: not an integer after all */
    }
    *bad = v;
    return -2;
}

int pyrc_encode_value(pyrc_buf *b, PyObject *v, PyObject **bad) {
    PyTypeObject *t = Py_TYPE(v);
    /* Exact builtin types first: the common case, no attribute lookups. */
    if (t == &PyUnicode_Type)
        return put_str(b, v);
    if (t == &PyLong_Type)
        return put_int(b, v);
    if (v == Py_None)
        return pyrc_buf_put(b, "n", 1);
    if (t == &PyBool_Type)
        return put_tag_u64(b, 'u', v == Py_True);
    if (t == &PyFloat_Type)
        return put_float(b, PyFloat_AS_DOUBLE(v));
    if (t == &PyBytes_Type)
        return put_blob(b, 'b', PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
    if (t == &PyByteArray_Type)
        return put_blob(b, 'b', PyByteArray_AS_STRING(v), (size_t)PyByteArray_GET_SIZE(v));
    if (Py_EnterRecursiveCall(" while building a cache key"))
        return -1;
    int rc;
    if (t == &PyTuple_Type)
        rc = put_seq(b, 't', v, bad);
    else
        rc = encode_other(b, v, bad);
    Py_LeaveRecursiveCall();
    return rc;
}

int pyrc_encode_ns(pyrc_buf *b, PyObject *ns) {
    Py_ssize_t n;
    const char *p = PyUnicode_Check(ns) ? PyUnicode_AsUTF8AndSize(ns, &n) : NULL;
    if (!p) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "namespace must be a str");
        return -1;
    }
    if (n < 1 || (size_t)n > RCACHE_KEY_MAX_NS_LEN || memchr(p, 0, (size_t)n)) {
        PyErr_Format(PyExc_ValueError, "namespace must be 1..%u bytes without NUL, got %R",
                     RCACHE_KEY_MAX_NS_LEN, ns);
        return -1;
    }
    unsigned char tail[2] = {0, RCACHE_KEY_FORMAT_VERSION};
    if (pyrc_buf_put(b, p, (size_t)n) < 0)
        return -1;
    return pyrc_buf_put(b, tail, 2);
}

static void unsupported(PyObject *fname, PyObject *argname, Py_ssize_t index, PyObject *bad) {
    PyObject *what = argname ? PyUnicode_FromFormat("argument '%U'", argname)
                             : PyUnicode_FromFormat("positional argument %zd", index + 1);
    if (!what)
        return;
    PyErr_Format(PyExc_TypeError,
                 "cannot build a cache key for %U of %S: unsupported type '%.100s' "
                 "(supported: None, bool, int, float, str, bytes, tuple, list, dict, "
                 "set/frozenset, dataclass instances, objects with __cache_key__(); "
                 "or pass cache_key_fn=)",
                 what, fname ? fname : Py_None, Py_TYPE(bad)->tp_name);
    Py_DECREF(what);
}

int pyrc_encode_args(pyrc_buf *b, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, Py_ssize_t skip, PyObject *argnames,
                     PyObject *fname) {
    PyObject *bad = NULL;
    int rc;
    for (Py_ssize_t i = skip; i < nargs; i++) {
        rc = pyrc_encode_value(b, args[i], &bad);
        if (rc == -2) {
            PyObject *an = (argnames && i < PyTuple_GET_SIZE(argnames))
                               ? PyTuple_GET_ITEM(argnames, i) : NULL;
            unsupported(fname, an, i, bad);
        }
        if (rc < 0)
            return -1;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nkw == 0)
        return 0;
    /* keyword arguments sorted by name: f(a=1, b=2) == f(b=2, a=1) */
    Py_ssize_t order[64], *ord = order;
    if (nkw > 64 && !(ord = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)nkw))) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        Py_ssize_t j = i;
        PyObject *ni = PyTuple_GET_ITEM(kwnames, i);
        while (j > 0) {
            int lt = PyUnicode_Compare(ni, PyTuple_GET_ITEM(kwnames, ord[j - 1]));
            if (lt >= 0)
                break;
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, ord[i]);
        rc = pyrc_buf_put(b, "k", 1);
        if (rc == 0)
            rc = put_str(b, name);
        if (rc == 0)
            rc = pyrc_encode_value(b, args[nargs + ord[i]], &bad);
        if (rc == -2)
            unsupported(fname, name, 0, bad);
    }
    if (ord != order)
        PyMem_Free(ord);
    return rc < 0 ? -1 : 0;
}

PyObject *pyrc_encode_key_py(PyObject *mod, PyObject *args) {
    PyObject *ns, *pos = NULL, *kw = NULL;
    pyrc_buf b;
    (void)mod;
    if (!PyArg_ParseTuple(args, "U|O!O:encode_key", &ns, &PyTuple_Type, &pos, &kw))
        return NULL;
    if (kw == Py_None)
        kw = NULL;
    if (kw && !PyDict_Check(kw)) {
        PyErr_SetString(PyExc_TypeError, "kwargs must be a dict or None");
        return NULL;
    }
    Py_ssize_t np = pos ? PyTuple_GET_SIZE(pos) : 0, nk = kw ? PyDict_GET_SIZE(kw) : 0;
    PyObject **flat = PyMem_Malloc(sizeof(PyObject *) * (size_t)(np + nk + 1));
    PyObject *kwnames = PyTuple_New(nk);
    if (!flat || !kwnames) {
        PyMem_Free(flat);
        Py_XDECREF(kwnames);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < np; i++)
        flat[i] = PyTuple_GET_ITEM(pos, i);
    Py_ssize_t pos_i = 0, j = 0;
    PyObject *k, *v;
    while (kw && PyDict_Next(kw, &pos_i, &k, &v)) {
        if (!PyUnicode_Check(k)) {
            PyErr_SetString(PyExc_TypeError, "keyword names must be str");
            PyMem_Free(flat);
            Py_DECREF(kwnames);
            return NULL;
        }
        Py_INCREF(k);
        PyTuple_SET_ITEM(kwnames, j, k);
        flat[np + j++] = v;
    }
    pyrc_buf_init(&b);
    PyObject *r = NULL;
    if (pyrc_encode_ns(&b, ns) == 0 &&
        pyrc_encode_args(&b, flat, np, nk ? kwnames : NULL, 0, NULL, ns) == 0)
        r = PyBytes_FromStringAndSize((char *)b.buf, (Py_ssize_t)b.len);
    pyrc_buf_free(&b);
    PyMem_Free(flat);
    Py_DECREF(kwnames);
    return r;
}
