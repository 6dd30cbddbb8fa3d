/*
 * module.c - the _rcache extension module: exception classes, error-code
 * mapping, and registration of the types defined in the other files.
 *
 * Why a C extension: a cache hit must cost about as much as a dict lookup,
 * and stored values must be the very objects the caller stored (by
 * reference, no pickling), which needs librcache's object entries and a
 * destructor that can drop a Python reference from any thread.
 */
#include "ext.h"

PyObject *pyrc_Error;
PyObject *pyrc_ReentrantError;
PyObject *pyrc_TimeoutError;
PyObject *pyrc_getsizeof;

PyObject *pyrc_raise(int rc, const char *what) {
    const char *msg = rcache_strerror(rc);
    switch (rc) {
    case RCACHE_ENOMEM:
        return PyErr_NoMemory();
    case RCACHE_EINVAL:
    case RCACHE_EPATTERN:
    case RCACHE_ETOOBIG:
        PyErr_Format(PyExc_ValueError, "%s: %s", what, msg);
        return NULL;
    case RCACHE_ETIMEDOUT:
        PyErr_Format(pyrc_TimeoutError, "%s: %s", what, msg);
        return NULL;
    case RCACHE_EDEADLK:
        PyErr_Format(pyrc_ReentrantError, "%s: %s", what, msg);
        return NULL;
    default:
        PyErr_Format(pyrc_Error, "%s: %s (code %d)", what, msg, rc);
        return NULL;
    }
}

static PyObject *strerror_py(PyObject *mod, PyObject *arg) {
    long rc = PyLong_AsLong(arg);
    if (rc == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(rcache_strerror((int)rc));
}

static PyObject *glob_match_py(PyObject *mod, PyObject *args) {
    const char *p, *s;
    Py_ssize_t pn, sn;
    PyObject *kp = NULL, *ks = NULL, *pat, *str;
    if (!PyArg_ParseTuple(args, "OO:glob_match", &pat, &str))
        return NULL;
    if (pyrc_key_bytes(pat, &p, &pn, &kp) < 0)
        return NULL;
    if (pyrc_key_bytes(str, &s, &sn, &ks) < 0) {
        Py_XDECREF(kp);
        return NULL;
    }
    int r = rcache_glob_match(p, (size_t)pn, s, (size_t)sn);
    Py_XDECREF(kp);
    Py_XDECREF(ks);
    if (r < 0)
        return pyrc_raise(r, "glob_match");
    return PyBool_FromLong(r);
}

static PyMethodDef module_methods[] = {
    {"strerror", strerror_py, METH_O,
     "strerror(code) -> str: text of a librcache error code."},
    {"glob_match", glob_match_py, METH_VARARGS,
     "glob_match(pattern, key) -> bool: librcache's Redis-style glob match.\n"
     "Raises ValueError for a malformed pattern."},
    {"estimate_size", pyrc_estimate_size, METH_O,
     "estimate_size(value) -> int: the bytes a value counts against the memory\n"
     "limit when neither size_mb nor sizeof= is given (see the package README)."},
    {"encode_key", pyrc_encode_key_py, METH_VARARGS,
     "encode_key(namespace, args=(), kwargs=None) -> bytes: the cache key the\n"
     "decorators build for these arguments (librcache argument-key format v1\n"
     "with Python tags; see the package README). TypeError naming the argument\n"
     "for an unsupported value."},
    {"_native_set", pyrc_native_set, METH_VARARGS, NULL},
    {"_memo_waiters", pyrc_memo_waiters, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_rcache",
    "C core of the rcache package (librcache bound to CPython).", -1,
    module_methods, NULL, NULL, NULL, NULL};

static int add_type(PyObject *m, PyTypeObject *t, const char *name) {
    if (PyType_Ready(t) < 0)
        return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

static int add_exc(PyObject *m, PyObject **slot, const char *qual,
                   PyObject *base, const char *doc) {
    *slot = PyErr_NewExceptionWithDoc(qual, doc, base, NULL);
    if (!*slot)
        return -1;
    Py_INCREF(*slot);
    if (PyModule_AddObject(m, strrchr(qual, '.') + 1, *slot) < 0) {
        Py_DECREF(*slot);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__rcache(void) {
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    PyObject *sys_getsizeof = PySys_GetObject("getsizeof"); /* borrowed */
    if (!sys_getsizeof) {
        PyErr_SetString(PyExc_ImportError, "sys.getsizeof is missing");
        goto fail;
    }
    Py_INCREF(sys_getsizeof);
    pyrc_getsizeof = sys_getsizeof;
    if (add_exc(m, &pyrc_Error, "rcache.CacheError", PyExc_RuntimeError,
                "A librcache call failed for a reason other than bad input.") < 0)
        goto fail;
    if (add_exc(m, &pyrc_ReentrantError, "rcache.ReentrantCallError",
                pyrc_Error,
                "A cached function asked, directly or through other cached "
                "functions, for the very result it is computing.") < 0)
        goto fail;
    {
        PyObject *bases = PyTuple_Pack(2, pyrc_Error, PyExc_TimeoutError);
        if (!bases)
            goto fail;
        pyrc_TimeoutError = PyErr_NewExceptionWithDoc(
            "rcache.CacheTimeoutError",
            "Waiting for another caller's computation of the same key took "
            "longer than timeout_seconds (the computation goes on).",
            bases, NULL);
        Py_DECREF(bases);
        if (!pyrc_TimeoutError)
            goto fail;
        Py_INCREF(pyrc_TimeoutError);
        if (PyModule_AddObject(m, "CacheTimeoutError", pyrc_TimeoutError) < 0)
            goto fail;
    }
    if (add_type(m, &pyrc_ClockType, "ManualClock") < 0 ||
        add_type(m, &pyrc_CacheType, "CacheBase") < 0 ||
        add_type(m, &pyrc_FailureType, "_Failure") < 0 ||
        add_type(m, &pyrc_MemoType, "Memo") < 0)
        goto fail;
    if (PyModule_AddIntConstant(m, "MAX_KEY_LEN", RCACHE_MAX_KEY_LEN) < 0 ||
        PyModule_AddIntConstant(m, "KEY_FORMAT_VERSION",
                                RCACHE_KEY_FORMAT_VERSION) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
