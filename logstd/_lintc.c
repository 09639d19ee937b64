/* logstd._lintc: the text output of ``logstd lint`` on captured logs, in C.
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
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <string.h>

/* value types as bits: the types a check passes without a call, or a range accepts */
#define T_STR 1u
#define T_INT 2u
#define T_FLOAT 4u
#define T_BOOL 8u
#define T_NONE 16u
#define T_OTHER 32u /* the set holds another type too: ask the set */

#define CHECK_TYPED 0 /* passes by type (plan.typed) */
#define CHECK_RANGE 1 /* a number within bounds (plan.ranges) */
#define CHECK_REST 2  /* every value is looked at (plan.rest) */

/* a finding decided once per shape: plan.text */
typedef struct {
    const char *needle;
    Py_ssize_t nlen;
    PyObject *code; /* borrowed from the Python plan */
    const char *rest; /* ": CODE message\n" in UTF-8 */
    Py_ssize_t rlen;
} Static;

typedef struct {
    Py_ssize_t index; /* the check's order: findings of one line are sorted by it */
    PyObject *key, *code, *memo, *check, *types; /* borrowed; memo, types may be NULL */
    const char *needle;
    Py_ssize_t nlen;
    unsigned mask; /* typed: types that pass; range: types compared with the bounds */
    int kind;
    int bounded; /* range: the bounds are exact as doubles, compare inline */
    int message; /* code is LS108: the message branch of LogLinter._run */
    double lo, hi;
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
    int ls108, ls109, ls110;
    Py_ssize_t shape_limit, memo_limit;
} LintObject;

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
    .tp_name = "logstd._lintc.Plan",
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

/* fills c from a check tuple of plan.typed / plan.rest:
   (order, key, code, types or None, memo or None, check, needle) */
static int check_from(Check *c, PyObject *t, int kind) {
    if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != 7) {
        PyErr_SetString(PyExc_TypeError, "plan: a check is not a 7-tuple");
        return -1;
    }
    c->kind = kind;
    c->index = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0));
    if (c->index == -1 && PyErr_Occurred())
        return -1;
    c->key = PyTuple_GET_ITEM(t, 1);
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
    if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != 8) {
        PyErr_SetString(PyExc_TypeError, "plan: a range is not an 8-tuple");
        return -1;
    }
    c->kind = CHECK_RANGE;
    c->index = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0));
    if (c->index == -1 && PyErr_Occurred())
        return -1;
    c->key = PyTuple_GET_ITEM(t, 1);
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

static PlanObject *plan_new(PyObject *pyplan) {
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
        int eq = PyUnicode_Check(p->checks[i].code) ?
                 PyUnicode_CompareWithASCIIString(p->checks[i].code, "LS108") == 0 : 0;
        p->checks[i].message = eq;
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

/* --- output buffer ------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

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

static inline int in_types(const Check *c, PyObject *v, unsigned bit) {
    if (c->mask & bit)
        return 1;
    if (c->mask & T_OTHER)
        return PySet_Contains(c->types, (PyObject *)Py_TYPE(v));
    return 0;
}

/* lo <= v <= hi for an int or float v, when that is sure; else 0 (the check decides) */
static inline int within(const Check *c, PyObject *v, unsigned bit) {
    double x;
    if (bit == T_FLOAT) {
        x = PyFloat_AS_DOUBLE(v);
    } else {
        int overflow = 0;
        long long i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || i > (1LL << 53) || i < -(1LL << 53))
            return 0;
        x = (double)i;
    }
    return c->lo <= x && x <= c->hi;
}

