/* logstd._speedups, lint's part: the text output of ``logstd lint`` on captured logs, in C.
 *
 * ``Lint(...).text(lines, path, first)`` does what ``LogLinter.render_text`` does in
 * Python -- per line: find the JSON, decode it (orjson, as Python does), look its shape
 * up, run the value checks, write ``path:line:col: CODE message`` lines -- and returns
 * the output as UTF-8 bytes with the number of findings. It makes no rule decision of
 * its own: every plan (findings decided per shape, the checks per line and the value
 * types that pass them without a call) is made in Python (``LogLinter._plan``), every
 * value that does not pass by its type or a bound is judged by the Python check, and
 * message variability is kept by ``LogLinter._see_message``. Its checks run in the
 * order of ``LogLinter._problems`` and its findings are sorted as ``render_text`` sorts
 * them, so both print the same bytes (tests/test_lint_fast.py compares them).
 */
#define _GNU_SOURCE
#include "_speedups.h"
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A hash of a short byte string, eight bytes at a time: what the table of key layouts
 * (Sig) is indexed by. Not for anything kept: the values may change with the code. */
static inline uint64_t word_hash(const char *p, Py_ssize_t n, uint64_t seed) {
    uint64_t h = seed ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, (size_t)(n - i));
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

/* value types as bits: the types a check passes without a call, or a range accepts */
#define T_STR 1u
#define T_INT 2u
#define T_FLOAT 4u
#define T_BOOL 8u
#define T_NONE 16u
#define T_OTHER 32u /* the set holds another type too: ask the set */
#define T_DICT 64u  /* scanned values only (in no mask: dict and list are T_OTHER there) */
#define T_LIST 128u

#define CHECK_TYPED 0 /* passes by type (plan.typed) */
#define CHECK_RANGE 1 /* a number within bounds (plan.ranges) */
#define CHECK_REST 2  /* every value is looked at (plan.rest) */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

/* a finding decided once per shape: plan.text */
typedef struct {
    const char *needle;
    Py_ssize_t nlen;
    PyObject *code; /* borrowed from the Python plan */
    const char *rest; /* ": CODE message\n" in UTF-8 */
    Py_ssize_t rlen;
} Static;

typedef struct {
    /* what most lines need, first (one cache line) */
    int kind;
    unsigned mask; /* typed: types that pass; range: types compared with the bounds */
    int bounded;   /* range: the bounds are exact as doubles, compare inline */
    int message;   /* code is LS108: the message branch of LogLinter._run */
    int quick;     /* allowed, search, conv below say how a str passes without the call */
    Py_ssize_t pos; /* where its key is in the shape (scanned lines) */
    double lo, hi;
    PyObject *memo; /* may be NULL */
    /* the rest */
    Py_ssize_t index; /* the check's order: findings of one line are sorted by it */
    PyObject *key, *code, *check, *types; /* borrowed; types may be NULL */
    const char *needle;
    Py_ssize_t nlen;
    /* in the allowed set, found by the pattern's search, taken by the converter (or NULL),
       called with the value and conv_args */
    PyObject *allowed, *search, *conv, *conv_args;
    PyObject *spans; /* scanned dict and list values as written -> problem (a dict) */
} Check;

/* a LogLinter._Plan as C arrays; the objects belong to the Python plan (its tuples) */
typedef struct {
    PyObject_HEAD
    PyObject *pyplan; /* the logstd._lint_logs._Plan */
    PyObject *owned;  /* list: objects made here (the rest texts in UTF-8) */
    Py_ssize_t nstatic, nchecks;
    Static *statics;
    Check *checks;
} PlanObject;

typedef struct {
    PyObject_HEAD
    PyObject *plan_of;      /* shape (key tuple) -> LogLinter._Plan */
    PyObject *loads;        /* orjson.loads */
    PyObject *decode_error; /* orjson.JSONDecodeError */
    PyObject *json_start;   /* line -> offset of its JSON object, or -1 */
    PyObject *templates;    /* LogLinter._templates: message -> template or None */
    PyObject *see_message;  /* LogLinter._see_message(message, line) */
    PyObject *not_json;     /* ": LS110 line is not valid JSON\n" (bytes) */
    PyObject *not_record;   /* ": LS110 line is not a JSON record\n" (bytes) */
    PyObject *plans;        /* dict: shape -> PlanObject */
    PyObject *quick;        /* LogLinter._quick: check -> (allowed, search, converter) */
    PyObject *span_memos;   /* check -> {dict or list value as written -> problem} */
    int ls108, ls109, ls110;
    Py_ssize_t shape_limit, memo_limit;
    struct Sig *sigs; /* scanned lines: their keys as written -> PlanObject or None */
    Py_ssize_t sig_cap, sig_used;
    Buf out;   /* kept from chunk to chunk: its pages are not faulted in again */
    PyObject **strs; /* short text values made before, by a hash of their bytes (levels,
                        messages and services repeat: made once, their hash kept) */
    int busy;  /* text() is running (a callback calling it again is refused) */
} LintObject;

/* the keys of a scanned line as written, each followed by '"' (which no such key holds) */
typedef struct Sig {
    uint64_t hash;
    char *keys;
    Py_ssize_t len;
    PyObject *plan; /* PlanObject, or None: duplicate keys, left to orjson */
} Sig;

static PyTypeObject PlanType;

/* --- plans -------------------------------------------------------------------------- */

static int Plan_traverse(PlanObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->pyplan);
    Py_VISIT(self->owned);
    return 0;
}

static int Plan_clear(PlanObject *self) {
    self->nstatic = self->nchecks = 0; /* the arrays point into what is cleared */
    Py_CLEAR(self->pyplan);
    Py_CLEAR(self->owned);
    return 0;
}

static void Plan_dealloc(PlanObject *self) {
    PyObject_GC_UnTrack(self);
    Plan_clear(self);
    PyMem_Free(self->statics);
    PyMem_Free(self->checks);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "logstd._speedups.Plan",
    .tp_doc = PyDoc_STR("a LogLinter plan as C arrays (made by Lint)"),
    .tp_basicsize = sizeof(PlanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)Plan_dealloc,
    .tp_traverse = (traverseproc)Plan_traverse,
    .tp_clear = (inquiry)Plan_clear,
};

/* the type bit of v (0: another type) */
static inline unsigned type_bit(PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type)
        return T_STR;
    if (t == &PyLong_Type)
        return T_INT;
    if (t == &PyFloat_Type)
        return T_FLOAT;
    if (t == &PyBool_Type)
        return T_BOOL;
    if (v == Py_None)
        return T_NONE;
    return 0;
}

