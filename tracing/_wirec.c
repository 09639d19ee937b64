/* tracing._wirec: one span -> its OTLP protobuf bytes, in C, for the common span shapes.
 *
 * ``span_field(span)`` returns the ``ScopeSpans.spans`` field (tag, length, Span message)
 * that tracing._wire writes for an ended span, byte for byte -- or None when the span has a
 * part this code leaves to Python (events, links, a trace state, attributes that are not a
 * plain dict of str/bool/int/float values, a value outside int64, a str that is not valid
 * Unicode). It makes no choice of its own: fields, their order and the proto3 defaults left
 * out are tracing._wire's; tests/test_tracing_wirec.py compares the two on random spans.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* attribute names, interned once (GetAttrString would build and hash a str per call) */
static PyObject *s_context, *s_trace_state, *s_events, *s_links, *s_trace_id, *s_span_id,
    *s_parent, *s_is_remote, *s_name, *s_kind, *s_value_, *s_start_time, *s_end_time,
    *s_attributes, *s_status, *s_status_code, *s_description, *s_dropped, *s_dict,
    *s_status_code_private, *s_description_private;

typedef struct {
    unsigned char *data;
    Py_ssize_t len, cap;
    unsigned char small[1024];
} Buf;

static int
buf_reserve(Buf *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap * 2;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *d;
    if (b->data == b->small) {
        d = PyMem_Malloc((size_t)cap);
        if (d != NULL)
            memcpy(d, b->data, (size_t)b->len);
    } else {
        d = PyMem_Realloc(b->data, (size_t)cap);
    }
    if (d == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

static int
put(Buf *b, const void *p, Py_ssize_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, (size_t)n);
    b->len += n;
    return 0;
}

static int
put_byte(Buf *b, unsigned char c)
{
    return put(b, &c, 1);
}

static int
put_varint(Buf *b, uint64_t v)
{
    unsigned char tmp[10];
    int n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)((v & 0x7F) | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return put(b, tmp, n);
}

/* a fixed64 or fixed32 field value: little-endian */
static int
put_fixed(Buf *b, uint64_t v, int nbytes)
{
    unsigned char tmp[8];
    for (int i = 0; i < nbytes; i++)
        tmp[i] = (unsigned char)(v >> (8 * i));
    return put(b, tmp, nbytes);
}

static int
varint_len(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* a length-delimited field: tag, length, bytes */
static int
put_field(Buf *b, unsigned char tag, const char *p, Py_ssize_t n)
{
    if (put_byte(b, tag) < 0 || put_varint(b, (uint64_t)n) < 0)
        return -1;
    return put(b, p, n);
}

/* an int attribute id as big-endian bytes (trace id 16, span id 8); -1: error, 1: not an int */
static int
put_id(Buf *b, PyObject *v, size_t n)
{
    unsigned char tmp[16];
    if (!PyLong_CheckExact(v))
        return 1;
    if (_PyLong_AsByteArray((PyLongObject *)v, tmp, n, 0, 0) < 0) {
        PyErr_Clear();
        return 1;
    }
    return put(b, tmp, (Py_ssize_t)n);
}

#define LEAVE 1  /* "left to Python" */

/* the AnyValue of a scalar into tmp; LEAVE for any other value */
static int
any_value(Buf *v, PyObject *x)
{
    if (x == Py_True)
        return put(v, "\x10\x01", 2);
    if (x == Py_False)
        return put(v, "\x10\x00", 2);
    if (PyUnicode_CheckExact(x)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(x, &n);
        if (s == NULL) {
            PyErr_Clear();
            return LEAVE;
        }
        return put_field(v, 0x0a, s, n);
    }
    if (PyLong_CheckExact(x)) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(x, &overflow);
        if (overflow || (n == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return LEAVE;
        }
        if (put_byte(v, 0x18) < 0)
            return -1;
        return put_varint(v, (uint64_t)n);
    }
    if (PyFloat_CheckExact(x)) {
        double d = PyFloat_AS_DOUBLE(x);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (put_byte(v, 0x21) < 0)
            return -1;
        return put_fixed(v, bits, 8);
    }
    return LEAVE;
}

/* the attributes as repeated KeyValue fields (tag 0x4a), then the dropped count */
static int
attributes(Buf *b, PyObject *attrs)
{
    if (attrs == Py_None)
        return 0;
    if (!PyDict_Check(attrs))
        return LEAVE;
    Py_ssize_t pos = 0;
    PyObject *k, *x;
    Buf kv = {.data = NULL};
    kv.data = kv.small;
    kv.cap = sizeof(kv.small);
    int rc = 0;
    while (PyDict_Next(attrs, &pos, &k, &x)) {
        if (!PyUnicode_CheckExact(k)) {
            rc = LEAVE;
            break;
        }
        Py_ssize_t klen;
        const char *ks = PyUnicode_AsUTF8AndSize(k, &klen);
        if (ks == NULL) {
            PyErr_Clear();
            rc = LEAVE;
            break;
        }
        kv.len = 0;
        rc = any_value(&kv, x);
        if (rc != 0)
            break;
        /* KeyValue: key (1) when not "", value (2); wrapped in field 9 of Span */
        Py_ssize_t body = kv.len + 1 + varint_len((uint64_t)kv.len);
        if (klen)
            body += 1 + varint_len((uint64_t)klen) + klen;
        if (put_byte(b, 0x4a) < 0 || put_varint(b, (uint64_t)body) < 0 ||
            (klen && put_field(b, 0x0a, ks, klen) < 0) ||
            put_field(b, 0x12, (const char *)kv.data, kv.len) < 0) {
            rc = -1;
            break;
        }
    }
    if (kv.data != kv.small)
        PyMem_Free(kv.data);
    if (rc != 0)
        return rc;
    PyObject *dropped = PyObject_GetAttr(attrs, s_dropped);
    if (dropped == NULL) {
        PyErr_Clear();
        return 0;
    }
    long long n = PyLong_AsLongLong(dropped);
    Py_DECREF(dropped);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return LEAVE;
    }
    if (n) {
        if (put_byte(b, 0x50) < 0 || put_varint(b, (uint64_t)n) < 0)
            return -1;
    }
    return 0;
}

static int
truthy_attr(PyObject *o, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL)
        return -1;
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t;
}

