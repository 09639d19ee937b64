/* logstd._speedups, pretty's part: the one-pass path of ``logstd pretty`` in C.
 *
 * ``Fast(...)(obj)`` does what ``logstd._pretty.Pretty.fast`` does in Python -- one pass
 * over a decoded record's keys, building the human line -- for the common record shapes,
 * and returns None for every shape it leaves to the general path. It makes no decision
 * of its own about how a value is shown: key prefixes, value texts, level labels, times
 * that are not already canonical and nested objects all come from the Python callbacks
 * and caches it is built with, so the Python and C paths print the same bytes (the tests
 * compare them on every producer's sample and on fuzzed records).
 */
#include "_speedups.h"
#include <math.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* roles of head keys, as in logstd/_pretty.py */
#define ROLE_TIME 0
#define ROLE_LEVEL 1
#define ROLE_MESSAGE 2
#define ROLE_SOURCE 3
#define ROLE_TRACE 4
#define ROLE_SPAN 5

typedef struct {
    PyObject_HEAD
    PyObject *plan;          /* dict: key -> "key=" prefix (str) or role (int) */
    PyObject *values;        /* dict: str value -> its text after "key=" */
    PyObject *levels;        /* dict: level -> (label text, message prefix, message suffix) */
    PyObject *plan_of;       /* key -> plan entry (and caches it) */
    PyObject *text;          /* one-line str value -> its text (and caches it) */
    PyObject *format_value;  /* any other value -> its text */
    PyObject *dict_text;     /* (key, dict) -> "a.b=1 a.c=2", or None for the general path */
    PyObject *trace_text;    /* (role, value) -> "traceId=..." / "spanId=...", or None */
    PyObject *time_text;     /* a time value that is not canonical -> the time shown */
    PyObject *value_text;    /* a non-str level or source -> its text */
    PyObject *message_text;  /* a non-str message -> its text */
    PyObject *level_parts;   /* level -> (label text, message prefix, message suffix) */
    PyObject *time_pre, *time_post, *src_pre, *src_post;
    PyObject *prefixes;      /* dict: key -> "key=" prefix (the renderer's memo) */
    PyObject *prefix;        /* key -> "key=" prefix (and memoises it) */
    PyObject *trace_pre, *span_pre;  /* "traceId=", "spanId=" as shown */
    PyObject *service_pre;   /* "service=" as shown */
    PyObject *loads;         /* orjson.loads */
    PyObject *general;       /* line -> its output by the general path (str or None) */
    Py_ssize_t max_record;   /* longer lines go to the general path unparsed */
    PyObject *secret;        /* dict: key -> whether its value is masked, or NULL (shown) */
    PyObject *secret_of;     /* key -> that bool (and caches it) */
} FastObject;

static PyObject *S_SP, *S_SP2, *S_EMPTY;

#define FAST_MEMBERS(X) \
    X(plan) X(values) X(levels) X(plan_of) X(text) X(format_value) X(dict_text) \
    X(trace_text) X(time_text) X(value_text) X(message_text) X(level_parts) \
    X(time_pre) X(time_post) X(src_pre) X(src_post) X(prefixes) X(prefix) X(trace_pre) \
    X(span_pre) X(service_pre) X(loads) X(general)

static int Fast_traverse(FastObject *self, visitproc visit, void *arg) {
#define VISIT(m) Py_VISIT(self->m);
    FAST_MEMBERS(VISIT)
#undef VISIT
    Py_VISIT(self->secret);
    Py_VISIT(self->secret_of);
    return 0;
}

static int Fast_clear(FastObject *self) {
#define CLEAR(m) Py_CLEAR(self->m);
    FAST_MEMBERS(CLEAR)
#undef CLEAR
    Py_CLEAR(self->secret);
    Py_CLEAR(self->secret_of);
    return 0;
}