static int types_mask(PyObject *types, unsigned *mask) {
    if (!PyAnySet_Check(types)) {
        PyErr_SetString(PyExc_TypeError, "plan: value types are not a set");
        return -1;
    }
    PyObject *it = PyObject_GetIter(types), *t;
    if (it == NULL)
        return -1;
    *mask = 0;
    while ((t = PyIter_Next(it)) != NULL) {
        if (t == (PyObject *)&PyUnicode_Type)
            *mask |= T_STR;
        else if (t == (PyObject *)&PyLong_Type)
            *mask |= T_INT;
        else if (t == (PyObject *)&PyFloat_Type)
            *mask |= T_FLOAT;
        else if (t == (PyObject *)&PyBool_Type)
            *mask |= T_BOOL;
        else if (t == (PyObject *)Py_TYPE(Py_None))
            *mask |= T_NONE;
        else
            *mask |= T_OTHER;
        Py_DECREF(t);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* a bound as an exact double; 0 when it has none (then the Python check decides) */
static int exact_bound(PyObject *b, double *out) {
    if (PyFloat_CheckExact(b)) {
        *out = PyFloat_AS_DOUBLE(b);
        return 1;
    }
    if (PyLong_CheckExact(b)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(b, &overflow);
        if (overflow || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
        if (v > (1LL << 53) || v < -(1LL << 53))
            return 0;
        *out = (double)v;
        return 1;
    }
    return 0;
}

static int bytes_field(PyObject *b, const char **p, Py_ssize_t *n) {
    if (!PyBytes_Check(b)) {
        PyErr_SetString(PyExc_TypeError, "plan: a needle is not bytes");
        return -1;
    }
    *p = PyBytes_AS_STRING(b);
    *n = PyBytes_GET_SIZE(b);
    return 0;
}

static PyObject *plan_tuple(PyObject *pyplan, const char *name) {
    PyObject *t = PyObject_GetAttrString(pyplan, name);
    if (t != NULL && !PyTuple_CheckExact(t)) {
        PyErr_Format(PyExc_TypeError, "plan.%s is not a tuple", name);
        Py_CLEAR(t);
    }
    return t;
}

/* the part every check tuple shares: its size, then (order, key, ...) */
static int check_head(Check *c, PyObject *t, Py_ssize_t size, const char *what, int kind) {
    if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != size) {
        PyErr_SetString(PyExc_TypeError, what);
        return -1;
    }
    c->kind = kind;
    c->index = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0));
    if (c->index == -1 && PyErr_Occurred())
        return -1;
    c->key = PyTuple_GET_ITEM(t, 1);
    return 0;
}

/* fills c from a check tuple of plan.typed / plan.rest:
   (order, key, code, types or None, memo or None, check, needle) */
static int check_from(Check *c, PyObject *t, int kind) {
    if (check_head(c, t, 7, "plan: a check is not a 7-tuple", kind) < 0)
        return -1;
    c->code = PyTuple_GET_ITEM(t, 2);
    PyObject *types = PyTuple_GET_ITEM(t, 3), *memo = PyTuple_GET_ITEM(t, 4);
    c->types = types == Py_None ? NULL : types;
    c->mask = 0;
    if (c->types != NULL && types_mask(types, &c->mask) < 0)
        return -1;
    if (kind == CHECK_TYPED && c->types == NULL) {
        PyErr_SetString(PyExc_TypeError, "plan: a typed check without types");
        return -1;
    }
    if (memo != Py_None && !PyDict_CheckExact(memo)) {
        PyErr_SetString(PyExc_TypeError, "plan: a memo is not a dict");
        return -1;
    }
    c->memo = memo == Py_None ? NULL : memo;
    c->check = PyTuple_GET_ITEM(t, 5);
    c->bounded = 0;
    c->lo = c->hi = 0;
    return bytes_field(PyTuple_GET_ITEM(t, 6), &c->needle, &c->nlen);
}

/* fills c from a tuple of plan.ranges: (order, key, types, low, high, code, check, needle) */
static int range_from(Check *c, PyObject *t) {
    if (check_head(c, t, 8, "plan: a range is not an 8-tuple", CHECK_RANGE) < 0)
        return -1;
    c->types = PyTuple_GET_ITEM(t, 2);
    if (types_mask(c->types, &c->mask) < 0)
        return -1;
    c->bounded = exact_bound(PyTuple_GET_ITEM(t, 3), &c->lo) &&
                 exact_bound(PyTuple_GET_ITEM(t, 4), &c->hi) && !(c->mask & T_OTHER);
    c->code = PyTuple_GET_ITEM(t, 5);
    c->memo = NULL;
    c->check = PyTuple_GET_ITEM(t, 6);
    return bytes_field(PyTuple_GET_ITEM(t, 7), &c->needle, &c->nlen);
}

static int check_extras(LintObject *self, PlanObject *p, Check *c);

static PlanObject *plan_new(LintObject *self, PyObject *pyplan, PyObject *shape) {
    PlanObject *p = PyObject_GC_New(PlanObject, &PlanType);
    if (p == NULL)
        return NULL;
    p->pyplan = Py_NewRef(pyplan);
    p->owned = PyList_New(0);
    p->nstatic = p->nchecks = 0;
    p->statics = NULL;
    p->checks = NULL;
    PyObject_GC_Track(p);
    PyObject *text = NULL, *typed = NULL, *ranges = NULL, *rest = NULL;
    if (p->owned == NULL)
        goto fail;
    text = plan_tuple(pyplan, "text");
    typed = text ? plan_tuple(pyplan, "typed") : NULL;
    ranges = typed ? plan_tuple(pyplan, "ranges") : NULL;
    rest = ranges ? plan_tuple(pyplan, "rest") : NULL;
    /* the plan's tuples are kept alive by the plan (owned keeps them too, to be sure) */
    if (rest == NULL || PyList_Append(p->owned, text) < 0 || PyList_Append(p->owned, typed) < 0 ||
        PyList_Append(p->owned, ranges) < 0 || PyList_Append(p->owned, rest) < 0)
        goto fail;
    Py_ssize_t ns = PyTuple_GET_SIZE(text);
    Py_ssize_t nt = PyTuple_GET_SIZE(typed), nr = PyTuple_GET_SIZE(ranges),
               nrest = PyTuple_GET_SIZE(rest);
    p->statics = PyMem_Calloc(ns ? ns : 1, sizeof(Static));
    p->checks = PyMem_Calloc(nt + nr + nrest ? nt + nr + nrest : 1, sizeof(Check));
    if (p->statics == NULL || p->checks == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < ns; i++) {
        PyObject *t = PyTuple_GET_ITEM(text, i);
        if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != 3 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(t, 1)) || !PyUnicode_Check(PyTuple_GET_ITEM(t, 2))) {
            PyErr_SetString(PyExc_TypeError, "plan: a text entry is not (bytes, str, str)");
            goto fail;
        }
        Static *s = &p->statics[i];
        if (bytes_field(PyTuple_GET_ITEM(t, 0), &s->needle, &s->nlen) < 0)
            goto fail;
        s->code = PyTuple_GET_ITEM(t, 1);
        PyObject *b = PyUnicode_AsUTF8String(PyTuple_GET_ITEM(t, 2));
        if (b == NULL)
            goto fail;
        int r = PyList_Append(p->owned, b);
        Py_DECREF(b);
        if (r < 0)
            goto fail;
        s->rest = PyBytes_AS_STRING(b);
        s->rlen = PyBytes_GET_SIZE(b);
        p->nstatic = i + 1;
    }
    /* the order of LogLinter._problems: typed, then ranges, then the rest */
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < nt; i++, k++)
        if (check_from(&p->checks[k], PyTuple_GET_ITEM(typed, i), CHECK_TYPED) < 0)
            goto fail;
    for (Py_ssize_t i = 0; i < nr; i++, k++)
        if (range_from(&p->checks[k], PyTuple_GET_ITEM(ranges, i)) < 0)
            goto fail;
    for (Py_ssize_t i = 0; i < nrest; i++, k++) {
        if (check_from(&p->checks[k], PyTuple_GET_ITEM(rest, i), CHECK_REST) < 0)
            goto fail;
        if (p->checks[k].types != NULL) {
            PyErr_SetString(PyExc_TypeError, "plan: a rest check with types");
            goto fail;
        }
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        Check *c = &p->checks[i];
        c->message = PyUnicode_Check(c->code) &&
                     PyUnicode_CompareWithASCIIString(c->code, "LS108") == 0;
        c->pos = -1;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(shape) && c->pos < 0; j++) {
            int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(shape, j), c->key, Py_EQ);
            if (eq < 0)
                goto fail;
            if (eq)
                c->pos = j;
        }
        if (c->pos < 0) {
            PyErr_SetString(PyExc_KeyError, "plan: a check's key is not in the shape");
            goto fail;
        }
        if (check_extras(self, p, c) < 0)
            goto fail;
    }
    p->nchecks = k;
    Py_DECREF(text);
    Py_DECREF(typed);
    Py_DECREF(ranges);
    Py_DECREF(rest);
    return p;