/* a nanosecond time field (fixed64) when the time is set */
static int
time_field(Buf *b, PyObject *span, PyObject *name, unsigned char tag)
{
    PyObject *t = PyObject_GetAttr(span, name);
    if (t == NULL)
        return -1;
    int rc = 0;
    if (t != Py_None) {
        if (!PyLong_CheckExact(t)) {
            rc = LEAVE;
        } else {
            unsigned long long ns = PyLong_AsUnsignedLongLong(t);
            if (ns == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                rc = LEAVE;
            } else if (ns) {
                if (put_byte(b, tag) < 0 || put_fixed(b, ns, 8) < 0)
                    rc = -1;
            }
        }
    }
    Py_DECREF(t);
    return rc;
}

/* o.first (the SDK's own field), else o.second (its property) */
static PyObject *
attr_either(PyObject *o, PyObject *first, PyObject *second)
{
    PyObject *v = PyObject_GetAttr(o, first);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        v = PyObject_GetAttr(o, second);
    }
    return v;
}

/* a trace state is empty: its dict when it has one, else its truth */
static int
trace_state_set(PyObject *ts)
{
    if (ts == Py_None)
        return 0;
    PyObject *d = PyObject_GetAttr(ts, s_dict);
    if (d != NULL && PyDict_CheckExact(d)) {
        int set = PyDict_GET_SIZE(d) != 0;
        Py_DECREF(d);
        return set;
    }
    Py_XDECREF(d);
    PyErr_Clear();
    return PyObject_IsTrue(ts);
}