static void Fast_dealloc(FastObject *self) {
    PyObject_GC_UnTrack(self);
    Fast_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Fast_init(FastObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"plan", "values", "levels", "plan_of", "text", "format_value",
                             "dict_text", "trace_text", "time_text", "value_text",
                             "message_text", "level_parts", "time_pre", "time_post",
                             "src_pre", "src_post", "prefixes", "prefix", "trace_pre",
                             "span_pre", "service_pre", "loads", "general", "max_record",
                             "secret", "secret_of", NULL};
    PyObject *a[23];
    PyObject *secret = NULL, *secret_of = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!OOOOOOOOOUUUUO!OUUUOOn|O!O", kwlist,
                                     &PyDict_Type, &a[0], &PyDict_Type, &a[1], &PyDict_Type,
                                     &a[2], &a[3], &a[4], &a[5], &a[6], &a[7], &a[8], &a[9],
                                     &a[10], &a[11], &a[12], &a[13], &a[14], &a[15],
                                     &PyDict_Type, &a[16], &a[17], &a[18], &a[19], &a[20],
                                     &a[21], &a[22], &self->max_record,
                                     &PyDict_Type, &secret, &secret_of))
        return -1;
    if (secret != NULL && secret_of == NULL) {
        PyErr_SetString(PyExc_TypeError, "secret needs secret_of");
        return -1;
    }
    int i = 0;
#define SET(m) Py_INCREF(a[i]); Py_XSETREF(self->m, a[i]); i++;
    FAST_MEMBERS(SET)
#undef SET
    Py_XINCREF(secret);
    Py_XSETREF(self->secret, secret);
    Py_XINCREF(secret_of);
    Py_XSETREF(self->secret_of, secret_of);
    return 0;
}

/* 1 when the value of nested key k is masked (the record goes to the general path, which
 * masks it), 0 when not, -1 on error; always 0 when nothing is masked */
static int is_secret(FastObject *self, PyObject *k) {
    if (self->secret == NULL)
        return 0;
    PyObject *hit = PyDict_GetItemWithError(self->secret, k);
    if (hit != NULL)
        return hit == Py_True;
    if (PyErr_Occurred())
        return -1;
    hit = PyObject_CallOneArg(self->secret_of, k);
    if (hit == NULL)
        return -1;
    int r = PyObject_IsTrue(hit);
    Py_DECREF(hit);
    return r;
}

/* 1 when s holds a newline, 0 when not, -1 on error */
static int has_newline(PyObject *s) {
    Py_ssize_t r = PyUnicode_FindChar(s, '\n', 0, PyUnicode_GET_LENGTH(s), 1);
    if (r == -2)
        return -1;
    return r >= 0;
}

/* appends the separator (when not first) and the pieces; steals nothing */
static int append_field(PyObject *parts, PyObject *a, PyObject *b) {
    if (PyList_GET_SIZE(parts) > 0 && PyList_Append(parts, S_SP) < 0)
        return -1;
    if (PyList_Append(parts, a) < 0)
        return -1;
    if (b != NULL && PyList_Append(parts, b) < 0)
        return -1;
    return 0;
}

/* a new reference to text(v) for head values: v itself when a str, else fn(v) */
static PyObject *as_text(PyObject *v, PyObject *fn) {
    if (v == NULL)
        return Py_NewRef(S_EMPTY);
    if (PyUnicode_CheckExact(v))
        return Py_NewRef(v);
    PyObject *t = PyObject_CallOneArg(fn, v);
    if (t != NULL && !PyUnicode_Check(t)) {
        PyErr_SetString(PyExc_TypeError, "a text callback returned a non-str");
        Py_CLEAR(t);
    }
    return t;
}


static PyObject *S_DOT, *S_TRUE, *S_FALSE, *S_NULL;

/* a character a value may hold and still be shown bare after "key=" */
static int bare_char(unsigned char c) {
    return !(c <= 0x20 || c == '=' || c == '"' || c == 0x7f);
}

/* a character of a trace or span id that _trace_id leaves as it is */
static int hex_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* 1 when s is a non-empty ASCII str made only of characters ok() accepts */
static int ascii_all(PyObject *s, int (*ok)(unsigned char)) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n == 0 || !PyUnicode_IS_ASCII(s))
        return 0;
    const unsigned char *p = PyUnicode_1BYTE_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!ok(p[i]))
            return 0;
    return 1;
}