fail:
    Py_XDECREF(text);
    Py_XDECREF(typed);
    Py_XDECREF(ranges);
    Py_XDECREF(rest);
    Py_DECREF(p);
    return NULL;
}

/* the quick pass and the memo of written values of a check (kept by the plan) */
static int check_extras(LintObject *self, PlanObject *p, Check *c) {
    c->quick = 0;
    c->allowed = c->search = c->conv = c->conv_args = NULL;
    PyObject *q = PyDict_GetItemWithError(self->quick, c->check);
    if (q == NULL && PyErr_Occurred())
        return -1;
    if (q != NULL) {
        if (!PyTuple_CheckExact(q) || PyTuple_GET_SIZE(q) != 4 ||
            !PyTuple_CheckExact(PyTuple_GET_ITEM(q, 3)) ||
            PyTuple_GET_SIZE(PyTuple_GET_ITEM(q, 3)) > 3) {
            PyErr_SetString(PyExc_TypeError, "quick: not (allowed, search, conv, args)");
            return -1;
        }
        if (PyList_Append(p->owned, q) < 0)
            return -1;
        PyObject *a = PyTuple_GET_ITEM(q, 0), *sr = PyTuple_GET_ITEM(q, 1),
                 *cv = PyTuple_GET_ITEM(q, 2);
        if (a != Py_None && !PyAnySet_Check(a)) {
            PyErr_SetString(PyExc_TypeError, "quick: allowed values are not a set");
            return -1;
        }
        c->quick = 1;
        c->allowed = a == Py_None ? NULL : a;
        c->search = sr == Py_None ? NULL : sr;
        c->conv = cv == Py_None ? NULL : cv;
        c->conv_args = PyTuple_GET_ITEM(q, 3);
    }
    PyObject *memo = PyDict_GetItemWithError(self->span_memos, c->check);
    if (memo == NULL) {
        if (PyErr_Occurred() || (memo = PyDict_New()) == NULL)
            return -1;
        int r = PyDict_SetItem(self->span_memos, c->check, memo);
        Py_DECREF(memo);
        if (r < 0)
            return -1;
    }
    if (PyList_Append(p->owned, memo) < 0)
        return -1;
    c->spans = memo;
    return 0;
}

/* --- output buffer ------------------------------------------------------------------ */

static int buf_grow(Buf *b, size_t more) {
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more)
        cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const char *s, size_t n) {
    if (buf_grow(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* v in decimal, as f"{v}" writes it; room for it is there */
static inline void put_num(Buf *b, Py_ssize_t v) {
    char tmp[24];
    int i = 0;
    size_t u = v < 0 ? (size_t)0 - (size_t)v : (size_t)v;
    do {
        tmp[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        b->p[b->len++] = '-';
    while (i)
        b->p[b->len++] = tmp[--i];
}

/* "path:line:" then col, as f"{head}{col}" writes them */
static inline int buf_head(Buf *b, const char *head, size_t hlen, Py_ssize_t col) {
    if (buf_grow(b, hlen + 24) < 0)
        return -1;
    memcpy(b->p + b->len, head, hlen);
    b->len += hlen;
    put_num(b, col);
    return 0;
}

/* --- scanning a line ----------------------------------------------------------------
 *
 * Most records are a flat object of plain keys and values. ``scan`` reads such a line
 * without making a dict: each key and where its value is, and the value's type, so a
 * check that passes by type costs no object. It accepts only a strict subset of JSON
 * (text without escapes or non-ASCII, integers of up to 18 digits, finite numbers,
 * nesting up to MAX_DEPTH) that orjson reads the same way, and leaves every other line
 * to orjson and the dict path (0): it never says a line is not JSON.
 */

#define MAX_FIELDS 64
#define MAX_DEPTH 32

typedef struct {
    const char *k, *v; /* the key (inside its quotes) and the value as written */
    Py_ssize_t klen, vlen;
    unsigned type;
    long long ival; /* T_INT, T_BOOL */
    double dval;    /* T_FLOAT */
} Field;

static inline const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* past a string of plain ASCII at p (its quote), or NULL */
static inline const char *plain_string(const char *p, const char *end) {
    p++;
#ifdef __SSE2__
    /* sixteen bytes at a time: a control byte or one >= 0x80 is < 0x20 as a signed char */
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        __m128i stop = _mm_or_si128(_mm_cmplt_epi8(x, space),
                                    _mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                 _mm_cmpeq_epi8(x, backslash)));
        int mask = _mm_movemask_epi8(stop);
        if (mask) {
            p += __builtin_ctz((unsigned)mask);
            return *p == '"' ? p + 1 : NULL;
        }
        p += 16;
    }
#endif
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20 || c == '\\' || c >= 0x80)
            return NULL;
    }
    return NULL;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* past a number at p by the JSON grammar, its value in f; NULL if none or not taken */
static const char *number(const char *p, const char *end, Field *f) {
    const char *s = p;
    int neg = p < end && *p == '-';
    p += neg;
    if (p >= end)
        return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && is_digit(*p))
            p++;
    else
        return NULL;
    const char *int_end = p;
    int is_float = 0;
    if (p < end && *p == '.') {
        const char *d = ++p;
        while (p < end && is_digit(*p))
            p++;
        if (p == d)
            return NULL;
        is_float = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *d = p;
        while (p < end && is_digit(*p))
            p++;
        if (p == d)
            return NULL;
        is_float = 1;
    }
    if (!is_float) {
        if (int_end - (s + neg) > 18) /* orjson makes bigger ones floats: left to it */
            return NULL;
        long long v = 0;
        for (const char *q = s + neg; q < int_end; q++)
            v = v * 10 + (*q - '0');
        f->ival = neg ? -v : v;
        f->type = T_INT;
        return p;
    }
    /* the grammar ends before p, at a delimiter: strtod stops there too */
    char buf[64];
    if (p - s >= (Py_ssize_t)sizeof(buf))
        return NULL;
    memcpy(buf, s, p - s);
    buf[p - s] = '\0';
    char *stop;
    double d = PyOS_string_to_double(buf, &stop, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return NULL;
    }
    if (stop != buf + (p - s) || Py_IS_INFINITY(d)) /* orjson: "number is infinity" */
        return NULL;
    f->dval = d;
    f->type = T_FLOAT;
    return p;
}

static inline const char *literal(const char *p, const char *end, const char *word,
                                  Py_ssize_t n) {
    return end - p >= n && memcmp(p, word, (size_t)n) == 0 ? p + n : NULL;
}

static const char *nested(const char *p, const char *end, int depth);

/* past any value at p, checked by the same rules; NULL if not taken */
static const char *any_value(const char *p, const char *end, int depth, Field *f) {
    if (p >= end)
        return NULL;
    switch (*p) {
    case '"':
        f->type = T_STR;
        return plain_string(p, end);
    case '{':
        f->type = T_DICT;
        return nested(p, end, depth);
    case '[':
        f->type = T_LIST;
        return nested(p, end, depth);
    case 't':
        f->type = T_BOOL;
        f->ival = 1;
        return literal(p, end, "true", 4);
    case 'f':
        f->type = T_BOOL;
        f->ival = 0;
        return literal(p, end, "false", 5);
    case 'n':
        f->type = T_NONE;
        return literal(p, end, "null", 4);
    default:
        return number(p, end, f);
    }
}

/* past an object or array at p */
static const char *nested(const char *p, const char *end, int depth) {
    if (depth > MAX_DEPTH)
        return NULL;
    int object = *p == '{';
    char close = object ? '}' : ']';
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    Field f;
    for (;;) {
        if (object) {
            if (p >= end || *p != '"' || (p = plain_string(p, end)) == NULL)
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
        }
        if ((p = any_value(p, end, depth + 1, &f)) == NULL)
            return NULL;
        p = skip_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == ',')
            p = skip_ws(p + 1, end);
        else if (*p == close)
            return p + 1;
        else
            return NULL;
    }
}