static int
status_field(Buf *b, PyObject *status)
{
    if (status == Py_None)
        return 0;
    PyObject *code_obj = attr_either(status, s_status_code_private, s_status_code);
    if (code_obj == NULL)
        return -1;
    PyObject *value = PyObject_GetAttr(code_obj, s_value_);
    Py_DECREF(code_obj);
    if (value == NULL)
        return -1;
    long code = PyLong_AsLong(value);
    Py_DECREF(value);
    if (code == -1 && PyErr_Occurred())
        return -1;
    if (code < 0 || code > 127)
        return LEAVE;
    PyObject *desc = attr_either(status, s_description_private, s_description);
    if (desc == NULL)
        return -1;
    int rc = 0;
    Py_ssize_t dlen = 0;
    const char *ds = NULL;
    if (desc != Py_None && PyObject_IsTrue(desc)) {
        if (!PyUnicode_CheckExact(desc) || (ds = PyUnicode_AsUTF8AndSize(desc, &dlen)) == NULL) {
            PyErr_Clear();
            Py_DECREF(desc);
            return LEAVE;
        }
    }
    if (code || dlen) {
        Py_ssize_t body = (dlen ? 1 + varint_len((uint64_t)dlen) + dlen : 0) + (code ? 2 : 0);
        if (put_byte(b, 0x7a) < 0 || put_varint(b, (uint64_t)body) < 0 ||
            (dlen && put_field(b, 0x12, ds, dlen) < 0) ||
            (code && (put_byte(b, 0x18) < 0 || put_byte(b, (unsigned char)code) < 0)))
            rc = -1;
    } else {
        rc = put(b, "\x7a\x00", 2);
    }
    Py_DECREF(desc);
    return rc;
}

#define TRY(expr)                 \
    do {                          \
        int _r = (expr);          \
        if (_r != 0) {            \
            rc = _r;              \
            goto done;            \
        }                         \
    } while (0)

/* the Span message of ``s`` into b; 0, LEAVE or -1 */
static int
encode_span(Buf *b, PyObject *s)
{
    int rc = 0;
    PyObject *ctx = NULL, *parent = NULL, *name = NULL, *kind = NULL, *attrs = NULL,
             *status = NULL, *v = NULL;
    TRY((ctx = PyObject_GetAttr(s, s_context)) == NULL ? -1 : 0);
    /* an API SpanContext is a tuple: (trace_id, span_id, is_remote, flags, state, valid) */
    int as_tuple = PyTuple_Check(ctx) && PyTuple_GET_SIZE(ctx) == 6;
    /* trace state, events, links: Python's */
    if (as_tuple)
        v = Py_NewRef(PyTuple_GET_ITEM(ctx, 4));
    TRY((v == NULL && (v = PyObject_GetAttr(ctx, s_trace_state)) == NULL) ? -1 : 0);
    int t = trace_state_set(v);
    Py_CLEAR(v);
    TRY(t < 0 ? -1 : (t ? LEAVE : 0));
    t = truthy_attr(s, s_events);
    TRY(t < 0 ? -1 : (t ? LEAVE : 0));
    t = truthy_attr(s, s_links);
    TRY(t < 0 ? -1 : (t ? LEAVE : 0));

    TRY(put(b, "\x0a\x10", 2));
    if (as_tuple)
        v = Py_NewRef(PyTuple_GET_ITEM(ctx, 0));
    TRY((v == NULL && (v = PyObject_GetAttr(ctx, s_trace_id)) == NULL) ? -1 : 0);
    TRY(put_id(b, v, 16));
    Py_CLEAR(v);
    TRY(put(b, "\x12\x08", 2));
    if (as_tuple)
        v = Py_NewRef(PyTuple_GET_ITEM(ctx, 1));
    TRY((v == NULL && (v = PyObject_GetAttr(ctx, s_span_id)) == NULL) ? -1 : 0);
    TRY(put_id(b, v, 8));
    Py_CLEAR(v);

    TRY((parent = PyObject_GetAttr(s, s_parent)) == NULL ? -1 : 0);
    int remote = 0;
    if (parent != Py_None) {
        TRY(put(b, "\x22\x08", 2));
        int parent_tuple = PyTuple_Check(parent) && PyTuple_GET_SIZE(parent) == 6;
        if (parent_tuple)
            v = Py_NewRef(PyTuple_GET_ITEM(parent, 1));
        TRY((v == NULL && (v = PyObject_GetAttr(parent, s_span_id)) == NULL) ? -1 : 0);
        TRY(put_id(b, v, 8));
        Py_CLEAR(v);
        remote = parent_tuple ? PyObject_IsTrue(PyTuple_GET_ITEM(parent, 2))
                              : truthy_attr(parent, s_is_remote);
        TRY(remote < 0 ? -1 : 0);
    }

    TRY((name = PyObject_GetAttr(s, s_name)) == NULL ? -1 : 0);
    if (name != Py_None) {
        if (!PyUnicode_CheckExact(name)) {
            rc = LEAVE;
            goto done;
        }
        Py_ssize_t n;
        const char *ns = PyUnicode_AsUTF8AndSize(name, &n);
        if (ns == NULL) {
            PyErr_Clear();
            rc = LEAVE;
            goto done;
        }
        if (n)
            TRY(put_field(b, 0x2a, ns, n));
    }

    TRY((kind = PyObject_GetAttr(s, s_kind)) == NULL ? -1 : 0);
    TRY((v = PyObject_GetAttr(kind, s_value_)) == NULL ? -1 : 0);
    long k = PyLong_AsLong(v);
    Py_CLEAR(v);
    if (k == -1 && PyErr_Occurred())
        TRY(-1);
    if (k < 0 || k > 4) {
        rc = LEAVE;
        goto done;
    }
    TRY(put_byte(b, 0x30));
    TRY(put_byte(b, (unsigned char)(k + 1)));

    TRY(time_field(b, s, s_start_time, 0x39));
    TRY(time_field(b, s, s_end_time, 0x41));

    TRY((attrs = PyObject_GetAttr(s, s_attributes)) == NULL ? -1 : 0);
    t = PyObject_IsTrue(attrs);
    TRY(t < 0 ? -1 : 0);
    if (t)
        TRY(attributes(b, attrs));

    TRY((status = PyObject_GetAttr(s, s_status)) == NULL ? -1 : 0);
    TRY(status_field(b, status));

    TRY(put(b, "\x85\x01", 2));
    TRY(put_fixed(b, remote ? 0x300 : 0x100, 4));
done:
    Py_XDECREF(ctx);
    Py_XDECREF(parent);
    Py_XDECREF(name);
    Py_XDECREF(kind);
    Py_XDECREF(attrs);
    Py_XDECREF(status);
    Py_XDECREF(v);
    return rc;
}