/* 1 when a str needs no quotes after "key=" (logstd._render._needs_quotes says False: not
 * empty, no space, '=', '"', control character or DEL); 0 otherwise, and then Python
 * decides (non-ASCII text included) */
static int bare_ascii(PyObject *s) { return ascii_all(s, bare_char); }

/* 1 when a str is a non-empty run of [0-9a-f]: a trace or span id _trace_id leaves alone */
static int hex_lower(PyObject *s) { return ascii_all(s, hex_char); }

/* a new reference to the text of a value after "key=" (format_value's), or NULL: with an
 * exception set on error, without one (and *general set) for a multi-line str */
static PyObject *value_text(FastObject *self, PyObject *v, int *general) {
    if (PyUnicode_CheckExact(v)) {
        PyObject *c = PyDict_GetItemWithError(self->values, v);
        if (c != NULL)
            return Py_NewRef(c);
        if (PyErr_Occurred())
            return NULL;
        if (bare_ascii(v))
            return Py_NewRef(v);
        int nl = has_newline(v);
        if (nl < 0)
            return NULL;
        if (nl) {
            *general = 1;
            return NULL;
        }
        return PyObject_CallOneArg(self->text, v);
    }
    if (PyLong_CheckExact(v) || PyFloat_CheckExact(v))
        return PyObject_Repr(v);
    if (v == Py_True)
        return Py_NewRef(S_TRUE);
    if (v == Py_False)
        return Py_NewRef(S_FALSE);
    if (v == Py_None)
        return Py_NewRef(S_NULL);
    return PyObject_CallOneArg(self->format_value, v);
}

/* the time of day shown for an epoch in ms ("HH:MM:SS.mmm", UTC), as Python's
 * _iso_from_ms(...)[11:23]; NULL without an exception when out of the plain range */
static PyObject *clock_of_ms(long long total_ms) {
    if (total_ms < 0 || total_ms >= 253402300800000LL) /* 1970 .. 9999 */
        return NULL;
    long long sec = total_ms / 1000, day = sec % 86400;
    char buf[16];
    snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", (int)(day / 3600), (int)(day / 60 % 60),
             (int)(day % 60), (int)(total_ms % 1000));
    return PyUnicode_FromStringAndSize(buf, 12);
}

/* logstd._pretty.epoch_ms for an exact int or float (s, ms, us or ns by magnitude), shown
 * as the time of day; NULL without an exception for what Python should decide */
static PyObject *clock_of_epoch(PyObject *v) {
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || x < 0 || (x == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return NULL;
        }
        if (x >= 100000000000000000LL)
            return clock_of_ms(x / 1000000);
        if (x >= 100000000000000LL)
            return clock_of_ms(x / 1000);
        if (x >= 100000000000LL)
            return clock_of_ms(x);
        return clock_of_ms(x * 1000);
    }
    double a = PyFloat_AS_DOUBLE(v), ms;
    if (!(a >= 0 && a < 1e19))
        return NULL;
    if (a >= 1e17)
        ms = nearbyint(a / 1e6);
    else if (a >= 1e14)
        ms = nearbyint(a / 1e3);
    else if (a >= 1e11)
        ms = nearbyint(a);
    else
        ms = nearbyint(a * 1000);
    return clock_of_ms((long long)ms);
}