/* the fields of the object at p (its '{') that fills the line to end; -1 if not taken */
static int scan(const char *p, const char *end, Field *fields) {
    int n = 0;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (n == MAX_FIELDS || p >= end || *p != '"')
                return -1;
            Field *f = &fields[n];
            const char *q = plain_string(p, end);
            if (q == NULL)
                return -1;
            f->k = p + 1;
            f->klen = q - p - 2;
            p = skip_ws(q, end);
            if (p >= end || *p != ':')
                return -1;
            p = skip_ws(p + 1, end);
            f->v = p;
            if ((q = any_value(p, end, 1, f)) == NULL)
                return -1;
            f->vlen = q - p;
            n++;
            p = skip_ws(q, end);
            if (p >= end)
                return -1;
            if (*p == ',') {
                p = skip_ws(p + 1, end);
            } else if (*p == '}') {
                p++;
                break;
            } else {
                return -1;
            }
        }
    }
    return skip_ws(p, end) == end ? n : -1;
}

#define STRS 4096
#define STR_MAX 64

static uint64_t sig_hash(const char *p, Py_ssize_t n);

/* the str of plain ASCII text: one made before with the same bytes, or a new one */
static PyObject *short_str(LintObject *self, const char *p, Py_ssize_t n) {
    if (n > STR_MAX)
        return PyUnicode_DecodeASCII(p, n, NULL);
    if (self->strs == NULL && (self->strs = PyMem_Calloc(STRS, sizeof(PyObject *))) == NULL)
        return PyErr_NoMemory();
    PyObject **slot = &self->strs[sig_hash(p, n) & (STRS - 1)];
    PyObject *s = *slot;
    if (s != NULL && PyUnicode_GET_LENGTH(s) == n && memcmp(PyUnicode_1BYTE_DATA(s), p, n) == 0)
        return Py_NewRef(s);
    s = PyUnicode_DecodeASCII(p, n, NULL);
    if (s != NULL)
        Py_XSETREF(*slot, Py_NewRef(s));
    return s;
}

/* a scanned value as the object orjson makes of it (a new reference) */
static PyObject *field_object(LintObject *self, const Field *f) {
    switch (f->type) {
    case T_STR:
        return short_str(self, f->v + 1, f->vlen - 2);
    case T_INT:
        return PyLong_FromLongLong(f->ival);
    case T_FLOAT:
        return PyFloat_FromDouble(f->dval);
    case T_BOOL:
        return Py_NewRef(f->ival ? Py_True : Py_False);
    case T_NONE:
        return Py_NewRef(Py_None);
    default: {
        PyObject *b = PyBytes_FromStringAndSize(f->v, f->vlen);
        PyObject *v = b ? PyObject_CallOneArg(self->loads, b) : NULL;
        Py_XDECREF(b);
        return v;
    }
    }
}

static PyTypeObject *bit_type(unsigned bit) {
    switch (bit) {
    case T_STR:
        return &PyUnicode_Type;
    case T_INT:
        return &PyLong_Type;
    case T_FLOAT:
        return &PyFloat_Type;
    case T_BOOL:
        return &PyBool_Type;
    case T_NONE:
        return Py_TYPE(Py_None);
    case T_DICT:
        return &PyDict_Type;
    default:
        return &PyList_Type;
    }
}

/* --- plans of scanned lines, by their keys as written ------------------------------- */

/* a hash of the keys as written, eight bytes at a time */
static uint64_t sig_hash(const char *p, Py_ssize_t n) {
    return word_hash(p, n, 1469598103934665603ULL);
}

static Sig *sig_slot(Sig *table, Py_ssize_t cap, uint64_t hash, const char *keys,
                     Py_ssize_t len) {
    Py_ssize_t i = (Py_ssize_t)(hash & (uint64_t)(cap - 1));
    for (;;) {
        Sig *s = &table[i];
        if (s->keys == NULL ||
            (s->hash == hash && s->len == len && memcmp(s->keys, keys, (size_t)len) == 0))
            return s;
        i = (i + 1) & (cap - 1);
    }
}

