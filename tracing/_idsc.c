/* tracing._idsc: the per-request id work of tracing, in C.
 *
 * Each request pays it at sample ratio 0, where nothing else of tracing runs: a new trace's
 * unsampled span made current (its ids go into the logs and into traceparent downstream),
 * and the ids of the current span as hex for every log record. In Python that is a few
 * microseconds a request, about twice that under a server whose own code already fills the
 * caches; here about a fifth. The Python twins (tracing/_lean.py LeanTracer.unsampled_root,
 * tracing/_logs.py trace_ids) remain the reference: tracing/_lean.py checks its
 * import (the SpanContext layout) and tests hold the two to the same objects.
 *
 * QuickRoot(var, key, context_class, span_class, span_context, getrandbits, flags,
 *           state, skip, propagation)(scope) -> the ContextVar token, or None when the
 * request is not one for the quick path (not http, a skipped path, trace context in its
 * headers, a span already current).
 *
 * hex_ids(span_context) -> {"traceId": 32 hex, "spanId": 16 hex}, or None when invalid.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *s_type, *s_http, *s_path, *s_headers, *s_trace_id_key, *s_span_id_key;
static PyObject *s_128, *s_64;

typedef struct {
    PyObject_HEAD
    PyObject *var;              /* the runtime context's ContextVar */
    PyObject *key;              /* the span's key in a Context */
    PyObject *context_class;    /* opentelemetry.context.Context */
    PyObject *span_class;       /* NonRecordingSpan */
    PyObject *span_context;     /* SpanContext: a tuple subclass of six fields */
    PyObject *getrandbits;      /* random.getrandbits */
    PyObject *flags;            /* the unsampled TraceFlags */
    PyObject *state;            /* the empty TraceState */
    PyObject *skip;             /* tuple of path prefixes (str) not traced */
    PyObject *propagation;      /* frozenset of header names (bytes) carrying trace context */
} QuickRoot;

#define N_FIELDS 10

/* the fields in their keyword order: init, traverse and clear all go through this list */
static void fields_of(QuickRoot *self, PyObject **out[N_FIELDS]) {
    PyObject **all[N_FIELDS] = {&self->var, &self->key, &self->context_class,
                                &self->span_class, &self->span_context, &self->getrandbits,
                                &self->flags, &self->state, &self->skip, &self->propagation};
    memcpy(out, all, sizeof all);
}

static int QuickRoot_init(QuickRoot *self, PyObject *args, PyObject *kwds) {
    static char *kw[] = {"var", "key", "context_class", "span_class", "span_context",
                         "getrandbits", "flags", "state", "skip", "propagation", NULL};
    PyObject *v[N_FIELDS];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOO!OOOO!O!", kw, &v[0], &v[1], &v[2],
                                     &v[3], &PyType_Type, &v[4], &v[5], &v[6], &v[7],
                                     &PyTuple_Type, &v[8], &PyFrozenSet_Type, &v[9]))
        return -1;
    if (!PyType_IsSubtype((PyTypeObject *)v[4], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "span_context must be a tuple subclass");
        return -1;
    }
    if (!PyContextVar_CheckExact(v[0])) {
        PyErr_SetString(PyExc_TypeError, "var must be a ContextVar");
        return -1;
    }
    PyObject **slots[N_FIELDS];
    fields_of(self, slots);
    for (int i = 0; i < N_FIELDS; i++) {
        Py_INCREF(v[i]);
        Py_XSETREF(*slots[i], v[i]);
    }
    return 0;
}

static int QuickRoot_traverse(QuickRoot *self, visitproc visit, void *arg) {
    PyObject **slots[N_FIELDS];
    fields_of(self, slots);
    for (int i = 0; i < N_FIELDS; i++)
        Py_VISIT(*slots[i]);
    return 0;
}

static int QuickRoot_clear(QuickRoot *self) {
    PyObject **slots[N_FIELDS];
    fields_of(self, slots);
    for (int i = 0; i < N_FIELDS; i++)
        Py_CLEAR(*slots[i]);
    return 0;
}