/* 1 when s is "YYYY-MM-DDTHH:MM:SS.<digits>Z" with 3 or more digits: shown as s[11:23] */
static int canonical_time(PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n < 24 || !PyUnicode_IS_ASCII(s))
        return 0;
    const char *p = (const char *)PyUnicode_1BYTE_DATA(s);
    if (p[n - 1] != 'Z' || p[10] != 'T' || p[19] != '.')
        return 0;
    for (Py_ssize_t i = 20; i < n - 1 && n > 24; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* a new reference to "name=" as shown */
static PyObject *prefix_of(FastObject *self, PyObject *name) {
    PyObject *pre = PyDict_GetItemWithError(self->prefixes, name);
    if (pre != NULL)
        return Py_NewRef(pre);
    if (PyErr_Occurred())
        return NULL;
    return PyObject_CallOneArg(self->prefix, name);
}

/* logstd._render.flatten + the renderer's key=value texts, appended to parts:
 * 0 done, -1 error, 0 with *general set for a shape left to the general path */
static int flat(FastObject *self, PyObject *name, PyObject *v, PyObject *parts, int depth,
                int *general) {
    if (PyDict_CheckExact(v) && PyDict_GET_SIZE(v) > 0 && depth < 8) {
        Py_ssize_t pos = 0;
        PyObject *k2, *v2;
        while (PyDict_Next(v, &pos, &k2, &v2)) {
            if (!PyUnicode_CheckExact(k2)) {
                *general = 1;
                return 0;
            }
            int hidden = is_secret(self, k2);
            if (hidden != 0) {
                if (hidden > 0)
                    *general = 1;
                return hidden > 0 ? 0 : -1;
            }
            PyObject *dotted = PyUnicode_Concat(name, S_DOT);
            if (dotted == NULL)
                return -1;
            PyObject *n2 = PyUnicode_Concat(dotted, k2);
            Py_DECREF(dotted);
            if (n2 == NULL)
                return -1;
            int r = flat(self, n2, v2, parts, depth + 1, general);
            Py_DECREF(n2);
            if (r < 0 || *general)
                return r;
        }
        return 0;
    }
    PyObject *val = value_text(self, v, general);
    if (val == NULL)
        return *general ? 0 : -1;
    PyObject *pre = prefix_of(self, name);
    if (pre == NULL) {
        Py_DECREF(val);
        return -1;
    }
    int r = append_field(parts, pre, val);
    Py_DECREF(pre);
    Py_DECREF(val);
    return r;
}

/* the line of one record, or None for the general path, or NULL on error */
static PyObject *render(FastObject *self, PyObject *obj, PyObject *given_source,
                        PyObject *prefix_time) {
    int general = 0;
    PyObject *head[4] = {NULL, NULL, NULL, NULL}; /* borrowed from obj */
    PyObject *parts = PyList_New(0);
    PyObject *act_owned = NULL, *val = NULL;
    PyObject *ts = NULL, *level = NULL, *message = NULL, *source = NULL, *lparts = NULL;
    PyObject *out = NULL, *result = NULL;
    if (parts == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(obj, &pos, &k, &v)) {
        PyObject *act = PyDict_GetItemWithError(self->plan, k);
        if (act == NULL) {
            if (PyErr_Occurred())
                goto error;
            act = act_owned = PyObject_CallOneArg(self->plan_of, k);
            if (act == NULL)
                goto error;
        }
        if (PyUnicode_CheckExact(act)) {
            if (PyUnicode_CheckExact(v)) {
                val = PyDict_GetItemWithError(self->values, v);
                if (val != NULL) {
                    Py_INCREF(val);
                } else {
                    if (PyErr_Occurred())
                        goto error;
                    if (bare_ascii(v)) {
                        val = Py_NewRef(v);
                    } else {
                        int nl = has_newline(v);
                        if (nl < 0)
                            goto error;
                        if (nl)
                            goto to_general;
                        val = PyObject_CallOneArg(self->text, v);
                    }
                }
            } else if (PyDict_CheckExact(v)) {
                if (!PyUnicode_CheckExact(k) || PyUnicode_GET_LENGTH(k) == 0)
                    goto to_general;
                if (flat(self, k, v, parts, 0, &general) < 0)
                    goto error;
                if (general)
                    goto to_general;
                Py_CLEAR(act_owned);
                continue;
            } else {
                val = value_text(self, v, &general);
                if (general)
                    goto to_general;
            }
            if (val == NULL || append_field(parts, act, val) < 0)
                goto error;
            Py_CLEAR(val);
        } else if (PyLong_CheckExact(act)) {
            long role = PyLong_AsLong(act);
            if (role >= ROLE_TIME && role <= ROLE_SOURCE) {
                if (head[role] != NULL || v == Py_None ||
                    (PyUnicode_CheckExact(v) && PyUnicode_GET_LENGTH(v) == 0))
                    goto to_general;
                head[role] = v;
            } else if (role == ROLE_TRACE || role == ROLE_SPAN) {
                if (PyUnicode_CheckExact(v) && hex_lower(v)) {
                    if (role == ROLE_TRACE && PyUnicode_GET_LENGTH(v) > 8)
                        val = PyUnicode_Substring(v, 0, 8);
                    else
                        val = Py_NewRef(v);
                    if (val == NULL ||
                        append_field(parts, role == ROLE_TRACE ? self->trace_pre : self->span_pre,
                                     val) < 0)
                        goto error;
                    Py_CLEAR(val);
                    Py_CLEAR(act_owned);
                    continue;
                }
                val = PyObject_CallFunctionObjArgs(self->trace_text, act, v, NULL);
                if (val == Py_None)
                    goto to_general;
                if (val == NULL || append_field(parts, val, NULL) < 0)
                    goto error;
                Py_CLEAR(val);
            } else {
                goto to_general;
            }
        } else {
            goto to_general;
        }
        Py_CLEAR(act_owned);
    }
    /* time: a canonical "YYYY-MM-DDTHH:MM:SS.mmmZ" is cut here, anything else in Python */
    PyObject *tv = head[ROLE_TIME];
    if (tv == NULL && prefix_time != NULL && prefix_time != Py_None)
        tv = prefix_time;  /* kubectl --timestamps, docker/CRI: when the record has none */
    if (tv == NULL) {
        ts = Py_NewRef(S_EMPTY);
    } else if (PyUnicode_CheckExact(tv) && canonical_time(tv)) {
        ts = PyUnicode_Substring(tv, 11, 23);
    } else if ((PyLong_CheckExact(tv) || PyFloat_CheckExact(tv)) &&
               (ts = clock_of_epoch(tv)) != NULL) {
        /* shown as the time of day */
    } else {
        ts = PyObject_CallOneArg(self->time_text, tv);
        if (ts != NULL && !PyUnicode_CheckExact(ts)) {
            PyErr_SetString(PyExc_TypeError, "time_text returned a non-str");
            Py_CLEAR(ts);
        }
    }
    if (ts == NULL)
        goto error;
    level = as_text(head[ROLE_LEVEL], self->value_text);
    if (level == NULL)
        goto error;
    message = as_text(head[ROLE_MESSAGE], self->message_text);
    if (message == NULL)
        goto error;
    int nl = has_newline(message);
    if (nl < 0)
        goto error;
    if (nl)
        goto to_general;
    PyObject *sv = head[ROLE_SOURCE];
    if (sv != NULL && PyDict_CheckExact(sv))
        goto to_general;
    if (given_source != NULL && PyUnicode_GET_LENGTH(given_source) > 0) {
        /* the kubectl prefix names the source; the record's service becomes a field */
        source = Py_NewRef(given_source);
        if (sv != NULL) {
            int truthy = PyObject_IsTrue(sv);
            if (truthy < 0)
                goto error;
            if (truthy) {
                if (!PyUnicode_CheckExact(sv))
                    goto to_general;
                val = value_text(self, sv, &general);
                if (general)
                    goto to_general;
                if (val == NULL || PyList_Insert(parts, 0, val) < 0 ||
                    PyList_Insert(parts, 0, self->service_pre) < 0 ||
                    (PyList_GET_SIZE(parts) > 2 && PyList_Insert(parts, 2, S_SP) < 0))
                    goto error;
                Py_CLEAR(val);
            }
        }
    } else {
        source = as_text(sv, self->value_text);
        if (source == NULL)
            goto error;
    }
    lparts = PyDict_GetItemWithError(self->levels, level);
    if (lparts != NULL) {
        Py_INCREF(lparts);
    } else {
        if (PyErr_Occurred())
            goto error;
        lparts = PyObject_CallOneArg(self->level_parts, level);
        if (lparts == NULL)
            goto error;
    }
    if (!PyTuple_CheckExact(lparts) || PyTuple_GET_SIZE(lparts) != 3) {
        PyErr_SetString(PyExc_TypeError, "level_parts must give a 3-tuple");
        goto error;
    }
    out = PyList_New(0);
    if (out == NULL)
        goto error;
    if (PyUnicode_GET_LENGTH(ts) > 0) {
        if (PyList_Append(out, self->time_pre) < 0 || PyList_Append(out, ts) < 0 ||
            PyList_Append(out, self->time_post) < 0 || PyList_Append(out, S_SP) < 0)
            goto error;
    }
    if (PyList_Append(out, PyTuple_GET_ITEM(lparts, 0)) < 0)
        goto error;
    if (PyUnicode_GET_LENGTH(source) > 0) {
        if (PyList_Append(out, S_SP) < 0 || PyList_Append(out, self->src_pre) < 0 ||
            PyList_Append(out, source) < 0 || PyList_Append(out, self->src_post) < 0)
            goto error;
    }
    if (PyUnicode_GET_LENGTH(message) > 0) {
        if (PyList_Append(out, S_SP2) < 0 || PyList_Append(out, PyTuple_GET_ITEM(lparts, 1)) < 0 ||
            PyList_Append(out, message) < 0 || PyList_Append(out, PyTuple_GET_ITEM(lparts, 2)) < 0)
            goto error;
    }
    if (PyList_GET_SIZE(parts) > 0) {
        Py_ssize_t n = PyList_GET_SIZE(out);
        if (PyList_Append(out, S_SP2) < 0 || PyList_SetSlice(out, n + 1, n + 1, parts) < 0)
            goto error;
    }
    result = PyUnicode_Join(S_EMPTY, out);
    goto done;
to_general:
    result = Py_NewRef(Py_None);
    goto done;
error:
    result = NULL;
done:
    Py_XDECREF(act_owned);
    Py_XDECREF(val);
    Py_XDECREF(ts);
    Py_XDECREF(level);
    Py_XDECREF(message);
    Py_XDECREF(source);
    Py_XDECREF(lparts);
    Py_XDECREF(out);
    Py_DECREF(parts);
    return result;
}

static PyObject *Fast_call(FastObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"", "source", "prefix_time", NULL};
    PyObject *obj, *source = NULL, *prefix_time = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|UO", kwlist, &PyDict_Type, &obj, &source,
                                     &prefix_time))
        return NULL;
    return render(self, obj, source, prefix_time);
}