static int sig_grow(LintObject *self) {
    Py_ssize_t cap = self->sig_cap ? self->sig_cap * 2 : 256;
    Sig *table = PyMem_Calloc((size_t)cap, sizeof(Sig));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->sig_cap; i++) {
        Sig *s = &self->sigs[i];
        if (s->keys != NULL)
            *sig_slot(table, cap, s->hash, s->keys, s->len) = *s;
    }
    PyMem_Free(self->sigs);
    self->sigs = table;
    self->sig_cap = cap;
    return 0;
}

static void strs_clear(LintObject *self) {
    if (self->strs == NULL)
        return;
    for (int i = 0; i < STRS; i++)
        Py_CLEAR(self->strs[i]);
    PyMem_Free(self->strs);
    self->strs = NULL;
}

static void sig_clear(LintObject *self) {
    for (Py_ssize_t i = 0; i < self->sig_cap; i++) {
        PyMem_Free(self->sigs[i].keys);
        Py_XDECREF(self->sigs[i].plan);
    }
    PyMem_Free(self->sigs);
    self->sigs = NULL;
    self->sig_cap = self->sig_used = 0;
}

/* the plan of a scanned line (None: leave the line to orjson), or NULL on error */
static PyObject *scanned_plan(LintObject *self, const Field *fields, int n, Buf *keys) {
    keys->len = 0;
    for (int i = 0; i < n; i++)
        if (buf_put(keys, fields[i].k, fields[i].klen) < 0 || buf_put(keys, "\"", 1) < 0)
            return NULL;
    uint64_t hash = sig_hash(keys->p, (Py_ssize_t)keys->len);
    if (self->sig_cap) {
        Sig *s = sig_slot(self->sigs, self->sig_cap, hash, keys->p, (Py_ssize_t)keys->len);
        if (s->keys != NULL)
            return Py_NewRef(s->plan);
    }
    PyObject *plan = NULL, *shape = PyTuple_New(n);
    if (shape == NULL)
        return NULL;
    int dup = 0;
    for (int i = 0; i < n; i++) {
        PyObject *k = PyUnicode_DecodeASCII(fields[i].k, fields[i].klen, NULL);
        if (k == NULL) {
            Py_DECREF(shape);
            return NULL;
        }
        PyUnicode_InternInPlace(&k);
        PyTuple_SET_ITEM(shape, i, k);
        for (int j = 0; j < i && !dup; j++)
            dup = fields[j].klen == fields[i].klen &&
                  memcmp(fields[j].k, fields[i].k, (size_t)fields[i].klen) == 0;
    }
    if (dup) { /* a dict keeps the first place and the last value: orjson's business */
        plan = Py_NewRef(Py_None);
    } else {
        PyObject *pyplan = PyObject_CallOneArg(self->plan_of, shape);
        plan = pyplan ? (PyObject *)plan_new(self, pyplan, shape) : NULL;
        Py_XDECREF(pyplan);
    }
    Py_DECREF(shape);
    if (plan == NULL)
        return NULL;
    if (self->sig_used >= self->shape_limit) /* not kept (as LogLinter keeps no more) */
        return plan;
    if ((self->sig_used + 1) * 2 > self->sig_cap && sig_grow(self) < 0) {
        Py_DECREF(plan);
        return NULL;
    }
    char *copy = PyMem_Malloc(keys->len ? keys->len : 1);
    if (copy == NULL) {
        Py_DECREF(plan);
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, keys->p, keys->len);
    Sig *s = sig_slot(self->sigs, self->sig_cap, hash, keys->p, (Py_ssize_t)keys->len);
    s->hash = hash;
    s->keys = copy;
    s->len = (Py_ssize_t)keys->len;
    s->plan = Py_NewRef(plan);
    self->sig_used++;
    return plan;
}

/* --- per line ----------------------------------------------------------------------- */

typedef struct {
    Py_ssize_t index, col;
    PyObject *code;    /* borrowed */
    PyObject *problem; /* owned str, or NULL for a static finding */
    const char *rest;  /* a static finding's text */
    Py_ssize_t rlen;
    const char *needle;
    Py_ssize_t nlen;
} Found;

typedef struct {
    Found *items;
    Py_ssize_t n, cap;
} Founds;

static int found_add(Founds *f, Found x) {
    if (f->n == f->cap) {
        Py_ssize_t cap = f->cap ? f->cap * 2 : 16;
        Found *items = PyMem_Realloc(f->items, cap * sizeof(Found));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        f->items = items;
        f->cap = cap;
    }
    f->items[f->n++] = x;
    return 0;
}

static void founds_reset(Founds *f) {
    for (Py_ssize_t i = 0; i < f->n; i++)
        Py_XDECREF(f->items[i].problem);
    f->n = 0;
}

/* line.find(needle, off): its offset or -1 */
static inline Py_ssize_t find(const char *line, Py_ssize_t len, Py_ssize_t off,
                              const char *needle, Py_ssize_t nlen) {
    if (off > len)
        return -1;
    if (nlen == 0)
        return off;
    if (nlen > len - off)
        return -1;
#ifdef __SSE2__
    if (nlen >= 2) {
        /* candidates: where the first and the last byte of the needle both are */
        const __m128i first = _mm_set1_epi8(needle[0]), last = _mm_set1_epi8(needle[nlen - 1]);
        const char *p = line + off, *stop = line + len - nlen; /* last start */
        while (stop - p >= 15) {
            __m128i a = _mm_loadu_si128((const __m128i *)p);
            __m128i b = _mm_loadu_si128((const __m128i *)(p + nlen - 1));
            unsigned mask = (unsigned)_mm_movemask_epi8(
                _mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
            while (mask) {
                int i = __builtin_ctz(mask);
                if (memcmp(p + i + 1, needle + 1, (size_t)(nlen - 2)) == 0)
                    return p + i - line;
                mask &= mask - 1;
            }
            p += 16;
        }
        for (; p <= stop; p++)
            if (*p == needle[0] && memcmp(p + 1, needle + 1, (size_t)(nlen - 1)) == 0)
                return p - line;
        return -1;
    }
#endif
    const char *at = memmem(line + off, (size_t)(len - off), needle, (size_t)nlen);
    return at == NULL ? -1 : at - line;
}

/* not str.strip(): a character that is not whitespace */
static int has_text(PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)))
            return 1;
    return 0;
}

/* bytes.strip() leaves something */
static int has_bytes(const char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_ISSPACE((unsigned char)p[i]))
            return 1;
    return 0;
}

/* lo <= x <= hi for an int or float, when that is sure; else 0 (the check decides) */
static inline int within(const Check *c, PyObject *v, const Field *f, unsigned bit) {
    double x;
    if (bit == T_FLOAT) {
        x = v != NULL ? PyFloat_AS_DOUBLE(v) : f->dval;
    } else {
        int overflow = 0;
        long long i = v != NULL ? PyLong_AsLongLongAndOverflow(v, &overflow) : f->ival;
        if (overflow || i > (1LL << 53) || i < -(1LL << 53))
            return 0;
        x = (double)i;
    }
    return c->lo <= x && x <= c->hi;
}

/* check(value): None without the call where the value meets the check's own pass
   condition (as the check's first branch tests it), else the check's answer */
