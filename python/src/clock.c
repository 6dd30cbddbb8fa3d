/*
 * clock.c - rcache.ManualClock, a clock that only moves when told to.
 *
 * Why: tests of TTL and entry ages must not sleep or depend on the wall
 * clock.  librcache reads its clock with shard locks held, so the clock
 * must never need the GIL: it is one atomic counter of milliseconds that
 * Python code sets or advances and librcache reads.
 */
#include "ext.h"

#include <math.h>

uint64_t pyrc_clock_fn(void *ctx) {
    pyrc_Clock *c = ctx;
    return atomic_load_explicit(&c->now_ms, memory_order_acquire);
}

static int seconds_to_ms(PyObject *o, const char *name, int allow_neg,
                         int64_t *out) {
    if (PyBool_Check(o) || !(PyLong_Check(o) || PyFloat_Check(o))) {
        PyErr_Format(PyExc_TypeError, "%s must be a number of seconds, not %.100s",
                     name, Py_TYPE(o)->tp_name);
        return -1;
    }
    double s = PyFloat_AsDouble(o);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (!isfinite(s) || fabs(s) > 9.0e15 || (!allow_neg && s < 0)) {
        PyErr_Format(PyExc_ValueError, "%s out of range: %R", name, o);
        return -1;
    }
    *out = (int64_t)llround(s * 1000.0);
    return 0;
}

static int clock_init(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"start_seconds", NULL};
    PyObject *start = NULL;
    int64_t ms = 1700000000000LL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:ManualClock", kwlist, &start))
        return -1;
    if (start && seconds_to_ms(start, "start_seconds", 0, &ms) < 0)
        return -1;
    atomic_store(&((pyrc_Clock *)self)->now_ms, (uint64_t)ms);
    return 0;
}

static PyObject *clock_advance(PyObject *self, PyObject *arg) {
    pyrc_Clock *c = (pyrc_Clock *)self;
    int64_t d;
    if (seconds_to_ms(arg, "seconds", 0, &d) < 0)
        return NULL;
    uint64_t now = atomic_fetch_add(&c->now_ms, (uint64_t)d) + (uint64_t)d;
    return PyFloat_FromDouble((double)now / 1000.0);
}

/* librcache requires an injected clock never to go backwards. */
static PyObject *clock_set(PyObject *self, PyObject *arg) {
    pyrc_Clock *c = (pyrc_Clock *)self;
    int64_t ms;
    if (seconds_to_ms(arg, "seconds", 0, &ms) < 0)
        return NULL;
    uint64_t cur = atomic_load(&c->now_ms);
    do {
        if ((uint64_t)ms < cur) {
            PyErr_Format(PyExc_ValueError, "the clock must not go backwards (now %.3f, asked %R)",
                         (double)cur / 1000.0, arg);
            return NULL;
        }
    } while (!atomic_compare_exchange_weak(&c->now_ms, &cur, (uint64_t)ms));
    Py_RETURN_NONE;
}

static PyObject *clock_now(PyObject *self, PyObject *unused) {
    return PyFloat_FromDouble((double)pyrc_clock_fn(self) / 1000.0);
}

/* A clock is shared state (like a lock): copies are the same clock, so a
 * framework that deep-copies its settings keeps driving the same time. */
static PyObject *clock_copy(PyObject *self, PyObject *unused) {
    Py_INCREF(self);
    return self;
}

static PyMethodDef clock_methods[] = {
    {"__copy__", clock_copy, METH_NOARGS, NULL},
    {"__deepcopy__", clock_copy, METH_O, NULL},
    {"advance", clock_advance, METH_O,
     "advance(seconds) -> float: move the clock forward by seconds (>= 0);\n"
     "returns the new time in seconds since the epoch."},
    {"set", clock_set, METH_O, "set(seconds): set the time (seconds since the epoch); ValueError if that\n"
     "is earlier than now (librcache needs a clock that never goes backwards)."},
    {"now", clock_now, METH_NOARGS, "now() -> float: the time in seconds since the epoch."},
    {NULL, NULL, 0, NULL}};

PyTypeObject pyrc_ClockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rcache.ManualClock",
    .tp_basicsize = sizeof(pyrc_Clock),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "ManualClock(start_seconds=1700000000.0)\n\n"
              "A clock for tests: it stands still until advance() or set() moves it\n"
              "(millisecond resolution). Pass it as Cache(clock=...) to test TTLs\n"
              "without sleeping. Thread-safe; never needs the GIL when read.",
    .tp_new = PyType_GenericNew,
    .tp_init = clock_init,
    .tp_methods = clock_methods,
};