/* lines(list of bytes) -> list of str: every line's output, in order; a line that is not
 * a JSON object, or whose record the one-pass path leaves, goes to general(line) (None:
 * filtered out). Same contract as Pretty.format_lines. */
static PyObject *Fast_lines(FastObject *self, PyObject *lines) {
    if (!PyList_CheckExact(lines)) {
        PyErr_SetString(PyExc_TypeError, "lines() takes a list of bytes");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    PyObject *line = NULL;
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
        line = PyList_GET_ITEM(lines, i);
        PyObject *r = NULL;
        Py_INCREF(line);
        if (PyBytes_CheckExact(line) && PyBytes_GET_SIZE(line) > 0 &&
            PyBytes_AS_STRING(line)[0] == '{' && PyBytes_GET_SIZE(line) <= self->max_record) {
            PyObject *obj = PyObject_CallOneArg(self->loads, line);
            if (obj == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_ValueError))
                    goto error;
                PyErr_Clear();
            } else {
                if (PyDict_CheckExact(obj)) {
                    r = render(self, obj, NULL, NULL);
                    if (r == NULL) {
                        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
                            Py_DECREF(obj);
                            goto error;
                        }
                        PyErr_Clear();  /* the general path shows the line as it can */
                    } else if (r == Py_None) {
                        Py_CLEAR(r);
                    }
                }
                Py_DECREF(obj);
            }
        }
        if (r == NULL) {
            r = PyObject_CallOneArg(self->general, line);
            if (r == NULL)
                goto error;
        }
        if (r != Py_None && PyList_Append(out, r) < 0) {
            Py_DECREF(r);
            goto error;
        }
        Py_DECREF(r);
        Py_CLEAR(line);
    }
    return out;