static PyObject *call_check(const Check *c, PyObject *value) {
    if (c->quick && PyUnicode_CheckExact(value)) {
        int pass = 1;
        if (c->allowed != NULL) {
            pass = PySet_Contains(c->allowed, value);
            if (pass < 0) {
                PyErr_Clear();
                pass = 0;
            }
        }
        if (pass && c->search != NULL) {
            PyObject *m = PyObject_CallOneArg(c->search, value);
            if (m == NULL)
                PyErr_Clear();
            pass = m != NULL && m != Py_None;
            Py_XDECREF(m);
        }
        if (pass && c->conv != NULL) {
            PyObject *stack[4] = {value};
            Py_ssize_t nargs = 1 + PyTuple_GET_SIZE(c->conv_args);
            for (Py_ssize_t i = 1; i < nargs; i++)
                stack[i] = PyTuple_GET_ITEM(c->conv_args, i - 1);
            PyObject *r = PyObject_Vectorcall(c->conv, stack, (size_t)nargs, NULL);
            if (r == NULL)
                PyErr_Clear(); /* a ValueError or not: the check decides, as it would */
            pass = r != NULL;
            Py_XDECREF(r);
        }
        if (pass)
            return Py_NewRef(Py_None);
    }
    return PyObject_CallOneArg(c->check, value);
}

static PyObject *field_object(LintObject *self, const Field *f);

/* a scanned dict or list value's problem, the same for the same text: memoised, the
   value made (by orjson) only when its text is new */
static PyObject *call_check_span(LintObject *self, const Check *c, const Field *f) {
    PyObject *value, *problem;
    if (f->vlen > 512) {
        value = field_object(self, f);
        problem = value ? PyObject_CallOneArg(c->check, value) : NULL;
        Py_XDECREF(value);
        return problem;
    }
    PyObject *key = PyBytes_FromStringAndSize(f->v, f->vlen);
    if (key == NULL)
        return NULL;
    problem = PyDict_GetItemWithError(c->spans, key);
    if (problem != NULL) {
        Py_DECREF(key);
        return Py_NewRef(problem);
    }
    value = PyErr_Occurred() ? NULL : field_object(self, f);
    problem = value ? PyObject_CallOneArg(c->check, value) : NULL;
    Py_XDECREF(value);
    if (problem == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    if (PyDict_GET_SIZE(c->spans) < self->memo_limit && PyDict_SetItem(c->spans, key, problem) < 0)
        Py_CLEAR(problem);
    Py_DECREF(key);
    return problem;
}

/* one check of LogLinter._problems / _run on its value -- rec[key], or the scanned field
   at the key's place, made an object only where needed: appends a problem, or not */
static int run_check(LintObject *self, const Check *c, PyObject *rec, const Field *fields,
                     Py_ssize_t n, Founds *found) {
    PyObject *value = NULL, *problem = NULL;
    const Field *f = NULL;
    unsigned bit;
    if (rec != NULL) {
        value = PyDict_GetItemWithError(rec, c->key);
        if (value == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, c->key);
            return -1;
        }
        Py_INCREF(value);
        bit = type_bit(value);
    } else {
        f = &fields[c->pos];
        bit = f->type;
    }
#define VALUE() (value != NULL || (value = field_object(self, f)) != NULL)
    if (c->kind == CHECK_RANGE) {
        if (c->bounded && (c->mask & bit) && within(c, value, f, bit))
            goto pass;
        if (!VALUE())
            goto error;
        problem = call_check(c, value);
    } else {
        if (c->kind == CHECK_TYPED) {
            int in = (c->mask & bit) ? 1 : !(c->mask & T_OTHER) ? 0 :
                     PySet_Contains(c->types, (PyObject *)(value != NULL ? Py_TYPE(value)
                                                                         : bit_type(bit)));
            if (in < 0)
                goto error;
            if (in)
                goto pass;
        }
        if (f != NULL && (bit == T_DICT || bit == T_LIST) &&
            (c->message ? self->ls108 : 1)) {
            /* neither memo (str and int only) nor message text (str only) applies */
            problem = call_check_span(self, c, f);
            goto judged;
        }
        if (c->message && f != NULL && bit != T_STR && !self->ls108)
            goto pass;
        if (!VALUE())
            goto error;
        if (c->memo != NULL && (bit == T_STR || bit == T_INT)) {
            problem = PyDict_GetItemWithError(c->memo, value);
            if (problem != NULL) {
                Py_INCREF(problem);
            } else {
                if (PyErr_Occurred())
                    goto error;
                problem = call_check(c, value);
                if (problem != NULL && PyDict_GET_SIZE(c->memo) < self->memo_limit &&
                    PyDict_SetItem(c->memo, value, problem) < 0)
                    Py_CLEAR(problem);
            }
        } else {
            if (c->message) {
                if (bit == T_STR) {
                    if (self->ls109) {
                        PyObject *t = PyDict_GetItemWithError(self->templates, value);
                        if (t == NULL && PyErr_Occurred())
                            goto error;
                        if (t != Py_None) {
                            PyObject *ln = PyLong_FromSsize_t(n);
                            if (ln == NULL)
                                goto error;
                            PyObject *r = PyObject_CallFunctionObjArgs(self->see_message, value,
                                                                       ln, NULL);
                            Py_DECREF(ln);
                            if (r == NULL)
                                goto error;
                            Py_DECREF(r);
                        }
                    }
                    if (has_text(value))
                        goto pass;
                }
                if (!self->ls108)
                    goto pass;
            }
            problem = call_check(c, value);
        }
    }
#undef VALUE
judged:
    if (problem == NULL)
        goto error;
    Py_XDECREF(value);
    if (problem == Py_None) {
        Py_DECREF(problem);
        return 0;
    }
    if (!PyUnicode_Check(problem)) {
        Py_DECREF(problem);
        PyErr_SetString(PyExc_TypeError, "a check returned neither None nor str");
        return -1;
    }
    Found x = {c->index, 0, c->code, problem, NULL, 0, c->needle, c->nlen};
    if (found_add(found, x) < 0) {
        Py_DECREF(problem);
        return -1;
    }
    return 0;
pass:
    Py_XDECREF(value);
    return 0;
error:
    Py_XDECREF(value);
    return -1;
}

/* (col, code) of a before b: the sort key of render_text */
static int before(const Found *a, const Found *b) {
    if (a->col != b->col)
        return a->col < b->col;
    if (a->code == b->code)
        return 0;
    return PyUnicode_Compare(a->code, b->code) < 0;
}