/* one check of LogLinter._problems / _run on its value: appends a problem, or not */
static int run_check(LintObject *self, const Check *c, PyObject *rec, Py_ssize_t n,
                     Founds *found) {
    PyObject *value = PyDict_GetItemWithError(rec, c->key);
    if (value == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, c->key);
        return -1;
    }
    unsigned bit = type_bit(value);
    PyObject *problem;
    if (c->kind == CHECK_RANGE) {
        if (c->bounded && (c->mask & bit) && within(c, value, bit))
            return 0;
        problem = PyObject_CallOneArg(c->check, value);
    } else {
        if (c->kind == CHECK_TYPED) {
            int in = in_types(c, value, bit);
            if (in < 0)
                return -1;
            if (in)
                return 0;
        }
        if (c->memo != NULL && (bit == T_STR || bit == T_INT)) {
            problem = PyDict_GetItemWithError(c->memo, value);
            if (problem != NULL) {
                Py_INCREF(problem);
            } else {
                if (PyErr_Occurred())
                    return -1;
                problem = PyObject_CallOneArg(c->check, value);
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
                            return -1;
                        if (t != Py_None) {
                            PyObject *ln = PyLong_FromSsize_t(n);
                            if (ln == NULL)
                                return -1;
                            PyObject *r = PyObject_CallFunctionObjArgs(self->see_message, value,
                                                                       ln, NULL);
                            Py_DECREF(ln);
                            if (r == NULL)
                                return -1;
                            Py_DECREF(r);
                        }
                    }
                    if (has_text(value))
                        return 0;
                }
                if (!self->ls108)
                    return 0;
            }
            problem = PyObject_CallOneArg(c->check, value);
        }
    }
    if (problem == NULL)
        return -1;
    if (problem == Py_None) {
        Py_DECREF(problem);
        return 0;
    }
    if (!PyUnicode_Check(problem)) {
        Py_DECREF(problem);
        PyErr_SetString(PyExc_TypeError, "a check returned neither None nor str");
        return -1;
    }
    Found f = {c->index, 0, c->code, problem, NULL, 0, c->needle, c->nlen};
    if (found_add(found, f) < 0) {
        Py_DECREF(problem);
        return -1;
    }
    return 0;
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
                               const char *line, Py_ssize_t len, Py_ssize_t off, Py_ssize_t n,
                               const char *head, size_t hlen, Founds *found, Buf *out) {
    founds_reset(found);
    for (Py_ssize_t i = 0; i < plan->nchecks; i++)
        if (run_check(self, &plan->checks[i], rec, n, found) < 0)
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
    PlanObject *p = pyplan ? plan_new(pyplan) : NULL;
    Py_XDECREF(pyplan);
    if (p != NULL && PyDict_GET_SIZE(self->plans) < self->shape_limit &&
        PyDict_SetItem(self->plans, shape, (PyObject *)p) < 0)
        Py_CLEAR(p);
    Py_DECREF(shape);
    return p;
}

static PyObject *Lint_text(LintObject *self, PyObject *args) {
    PyObject *lines, *path;
    Py_ssize_t first;
    if (!PyArg_ParseTuple(args, "O!Un", &PyList_Type, &lines, &path, &first))
        return NULL;
    Py_ssize_t plen;
    const char *pathb = NULL;
    Buf out = {NULL, 0, 0};
    Buf head = {NULL, 0, 0};
    Founds found = {NULL, 0, 0};
    Py_ssize_t count = 0;
    /* records are made and dropped line by line and hold no cycles: no collections */
    int gc_was = PyGC_Disable();
    const char *nj = PyBytes_AS_STRING(self->not_json), *nr = PyBytes_AS_STRING(self->not_record);
    Py_ssize_t njlen = PyBytes_GET_SIZE(self->not_json), nrlen = PyBytes_GET_SIZE(self->not_record);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
        PyObject *lineobj = PyList_GET_ITEM(lines, i);
        if (!PyBytes_Check(lineobj)) {
            PyErr_SetString(PyExc_TypeError, "lines must be bytes");
            goto fail;
        }
        Py_INCREF(lineobj);
        Py_ssize_t n = first + i;
        const char *line = PyBytes_AS_STRING(lineobj);
        Py_ssize_t len = PyBytes_GET_SIZE(lineobj), off = 0;
        PyObject *rec = NULL;
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
            }
        }
        if (rec == NULL) {
            /* not a record: off -1 (no JSON object) or where the invalid JSON starts */
            if (self->ls110 && (off >= 0 || has_bytes(line, len))) {
                if (pathb == NULL && (pathb = PyUnicode_AsUTF8AndSize(path, &plen)) == NULL)
                    goto fail_line;
                if (buf_put(&out, pathb, plen) < 0 || buf_put(&out, ":", 1) < 0)
                    goto fail_line;
                char num[48];
                int k = sprintf(num, "%zd:%zd", n, off >= 0 ? off + 1 : 1);
                if (buf_put(&out, num, k) < 0 ||
                    (off >= 0 ? buf_put(&out, nj, njlen) : buf_put(&out, nr, nrlen)) < 0)
                    goto fail_line;
                count++;
            }
            Py_DECREF(lineobj);
            continue;
        }
        if (!PyDict_CheckExact(rec)) { /* a JSON value that is not an object: skipped */
            Py_DECREF(rec);
            Py_DECREF(lineobj);
            continue;
        }
        PlanObject *plan = plan_for(self, rec);
        if (plan == NULL) {
            Py_DECREF(rec);
            goto fail_line;
        }
        if (pathb == NULL && (pathb = PyUnicode_AsUTF8AndSize(path, &plen)) == NULL) {
            Py_DECREF(plan);
            Py_DECREF(rec);
            goto fail_line;
        }
        head.len = 0;
        if (buf_grow(&head, plen + 32) < 0 || buf_put(&head, pathb, plen) < 0 ||
            buf_put(&head, ":", 1) < 0) {
            Py_DECREF(plan);
            Py_DECREF(rec);
            goto fail_line;
        }
        put_num(&head, n);
        if (buf_put(&head, ":", 1) < 0) {
            Py_DECREF(plan);
            Py_DECREF(rec);
            goto fail_line;
        }
        Py_ssize_t got = write_record(self, plan, rec, line, len, off, n, head.p, head.len,
                                      &found, &out);
        Py_DECREF(plan);
        Py_DECREF(rec);
        if (got < 0)
            goto fail_line;
        count += got;
        Py_DECREF(lineobj);
        continue;
    fail_line:
        Py_DECREF(lineobj);
        goto fail;
    }
    if (gc_was)
        PyGC_Enable();
    founds_reset(&found);
    PyMem_Free(found.items);
    PyMem_Free(head.p);
    PyObject *data = PyBytes_FromStringAndSize(out.p ? out.p : "", (Py_ssize_t)out.len);
    PyMem_Free(out.p);
    if (data == NULL)
        return NULL;
    return Py_BuildValue("(Nn)", data, count);