static void QuickRoot_dealloc(QuickRoot *self) {
    PyObject_GC_UnTrack(self);
    QuickRoot_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* 1: the request may take the quick path as far as its scope says; 0: not; -1: error */
static int scope_allows(QuickRoot *self, PyObject *scope) {
    if (!PyDict_Check(scope))
        return 0;
    PyObject *type = PyDict_GetItemWithError(scope, s_type);
    if (type == NULL)
        return PyErr_Occurred() ? -1 : 0;
    int eq = PyObject_RichCompareBool(type, s_http, Py_EQ);
    if (eq <= 0)
        return eq;
    PyObject *path = PyDict_GetItemWithError(scope, s_path);
    if (path == NULL && PyErr_Occurred())
        return -1;
    if (path != NULL && PyUnicode_Check(path)) {
        Py_ssize_t n = PyTuple_GET_SIZE(self->skip);
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t hit = PyUnicode_Tailmatch(path, PyTuple_GET_ITEM(self->skip, i), 0,
                                                 PY_SSIZE_T_MAX, -1);
            if (hit != 0)
                return hit < 0 ? -1 : 0;
        }
    } else if (path != NULL) {
        return 0;  /* not a str: the Python path decides */
    }
    PyObject *headers = PyDict_GetItemWithError(scope, s_headers);
    if (headers == NULL)
        return PyErr_Occurred() ? -1 : 1;
    PyObject *it = PyObject_GetIter(headers);
    if (it == NULL)
        return -1;
    PyObject *item;
    int ok = 1;
    while (ok == 1 && (item = PyIter_Next(it)) != NULL) {
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2) {
            int has = PySet_Contains(self->propagation, PyTuple_GET_ITEM(item, 0));
            if (has != 0)
                ok = has < 0 ? -1 : 0;
        } else {
            ok = 0;  /* an odd header item: the Python path decides */
        }
        Py_DECREF(item);
    }
    Py_DECREF(it);
    if (ok == 1 && PyErr_Occurred())
        return -1;
    return ok;
}

/* a nonzero random id of `bits` bits (as random.getrandbits draws it), or NULL */
static PyObject *random_id(QuickRoot *self, PyObject *bits) {
    for (int tries = 0; tries < 8; tries++) {
        PyObject *id = PyObject_CallOneArg(self->getrandbits, bits);
        if (id == NULL)
            return NULL;
        int nonzero = PyObject_IsTrue(id);
        if (nonzero != 0) {
            if (nonzero < 0)
                Py_CLEAR(id);
            return id;
        }
        Py_DECREF(id);
    }
    PyErr_SetString(PyExc_RuntimeError, "getrandbits kept drawing 0");
    return NULL;
}

