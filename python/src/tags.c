/*
 * tags.c - tags from Python (issue 14): the tags= argument of Cache.set()
 * turned into librcache's rcache_tag_t list, Cache.invalidate_tag() and
 * Cache.get_tags(). Tags are str (stored as UTF-8) or bytes, like keys;
 * get_tags() gives back str when a tag is valid UTF-8, else bytes.
 */
#include "ext.h"

int pyrc_tags_arg(PyObject *tags, pyrc_tags *out) {
    out->n = 0;
    if (!tags || tags == Py_None)
        return 0;
    if (PyUnicode_Check(tags) || PyBytes_Check(tags)) {
        PyErr_SetString(PyExc_TypeError, "tags must be a list or tuple of str/bytes, not one string");
        return -1;
    }
    PyObject *seq = PySequence_Fast(tags, "tags must be a list or tuple of str/bytes");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > (Py_ssize_t)RCACHE_MAX_TAGS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "at most %u tags, got %zd", RCACHE_MAX_TAGS, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        const char *p;
        Py_ssize_t len;
        int bad = !PyUnicode_Check(t) && !PyBytes_Check(t);
        if (bad || pyrc_key_bytes(t, &p, &len, &out->keep[out->n]) < 0 ||
            (size_t)len > RCACHE_MAX_TAG_LEN) {
            if (!bad && !PyErr_Occurred())
                Py_CLEAR(out->keep[out->n]);
            if (bad || !PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear();
                if (bad)
                    PyErr_Format(PyExc_TypeError, "a tag must be str or bytes, not %.100s",
                                 Py_TYPE(t)->tp_name);
                else
                    PyErr_Format(PyExc_ValueError, "a tag must be 1..%u bytes",
                                 RCACHE_MAX_TAG_LEN);
            }
            pyrc_tags_release(out);
            Py_DECREF(seq);
            return -1;
        }
        /* the item stays alive through seq (and keep for a re-encoding) */
        out->t[out->n].data = p;
        out->t[out->n++].len = (size_t)len;
    }
    out->seq = seq;
    return 0;
}

void pyrc_tags_release(pyrc_tags *t) {
    for (size_t i = 0; i < t->n; i++)
        Py_CLEAR(t->keep[i]);
    t->n = 0;
    Py_CLEAR(t->seq);
}

PyObject *pyrc_cache_invalidate_tag(PyObject *op, PyObject *tag) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *p;
    Py_ssize_t n;
    PyObject *keep;
    uint64_t removed = 0;
    if (pyrc_cache_check(self) < 0)
        return NULL;
    if (!PyUnicode_Check(tag) && !PyBytes_Check(tag)) {
        PyErr_Format(PyExc_TypeError, "a tag must be str or bytes, not %.100s",
                     Py_TYPE(tag)->tp_name);
        return NULL;
    }
    if (pyrc_key_bytes(tag, &p, &n, &keep) < 0) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "a tag must be 1..%u bytes", RCACHE_MAX_TAG_LEN);
        }
        return NULL;
    }
    self->busy++;
    int rc = rcache_invalidate_tag(self->c, p, (size_t)n, &removed);
    self->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_ETOOBIG) {
        PyErr_Format(PyExc_ValueError, "a tag must be 1..%u bytes", RCACHE_MAX_TAG_LEN);
        return NULL;
    }
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "invalidate_tag");
    return PyLong_FromUnsignedLongLong(removed);
}

static PyObject *tag_object(const rcache_tag_t *t) {
    PyObject *s = PyUnicode_DecodeUTF8(t->data, (Py_ssize_t)t->len, NULL);
    if (s)
        return s;
    PyErr_Clear();
    return PyBytes_FromStringAndSize(t->data, (Py_ssize_t)t->len);
}

PyObject *pyrc_cache_get_tags(PyObject *op, PyObject *key) {
    pyrc_Cache *self = (pyrc_Cache *)op;
    const char *k;
    Py_ssize_t kn;
    PyObject *keep;
    rcache_tag_list_t *l = NULL;
    if (pyrc_cache_check(self) < 0 || pyrc_key_bytes(key, &k, &kn, &keep) < 0)
        return NULL;
    self->busy++;
    int rc = rcache_get_tags(self->c, k, (size_t)kn, &l);
    self->busy--;
    Py_XDECREF(keep);
    if (rc == RCACHE_ENOTFOUND)
        Py_RETURN_NONE;
    if (rc != RCACHE_OK)
        return pyrc_raise(rc, "get_tags");
    PyObject *list = PyList_New((Py_ssize_t)l->count);
    for (size_t i = 0; list && i < l->count; i++) {
        PyObject *t = tag_object(&l->tags[i]);
        if (!t)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    rcache_tag_list_free(l);
    return list;
}