/* the findings of one record, written; returns how many, or -1 */
static Py_ssize_t write_record(LintObject *self, PlanObject *plan, PyObject *rec,
                               const Field *fields, const char *line, Py_ssize_t len,
                               Py_ssize_t off, Py_ssize_t n, const char *head, size_t hlen,
                               Founds *found, Buf *out) {
    founds_reset(found);
    for (Py_ssize_t i = 0; i < plan->nchecks; i++)
        if (run_check(self, &plan->checks[i], rec, fields, n, found) < 0)
            return -1;
    if (found->n == 0) { /* the shape's findings, in their order */
        for (Py_ssize_t i = 0; i < plan->nstatic; i++) {
            const Static *s = &plan->statics[i];
            Py_ssize_t col = find(line, len, off, s->needle, s->nlen) + 1;
            if (buf_head(out, head, hlen, col) < 0 || buf_put(out, s->rest, s->rlen) < 0)
                return -1;
        }
        return plan->nstatic;
    }
    /* problems back in the order of the checks (stable: indices are unique) */
    Found *items = found->items;
    Py_ssize_t np = found->n;
    for (Py_ssize_t i = 1; i < np; i++) {
        Found x = items[i];
        Py_ssize_t j = i;
        while (j > 0 && items[j - 1].index > x.index) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = x;
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        Py_ssize_t at = find(line, len, off, items[i].needle, items[i].nlen);
        items[i].col = (at >= 0 ? at : off) + 1;
    }
    /* the shape's findings first, then the problems; a stable sort by (col, code) */
    for (Py_ssize_t i = 0; i < plan->nstatic; i++) {
        const Static *s = &plan->statics[i];
        Found f = {-1, find(line, len, off, s->needle, s->nlen) + 1, s->code, NULL, s->rest,
                   s->rlen, NULL, 0};
        if (found_add(found, f) < 0)
            return -1;
    }
    items = found->items;
    Py_ssize_t total = found->n;
    /* order: statics (at np..total) then problems (0..np), as render_text builds them */
    Found *all = PyMem_Malloc(total * sizeof(Found));
    if (all == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(all, items + np, (total - np) * sizeof(Found));
    memcpy(all + (total - np), items, np * sizeof(Found));
    for (Py_ssize_t i = 1; i < total; i++) {
        Found x = all[i];
        Py_ssize_t j = i;
        while (j > 0 && before(&x, &all[j - 1])) {
            all[j] = all[j - 1];
            j--;
        }
        all[j] = x;
    }
    int err = 0;
    for (Py_ssize_t i = 0; i < total && !err; i++) {
        const Found *f = &all[i];
        if (buf_head(out, head, hlen, f->col) < 0) {
            err = 1;
            break;
        }
        if (f->problem == NULL) {
            err = buf_put(out, f->rest, f->rlen) < 0;
            continue;
        }
        Py_ssize_t clen, plen;
        const char *code = PyUnicode_AsUTF8AndSize(f->code, &clen);
        const char *problem = code ? PyUnicode_AsUTF8AndSize(f->problem, &plen) : NULL;
        err = problem == NULL || buf_put(out, ": ", 2) < 0 || buf_put(out, code, clen) < 0 ||
              buf_put(out, " ", 1) < 0 || buf_put(out, problem, plen) < 0 ||
              buf_put(out, "\n", 1) < 0;
    }
    PyMem_Free(all);
    return err ? -1 : total;
}

/* the plan of a record's shape: from the cache, else from LogLinter._plan */
static PlanObject *plan_for(LintObject *self, PyObject *rec) {
    Py_ssize_t size = PyDict_GET_SIZE(rec), pos = 0, i = 0;
    PyObject *shape = PyTuple_New(size), *key, *value;
    if (shape == NULL)
        return NULL;
    while (PyDict_Next(rec, &pos, &key, &value) && i < size)
        PyTuple_SET_ITEM(shape, i++, Py_NewRef(key));
    PyObject *plan = PyDict_GetItemWithError(self->plans, shape);
    if (plan != NULL) {
        Py_DECREF(shape);
        return (PlanObject *)Py_NewRef(plan);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(shape);
        return NULL;
    }
    PyObject *pyplan = PyObject_CallOneArg(self->plan_of, shape);
    PlanObject *p = pyplan ? plan_new(self, pyplan, shape) : NULL;
    Py_XDECREF(pyplan);
    if (p != NULL && PyDict_GET_SIZE(self->plans) < self->shape_limit &&
        PyDict_SetItem(self->plans, shape, (PyObject *)p) < 0)
        Py_CLEAR(p);
    Py_DECREF(shape);
    return p;
}

/* "path:" then "line:" (the start of each of the line's findings) */
static int put_head(Buf *head, const char *path, Py_ssize_t plen, Py_ssize_t n) {
    head->len = 0;
    if (buf_grow(head, (size_t)plen + 32) < 0)
        return -1;
    memcpy(head->p, path, (size_t)plen);
    head->len = (size_t)plen;
    head->p[head->len++] = ':';
    put_num(head, n);
    head->p[head->len++] = ':';
    return 0;
}

static PyObject *Lint_text(LintObject *self, PyObject *args) {
    PyObject *lines, *path;
    Py_ssize_t first;
    if (!PyArg_ParseTuple(args, "O!Un", &PyList_Type, &lines, &path, &first))
        return NULL;
    Py_ssize_t plen = 0;
    const char *pathb = NULL;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Lint.text is not reentrant");
        return NULL;
    }
    self->busy = 1;
    Buf out = self->out, head = {NULL, 0, 0}, keys = {NULL, 0, 0};
    out.len = 0;
    Founds found = {NULL, 0, 0};
    Field fields[MAX_FIELDS];
    Py_ssize_t count = 0;
    /* records are made and dropped line by line and hold no cycles: no collections */
    int gc_was = PyGC_Disable();
    const char *nj = PyBytes_AS_STRING(self->not_json), *nr = PyBytes_AS_STRING(self->not_record);
    Py_ssize_t njlen = PyBytes_GET_SIZE(self->not_json), nrlen = PyBytes_GET_SIZE(self->not_record);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
        PyObject *lineobj = PyList_GET_ITEM(lines, i), *rec = NULL, *plan = NULL;
        if (!PyBytes_Check(lineobj)) {
            PyErr_SetString(PyExc_TypeError, "lines must be bytes");
            goto fail;
        }
        Py_INCREF(lineobj);
        Py_ssize_t n = first + i;
        const char *line = PyBytes_AS_STRING(lineobj);
        Py_ssize_t len = PyBytes_GET_SIZE(lineobj), off = 0;
        int nfields = -1;
        if (len == 0 || line[0] != '{') {
            PyObject *o = PyObject_CallOneArg(self->json_start, lineobj);
            if (o == NULL)
                goto fail_line;
            off = PyLong_AsSsize_t(o);
            Py_DECREF(o);
            if (off == -1 && PyErr_Occurred())
                goto fail_line;
        }
        if (off >= 0) {
            nfields = scan(line + off, line + len, fields);
            if (nfields >= 0) {
                plan = scanned_plan(self, fields, nfields, &keys);
                if (plan == NULL)
                    goto fail_line;
                if (plan == Py_None) { /* duplicate keys: orjson reads the line */
                    Py_CLEAR(plan);
                    nfields = -1;
                }
            }
        }
        if (off >= 0 && nfields < 0) {
            if (off == 0) {
                rec = PyObject_CallOneArg(self->loads, lineobj);
            } else {
                PyObject *tail = PyBytes_FromStringAndSize(line + off, len - off);
                rec = tail ? PyObject_CallOneArg(self->loads, tail) : NULL;
                Py_XDECREF(tail);
            }
            if (rec == NULL) {
                if (!PyErr_ExceptionMatches(self->decode_error))
                    goto fail_line;
                PyErr_Clear();
            } else if (!PyDict_CheckExact(rec)) { /* a JSON value not an object: skipped */
                Py_DECREF(rec);
                Py_DECREF(lineobj);
                continue;
            }
        }
        if (rec == NULL && plan == NULL) {
            /* not a record: off -1 (no JSON object) or where the invalid JSON starts */
            if (self->ls110 && (off >= 0 || has_bytes(line, len))) {
                if (pathb == NULL && (pathb = PyUnicode_AsUTF8AndSize(path, &plen)) == NULL)
                    goto fail_line;
                if (put_head(&head, pathb, plen, n) < 0 || buf_grow(&out, head.len + 24) < 0)
                    goto fail_line;
                memcpy(out.p + out.len, head.p, head.len);
                out.len += head.len;
                put_num(&out, off >= 0 ? off + 1 : 1);
                if ((off >= 0 ? buf_put(&out, nj, njlen) : buf_put(&out, nr, nrlen)) < 0)
                    goto fail_line;
                count++;
            }
            Py_DECREF(lineobj);
            continue;
        }
        if (plan == NULL && (plan = (PyObject *)plan_for(self, rec)) == NULL)
            goto fail_line;
        if ((pathb == NULL && (pathb = PyUnicode_AsUTF8AndSize(path, &plen)) == NULL) ||
            put_head(&head, pathb, plen, n) < 0)
            goto fail_line;
        Py_ssize_t got = write_record(self, (PlanObject *)plan, rec, fields, line, len, off, n,
                                      head.p, head.len, &found, &out);
        if (got < 0)
            goto fail_line;
        count += got;
        Py_DECREF(plan);
        Py_XDECREF(rec);
        Py_DECREF(lineobj);
        continue;
    fail_line:
        Py_XDECREF(plan);
        Py_XDECREF(rec);
        Py_DECREF(lineobj);
        goto fail;
    }
    if (gc_was)
        PyGC_Enable();
    founds_reset(&found);
    PyMem_Free(found.items);
    PyMem_Free(head.p);
    PyMem_Free(keys.p);
    PyObject *data = PyBytes_FromStringAndSize(out.p ? out.p : "", (Py_ssize_t)out.len);
    self->out = out;
    self->busy = 0;
    if (data == NULL)
        return NULL;
    return Py_BuildValue("(Nn)", data, count);