static PyObject *QuickRoot_call(QuickRoot *self, PyObject *args, PyObject *kwds) {
    PyObject *scope;
    if ((kwds != NULL && PyDict_GET_SIZE(kwds)) || !PyArg_ParseTuple(args, "O:QuickRoot", &scope)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "QuickRoot takes the scope only");
        return NULL;
    }
    int allows = scope_allows(self, scope);
    if (allows <= 0) {
        if (allows < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *current;
    if (PyContextVar_Get(self->var, NULL, &current) < 0)
        return NULL;
    if (current == NULL || !PyDict_Check(current)) {
        Py_XDECREF(current);
        Py_RETURN_NONE;  /* no Context set and no default: the Python path decides */
    }
    int has_span = PyDict_Contains(current, self->key);
    if (has_span != 0) {
        Py_DECREF(current);
        if (has_span < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *trace_id = NULL, *span_id = NULL, *fields = NULL, *ctx_args = NULL, *ctx = NULL,
             *span = NULL, *values = NULL, *context = NULL, *token = NULL;
    if ((trace_id = random_id(self, s_128)) == NULL || (span_id = random_id(self, s_64)) == NULL)
        goto done;
    /* SpanContext(trace_id, span_id, is_remote=False, trace_flags, trace_state) is the tuple
     * of those five and is_valid: true for ids drawn nonzero within their bits */
    fields = PyTuple_Pack(6, trace_id, span_id, Py_False, self->flags, self->state, Py_True);
    if (fields == NULL || (ctx_args = PyTuple_Pack(1, fields)) == NULL)
        goto done;
    ctx = PyTuple_Type.tp_new((PyTypeObject *)self->span_context, ctx_args, NULL);
    if (ctx == NULL || (span = PyObject_CallOneArg(self->span_class, ctx)) == NULL)
        goto done;
    if ((values = PyDict_Copy(current)) == NULL || PyDict_SetItem(values, self->key, span) < 0)
        goto done;
    if ((context = PyObject_CallOneArg(self->context_class, values)) == NULL)
        goto done;
    token = PyContextVar_Set(self->var, context);
done:
    Py_DECREF(current);
    Py_XDECREF(trace_id);
    Py_XDECREF(span_id);
    Py_XDECREF(fields);
    Py_XDECREF(ctx_args);
    Py_XDECREF(ctx);
    Py_XDECREF(span);
    Py_XDECREF(values);
    Py_XDECREF(context);
    return token;
}

static PyTypeObject QuickRootType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracing._idsc.QuickRoot",
    .tp_doc = PyDoc_STR("QuickRoot(...)(scope) -> ContextVar token or None: a new unsampled "
                        "trace made current for a request without trace context"),
    .tp_basicsize = sizeof(QuickRoot),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)QuickRoot_init,
    .tp_dealloc = (destructor)QuickRoot_dealloc,
    .tp_traverse = (traverseproc)QuickRoot_traverse,
    .tp_clear = (inquiry)QuickRoot_clear,
    .tp_call = (ternaryfunc)QuickRoot_call,
};

/* `n` lowercase hex digits of a non-negative int below 16**n, or NULL (error set) */
static PyObject *hex_of(PyObject *value, int n) {
    unsigned char bytes[16];
    if (!PyLong_Check(value))
        return NULL;
#if PY_VERSION_HEX >= 0x030D0000
    if (_PyLong_AsByteArray((PyLongObject *)value, bytes, (size_t)(n / 2), 0, 0, 1) < 0)
        return NULL;
#else
    if (_PyLong_AsByteArray((PyLongObject *)value, bytes, (size_t)(n / 2), 0, 0) < 0)
        return NULL;
#endif
    static const char digits[] = "0123456789abcdef";
    char out[32];
    for (int i = 0; i < n / 2; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    return PyUnicode_FromStringAndSize(out, n);
}

/* hex_ids(span_context) -> dict or None: a SpanContext is a tuple (trace_id, span_id,
 * is_remote, trace_flags, trace_state, is_valid) */
static PyObject *hex_ids(PyObject *Py_UNUSED(m), PyObject *ctx) {
    if (!PyTuple_Check(ctx) || PyTuple_GET_SIZE(ctx) != 6) {
        PyErr_SetString(PyExc_TypeError, "hex_ids: expected a SpanContext");
        return NULL;
    }
    int valid = PyObject_IsTrue(PyTuple_GET_ITEM(ctx, 5));
    if (valid <= 0) {
        if (valid < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *trace = hex_of(PyTuple_GET_ITEM(ctx, 0), 32);
    if (trace == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "hex_ids: the trace id is not an int");
        return NULL;
    }
    PyObject *span = hex_of(PyTuple_GET_ITEM(ctx, 1), 16);
    if (span == NULL) {
        Py_DECREF(trace);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "hex_ids: the span id is not an int");
        return NULL;
    }
    PyObject *out = PyDict_New();
    if (out == NULL || PyDict_SetItem(out, s_trace_id_key, trace) < 0 ||
        PyDict_SetItem(out, s_span_id_key, span) < 0)
        Py_CLEAR(out);
    Py_DECREF(trace);
    Py_DECREF(span);
    return out;
}

static PyMethodDef idsc_methods[] = {
    {"hex_ids", hex_ids, METH_O,
     "hex_ids(span_context) -> {'traceId': 32 hex, 'spanId': 16 hex}, or None when invalid"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef idsc_module = {
    PyModuleDef_HEAD_INIT, "tracing._idsc",
    "Tracing's per-request id work in C: the unsampled root of a request, the ids of logs.",
    -1, idsc_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__idsc(void) {
    struct {
        PyObject **slot;
        const char *name;
    } names[] = {
        {&s_type, "type"}, {&s_http, "http"}, {&s_path, "path"}, {&s_headers, "headers"},
        {&s_trace_id_key, "traceId"}, {&s_span_id_key, "spanId"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (*names[i].slot == NULL &&
            (*names[i].slot = PyUnicode_InternFromString(names[i].name)) == NULL)
            return NULL;
    }
    if ((s_128 == NULL && (s_128 = PyLong_FromLong(128)) == NULL) ||
        (s_64 == NULL && (s_64 = PyLong_FromLong(64)) == NULL))
        return NULL;
    if (PyType_Ready(&QuickRootType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&idsc_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&QuickRootType);
    if (PyModule_AddObject(m, "QuickRoot", (PyObject *)&QuickRootType) < 0) {
        Py_DECREF(&QuickRootType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