error:
    Py_XDECREF(line);
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef Fast_methods[] = {
    {"lines", (PyCFunction)Fast_lines, METH_O, "lines(list[bytes]) -> list[str]"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FastType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "logstd._speedups.Fast",
    .tp_doc = PyDoc_STR("Fast(**callbacks)(record: dict) -> the human line, or None"),
    .tp_basicsize = sizeof(FastObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Fast_init,
    .tp_dealloc = (destructor)Fast_dealloc,
    .tp_traverse = (traverseproc)Fast_traverse,
    .tp_clear = (inquiry)Fast_clear,
    .tp_call = (ternaryfunc)Fast_call,
    .tp_methods = Fast_methods,
};

/* keep_freed_memory() -> bool: the C library keeps freed blocks of any size for reuse
 * (glibc: no mmap/munmap per megabyte chunk, so no page faults and zeroing for every chunk;
 * about a tenth of pretty's CPU went to the kernel that way). False where not glibc. */
static PyObject *keep_freed_memory(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(a)) {
#ifdef __GLIBC__
    int ok = mallopt(M_MMAP_THRESHOLD, 64 << 20) && mallopt(M_TRIM_THRESHOLD, 128 << 20);
    return PyBool_FromLong(ok);
#else
    Py_RETURN_FALSE;
#endif
}

/* cri_partials(bytes) -> bool: whether the bytes hold " stdout P " or " stderr P " (a CRI
 * partial line). memchr for the rare 'P' then a look around it: about four times quicker
 * than two substring searches, and every chunk of the input is looked at once. */
static PyObject *cri_partials(PyObject *Py_UNUSED(m), PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *start = view.buf, *end = start + view.len, *p = start + 8;
    int found = 0;
    while (p < end && (p = memchr(p, 'P', (size_t)(end - p))) != NULL) {
        if (p + 1 < end && p[1] == ' ' && p[-1] == ' ' && p[-8] == ' ' &&
            (memcmp(p - 7, "stdout", 6) == 0 || memcmp(p - 7, "stderr", 6) == 0)) {
            found = 1;
            break;
        }
        p++;
    }
    PyBuffer_Release(&view);
    return PyBool_FromLong(found);
}

static PyMethodDef pretty_functions[] = {
    {"keep_freed_memory", keep_freed_memory, METH_NOARGS,
     "keep_freed_memory() -> bool: large freed blocks stay in the heap for reuse (glibc)"},
    {"cri_partials", cri_partials, METH_O,
     "cri_partials(bytes) -> bool: holds ' stdout P ' or ' stderr P ' (CRI partial lines)"},
    {NULL, NULL, 0, NULL},
};

int speedups_pretty_add(PyObject *m) {
    S_SP = PyUnicode_InternFromString(" ");
    S_SP2 = PyUnicode_InternFromString("  ");
    S_EMPTY = PyUnicode_InternFromString("");
    S_DOT = PyUnicode_InternFromString(".");
    S_TRUE = PyUnicode_InternFromString("true");
    S_FALSE = PyUnicode_InternFromString("false");
    S_NULL = PyUnicode_InternFromString("null");
    if (S_SP == NULL || S_SP2 == NULL || S_EMPTY == NULL || S_DOT == NULL || S_TRUE == NULL ||
        S_FALSE == NULL || S_NULL == NULL)
        return -1;
    if (speedups_add_type(m, &FastType, "Fast") < 0)
        return -1;
    return PyModule_AddFunctions(m, pretty_functions);
}