fail:
    if (gc_was)
        PyGC_Enable();
    founds_reset(&found);
    PyMem_Free(found.items);
    PyMem_Free(head.p);
    PyMem_Free(out.p);
    return NULL;
}

/* --- the object --------------------------------------------------------------------- */

#define LINT_MEMBERS(X) \
    X(plan_of) X(loads) X(decode_error) X(json_start) X(templates) X(see_message) \
    X(not_json) X(not_record) X(plans)

static int Lint_traverse(LintObject *self, visitproc visit, void *arg) {
#define VISIT(m) Py_VISIT(self->m);
    LINT_MEMBERS(VISIT)
#undef VISIT
    return 0;
}

static int Lint_clear(LintObject *self) {
#define CLEAR(m) Py_CLEAR(self->m);
    LINT_MEMBERS(CLEAR)
#undef CLEAR
    return 0;
}

static void Lint_dealloc(LintObject *self) {
    PyObject_GC_UnTrack(self);
    Lint_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Lint_init(LintObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"plan_of", "loads", "decode_error", "json_start", "templates",
                             "see_message", "not_json", "not_record", "ls108", "ls109",
                             "ls110", "shape_limit", "memo_limit", NULL};
    PyObject *a[8];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$OOOOO!OUUpppnn", kwlist, &a[0], &a[1],
                                     &a[2], &a[3], &PyDict_Type, &a[4], &a[5], &a[6], &a[7],
                                     &self->ls108, &self->ls109, &self->ls110,
                                     &self->shape_limit, &self->memo_limit))
        return -1;
    PyObject *nj = PyUnicode_FromFormat(": LS110 %U\n", a[6]);
    PyObject *nr = nj ? PyUnicode_FromFormat(": LS110 %U\n", a[7]) : NULL;
    PyObject *njb = nr ? PyUnicode_AsUTF8String(nj) : NULL;
    PyObject *nrb = njb ? PyUnicode_AsUTF8String(nr) : NULL;
    Py_XDECREF(nj);
    Py_XDECREF(nr);
    PyObject *plans = nrb ? PyDict_New() : NULL;
    if (plans == NULL) {
        Py_XDECREF(njb);
        Py_XDECREF(nrb);
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
    return 0;
}

static PyMethodDef Lint_methods[] = {
    {"text", (PyCFunction)Lint_text, METH_VARARGS,
     "text(lines: list[bytes], path: str, first: int) -> (UTF-8 text output, findings)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LintType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "logstd._lintc.Lint",
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

static struct PyModuleDef lintc_module = {
    PyModuleDef_HEAD_INIT, "logstd._lintc",
    "The text output of logstd lint on logs, in C (see logstd/_lint_logs.py: render_text).",
    -1, NULL,
};

PyMODINIT_FUNC PyInit__lintc(void) {
    if (PyType_Ready(&PlanType) < 0 || PyType_Ready(&LintType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&lintc_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Lint", (PyObject *)&LintType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