fail:
    if (gc_was)
        PyGC_Enable();
    founds_reset(&found);
    PyMem_Free(found.items);
    PyMem_Free(head.p);
    PyMem_Free(keys.p);
    self->out = out;
    self->busy = 0;
    return NULL;
}

/* --- the object --------------------------------------------------------------------- */

#define LINT_MEMBERS(X) \
    X(plan_of) X(loads) X(decode_error) X(json_start) X(templates) X(see_message) \
    X(not_json) X(not_record) X(plans) X(quick) X(span_memos)

static int Lint_traverse(LintObject *self, visitproc visit, void *arg) {
#define VISIT(m) Py_VISIT(self->m);
    LINT_MEMBERS(VISIT)
#undef VISIT
    for (Py_ssize_t i = 0; i < self->sig_cap; i++)
        Py_VISIT(self->sigs[i].plan);
    return 0;
}

static int Lint_clear(LintObject *self) {
#define CLEAR(m) Py_CLEAR(self->m);
    LINT_MEMBERS(CLEAR)
#undef CLEAR
    sig_clear(self);
    strs_clear(self);
    return 0;
}

static void Lint_dealloc(LintObject *self) {
    PyObject_GC_UnTrack(self);
    Lint_clear(self);
    PyMem_Free(self->out.p);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Lint_init(LintObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"plan_of", "loads", "decode_error", "json_start", "templates",
                             "see_message", "not_json", "not_record", "ls108", "ls109",
                             "ls110", "quick", "shape_limit", "memo_limit", NULL};
    PyObject *a[9];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$OOOOO!OUUpppO!nn", kwlist, &a[0], &a[1],
                                     &a[2], &a[3], &PyDict_Type, &a[4], &a[5], &a[6], &a[7],
                                     &self->ls108, &self->ls109, &self->ls110, &PyDict_Type,
                                     &a[8], &self->shape_limit, &self->memo_limit))
        return -1;
    PyObject *nj = PyUnicode_FromFormat(": LS110 %U\n", a[6]);
    PyObject *nr = nj ? PyUnicode_FromFormat(": LS110 %U\n", a[7]) : NULL;
    PyObject *njb = nr ? PyUnicode_AsUTF8String(nj) : NULL;
    PyObject *nrb = njb ? PyUnicode_AsUTF8String(nr) : NULL;
    Py_XDECREF(nj);
    Py_XDECREF(nr);
    PyObject *plans = nrb ? PyDict_New() : NULL;
    PyObject *span_memos = plans ? PyDict_New() : NULL;
    if (span_memos == NULL) {
        Py_XDECREF(njb);
        Py_XDECREF(nrb);
        Py_XDECREF(plans);
        return -1;
    }
    Py_XSETREF(self->plan_of, Py_NewRef(a[0]));
    Py_XSETREF(self->loads, Py_NewRef(a[1]));
    Py_XSETREF(self->decode_error, Py_NewRef(a[2]));
    Py_XSETREF(self->json_start, Py_NewRef(a[3]));
    Py_XSETREF(self->templates, Py_NewRef(a[4]));
    Py_XSETREF(self->see_message, Py_NewRef(a[5]));
    Py_XSETREF(self->not_json, njb);
    Py_XSETREF(self->not_record, nrb);
    Py_XSETREF(self->plans, plans);
    Py_XSETREF(self->quick, Py_NewRef(a[8]));
    Py_XSETREF(self->span_memos, span_memos);
    sig_clear(self);
    return 0;
}

static PyMethodDef Lint_methods[] = {
    {"text", (PyCFunction)Lint_text, METH_VARARGS,
     "text(lines: list[bytes], path: str, first: int) -> (UTF-8 text output, findings)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LintType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "logstd._speedups.Lint",
    .tp_doc = PyDoc_STR("Lint(**from a LogLinter).text(lines, path, first) -> (bytes, int)"),
    .tp_basicsize = sizeof(LintObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Lint_init,
    .tp_dealloc = (destructor)Lint_dealloc,
    .tp_traverse = (traverseproc)Lint_traverse,
    .tp_clear = (inquiry)Lint_clear,
    .tp_methods = Lint_methods,
};

int speedups_lint_add(PyObject *m) {
    if (PyType_Ready(&PlanType) < 0)
        return -1;
    return speedups_add_type(m, &LintType, "Lint");
}