static PyObject *
wirec_span_field(PyObject *Py_UNUSED(module), PyObject *span)
{
    Buf b;
    b.data = b.small;
    b.len = 0;
    b.cap = sizeof(b.small);
    /* room for the field's tag and length, written once the length is known */
    b.len = 11;
    int rc = encode_span(&b, span);
    PyObject *out = NULL;
    if (rc == 0) {
        Py_ssize_t n = b.len - 11;
        int head = 1 + varint_len((uint64_t)n);
        Py_ssize_t at = 11 - head;
        Buf h;
        h.data = h.small;
        h.len = 0;
        h.cap = sizeof(h.small);
        put_byte(&h, 0x12);
        put_varint(&h, (uint64_t)n);
        memcpy(b.data + at, h.data, (size_t)head);
        out = PyBytes_FromStringAndSize((const char *)b.data + at, head + n);
    } else if (rc == LEAVE) {
        out = Py_NewRef(Py_None);
    }
    if (b.data != b.small)
        PyMem_Free(b.data);
    return out;
}

static PyMethodDef wirec_methods[] = {
    {"span_field", wirec_span_field, METH_O,
     "span_field(span) -> bytes | None: the ScopeSpans.spans field of an ended span"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef wirec_module = {
    PyModuleDef_HEAD_INIT, "tracing._wirec",
    "One span to OTLP protobuf bytes in C (tracing._wire's bytes, for the common shapes).",
    -1, wirec_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__wirec(void)
{
    struct {
        PyObject **slot;
        const char *name;
    } names[] = {
        {&s_context, "_context"}, {&s_trace_state, "trace_state"}, {&s_events, "_events"},
        {&s_links, "_links"}, {&s_trace_id, "trace_id"}, {&s_span_id, "span_id"},
        {&s_parent, "_parent"}, {&s_is_remote, "is_remote"}, {&s_name, "_name"},
        {&s_kind, "_kind"}, {&s_value_, "_value_"}, {&s_start_time, "_start_time"},
        {&s_end_time, "_end_time"}, {&s_attributes, "_attributes"}, {&s_status, "_status"},
        {&s_status_code, "status_code"}, {&s_description, "description"},
        {&s_dropped, "dropped"}, {&s_dict, "_dict"},
        {&s_status_code_private, "_status_code"}, {&s_description_private, "_description"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (*names[i].slot == NULL && (*names[i].slot = PyUnicode_InternFromString(names[i].name)) == NULL)
            return NULL;
    }
    return PyModule_Create(&wirec_module);
}
