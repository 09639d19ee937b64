/* logstd._jsonc: a JSON decoder for the streaming CLIs, so ``logstd pretty`` starts without
 * importing orjson (which loads dataclasses, inspect, uuid and platform: about half of the
 * command's start-up).
 *
 * ``loads(bytes | bytearray | memoryview | str)`` accepts and rejects what orjson.loads
 * does and returns equal objects (tests/test_jsonc.py holds the two together on fuzzed
 * input): strict RFC 8259 grammar; UTF-8 validated; no NaN/Infinity; lone surrogate
 * escapes rejected; integers within 64 bits stay int, larger ones become float; a number
 * that overflows a double is an error; nesting deeper than 1024 is an error; the last of
 * duplicate keys wins. Errors are ``JSONDecodeError`` (a ValueError).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_wordhash.h"

#define MAX_DEPTH 1024
#define KEY_CACHE 1024
#define KEY_CACHE_MAX_LEN 64

static PyObject *JSONDecodeError;
static PyObject *key_cache[KEY_CACHE];   /* ASCII keys without escapes, by a hash of their bytes */

typedef struct {
    const unsigned char *start, *p, *end;
    int depth;
} Parser;

static PyObject *parse_value(Parser *ps);

static PyObject *
fail(Parser *ps, const char *what)
{
    PyErr_Format(JSONDecodeError, "%s: char %zd", what, (Py_ssize_t)(ps->p - ps->start));
    return NULL;
}

static inline void
skip_ws(Parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static inline int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static const double pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static PyObject *
parse_number(Parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end, *begin = p;
    int neg = 0, is_float = 0;
    uint64_t mant = 0;       /* all significant digits, while they fit */
    int ndigits = 0;         /* digits in mant (leading zeros of the integer part skipped) */
    int frac_digits = 0;     /* digits after the point that are in mant */
    int overflow = 0;        /* more than 19 digits: mant is not exact */
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end) {
        ps->p = p;
        return fail(ps, "unexpected end of data");
    }
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) {
            ps->p = begin;
            return fail(ps, "number with leading zero is not allowed");
        }
    } else if (is_digit(*p)) {
        while (p < end && is_digit(*p)) {
            if (ndigits < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                ndigits++;
            } else {
                overflow = 1;
            }
            p++;
        }
    } else {
        ps->p = begin;
        return fail(ps, "no digit after sign");
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) {
            ps->p = p;
            return fail(ps, p >= end ? "unexpected end of data" : "invalid number");
        }
        is_float = 1;
        while (p < end && is_digit(*p)) {
            if (ndigits < 19 && !overflow) {
                if (mant != 0 || *p != '0')
                    ndigits++;
                mant = mant * 10 + (uint64_t)(*p - '0');
                frac_digits++;
            } else {
                overflow = 1;
            }
            p++;
        }
    }
    long exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !is_digit(*p)) {
            ps->p = p;
            return fail(ps, p >= end ? "unexpected end of data" : "invalid number");
        }
        is_float = 1;
        while (p < end && is_digit(*p)) {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            exp10 = -exp10;
    }
    ps->p = p;
    if (!is_float) {
        /* an integer: exact when it fits 64 bits (signed if negative), else a float */
        if (!overflow) {
            if (!neg)
                return PyLong_FromUnsignedLongLong(mant);
            if (mant <= (uint64_t)INT64_MAX)
                return PyLong_FromLongLong(-(long long)mant);
            if (mant == (uint64_t)INT64_MAX + 1)
                return PyLong_FromLongLong(INT64_MIN);
        } else if (!neg && p - begin == 20) {
            /* 20 digits: within UINT64_MAX? */
            uint64_t v = 0;
            int fits = 1;
            for (const unsigned char *q = begin; q < p; q++) {
                uint64_t d = (uint64_t)(*q - '0');
                if (v > (UINT64_MAX - d) / 10) {
                    fits = 0;
                    break;
                }
                v = v * 10 + d;
            }
            if (fits)
                return PyLong_FromUnsignedLongLong(v);
        }
    }
    /* a double: the exact fast path (mantissa and power of ten both exact, one rounding),
       else the correctly rounded conversion of the text */
    long e = exp10 - frac_digits;
    if (!overflow && mant < ((uint64_t)1 << 53) && e >= -22 && e <= 22) {
        double d = (double)mant;
        d = e < 0 ? d / pow10_exact[-e] : d * pow10_exact[e];
        return PyFloat_FromDouble(neg ? -d : d);
    }
    Py_ssize_t n = p - begin;
    char small[64];
    char *buf = n < (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc((size_t)n + 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    memcpy(buf, begin, (size_t)n);
    buf[n] = '\0';
    double d = PyOS_string_to_double(buf, NULL, NULL);
    if (buf != small)
        PyMem_Free(buf);
    if (d == -1.0 && PyErr_Occurred())
        return NULL;
    if (Py_IS_INFINITY(d)) {
        ps->p = begin;
        return fail(ps, "number is infinity when parsed as double");
    }
    return PyFloat_FromDouble(d);
}

static int
hex4(const unsigned char *p, unsigned int *out)
{
    unsigned int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned int)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static PyObject *
decode_utf8(Parser *ps, const char *s, Py_ssize_t n, const unsigned char *at)
{
    PyObject *r = PyUnicode_DecodeUTF8(s, n, "strict");
    if (r == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        ps->p = at;
        return fail(ps, "str is not valid UTF-8");
    }
    return r;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* a byte of w equals c (exact as a yes/no) */
static inline uint64_t
has_byte(uint64_t w, unsigned char c)
{
    uint64_t y = w ^ (ONES * c);
    return (y - ONES) & ~y & HIGHS;
}

/* a byte of w is below n (n <= 128; exact as a yes/no when no byte has its high bit) */
static inline uint64_t
has_byte_below(uint64_t w, unsigned char n)
{
    return (w - ONES * n) & ~w & HIGHS;
}

/* the string whose opening quote is at ps->p; is_key: try the key cache */
static PyObject *
parse_string(Parser *ps, int is_key)
{
    const unsigned char *s = ps->p + 1, *p = s, *end = ps->end;
    unsigned char high = 0;
    int escaped = 0;
    for (;;) {
        /* eight plain bytes at a time: no quote, backslash, control byte or non-ASCII */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if ((has_byte(w, '"') | has_byte(w, '\\') | has_byte_below(w, 0x20) | (w & HIGHS)) != 0)
                break;
            p += 8;
        }
        if (p >= end) {
            ps->p = p;
            return fail(ps, "unexpected end of data");
        }
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = 1;
            p += 2;
            continue;
        }
        if (c < 0x20) {
            ps->p = p;
            return fail(ps, "unexpected control character in string");
        }
        high |= c;
        p++;
    }
    Py_ssize_t n = p - s;
    ps->p = p + 1;
    if (!escaped) {
        if (high & 0x80)
            return decode_utf8(ps, (const char *)s, n, s - 1);
        if (is_key && n <= KEY_CACHE_MAX_LEN) {
            /* a word at a time (a byte at a time was a sixth of the string time) */
            uint64_t h = word_hash((const char *)s, n, 0);
            PyObject **slot = &key_cache[h & (KEY_CACHE - 1)];
            PyObject *k = *slot;
            if (k != NULL && PyUnicode_GET_LENGTH(k) == n &&
                memcmp(PyUnicode_1BYTE_DATA(k), s, (size_t)n) == 0) {
                Py_INCREF(k);
                return k;
            }
            k = PyUnicode_New(n, 127);
            if (k == NULL)
                return NULL;
            memcpy(PyUnicode_1BYTE_DATA(k), s, (size_t)n);
            (void)PyObject_Hash(k);
            Py_XSETREF(*slot, k);
            Py_INCREF(k);
            return k;
        }
        PyObject *r = PyUnicode_New(n, 127);
        if (r != NULL)
            memcpy(PyUnicode_1BYTE_DATA(r), s, (size_t)n);
        return r;
    }
    /* escapes: decode into UTF-8 (never longer than the text), then build the str */
    char small[256];
    char *buf = n <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc((size_t)n);
    if (buf == NULL)
        return PyErr_NoMemory();
    char *o = buf;
    PyObject *result = NULL;
    for (const unsigned char *q = s; q < p;) {
        unsigned char c = *q;
        if (c != '\\') {
            *o++ = (char)c;
            q++;
            continue;
        }
        unsigned char e = q[1];  /* q + 1 < p: a backslash never ends the text */
        q += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned int cp;
            if (p - q < 4 || hex4(q, &cp) < 0) {
                ps->p = q - 2;
                fail(ps, "invalid escape in string");
                goto done;
            }
            q += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                ps->p = q - 6;
                fail(ps, "invalid high surrogate in string");
                goto done;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned int lo;
                if (p - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    ps->p = q - 6;
                    fail(ps, "no low surrogate in string");
                    goto done;
                }
                q += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | (cp >> 18));
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            ps->p = q - 2;
            fail(ps, "invalid escaped sequence in string");
            goto done;
        }
    }
    result = decode_utf8(ps, buf, o - buf, s - 1);
    if (result != NULL)
        ps->p = p + 1;
done:
    if (buf != small)
        PyMem_Free(buf);
    return result;
}

static PyObject *
parse_literal(Parser *ps, const char *word, size_t n, PyObject *value)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected character, expected a JSON value");
    ps->p += n;
    return Py_NewRef(value);
}

/* after a member or element: 0 when a comma says another follows, 1 when ``close`` ends the
   container (its depth given back), -1 on an error */
static int
after_item(Parser *ps, char close)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of data");
        return -1;
    }
    if (*ps->p == ',') {
        ps->p++;
        skip_ws(ps);
        return 0;
    }
    if (*ps->p == (unsigned char)close) {
        ps->p++;
        ps->depth--;
        return 1;
    }
    fail(ps, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    return -1;
}

static PyObject *
parse_object(Parser *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, "depth limit exceeded");
    ps->p++;
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return d;
    }
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, "unexpected end of data");
            goto error;
        }
        if (*ps->p != '"') {
            fail(ps, "key must be a string");
            goto error;
        }
        PyObject *k = parse_string(ps, 1);
        if (k == NULL)
            goto error;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            Py_DECREF(k);
            fail(ps, ps->p >= ps->end ? "unexpected end of data" : "expected ':'");
            goto error;
        }
        ps->p++;
        skip_ws(ps);
        PyObject *v = parse_value(ps);
        if (v == NULL) {
            Py_DECREF(k);
            goto error;
        }
        int rc = PyDict_SetItem(d, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (rc < 0)
            goto error;
        int next = after_item(ps, '}');
        if (next < 0)
            goto error;
        if (next == 1)
            return d;
    }
error:
    Py_DECREF(d);
    return NULL;
}

static PyObject *
parse_array(Parser *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, "depth limit exceeded");
    ps->p++;
    PyObject *l = PyList_New(0);
    if (l == NULL)
        return NULL;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        ps->depth--;
        return l;
    }
    for (;;) {
        PyObject *v = parse_value(ps);
        if (v == NULL)
            goto error;
        int rc = PyList_Append(l, v);
        Py_DECREF(v);
        if (rc < 0)
            goto error;
        int next = after_item(ps, ']');
        if (next < 0)
            goto error;
        if (next == 1)
            return l;
    }
error:
    Py_DECREF(l);
    return NULL;
}

static PyObject *
parse_value(Parser *ps)
{
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of data");
    switch (*ps->p) {
    case '{':
        return parse_object(ps);
    case '[':
        return parse_array(ps);
    case '"':
        return parse_string(ps, 0);
    case 't':
        return parse_literal(ps, "true", 4, Py_True);
    case 'f':
        return parse_literal(ps, "false", 5, Py_False);
    case 'n':
        return parse_literal(ps, "null", 4, Py_None);
    default:
        if (*ps->p == '-' || is_digit(*ps->p))
            return parse_number(ps);
        return fail(ps, "unexpected character, expected a JSON value");
    }
}

static PyObject *
decode(const char *data, Py_ssize_t n)
{
    Parser ps = {(const unsigned char *)data, (const unsigned char *)data,
                 (const unsigned char *)data + n, 0};
    skip_ws(&ps);
    if (ps.p >= ps.end)
        return fail(&ps, "input data is empty");
    PyObject *v = parse_value(&ps);
    if (v == NULL)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        Py_DECREF(v);
        return fail(&ps, "unexpected content after document");
    }
    return v;
}

static PyObject *
jsonc_loads(PyObject *Py_UNUSED(module), PyObject *arg)
{
    if (PyBytes_Check(arg))
        return decode(PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg));
    if (PyUnicode_Check(arg)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
        if (s == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                return NULL;
            PyErr_Clear();
            PyErr_SetString(JSONDecodeError, "str is not valid UTF-8: surrogates not allowed");
            return NULL;
        }
        return decode(s, n);
    }
    if (PyByteArray_Check(arg) || PyMemoryView_Check(arg)) {
        Py_buffer view;
        if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
            return NULL;
        PyObject *r = decode(view.buf, view.len);
        PyBuffer_Release(&view);
        return r;
    }
    PyErr_Format(JSONDecodeError, "Input must be bytes, bytearray, memoryview, or str");
    return NULL;
}

static PyMethodDef jsonc_methods[] = {
    {"loads", jsonc_loads, METH_O,
     "loads(bytes | bytearray | memoryview | str) -> object: what orjson.loads returns"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef jsonc_module = {
    PyModuleDef_HEAD_INIT, "logstd._jsonc",
    "A JSON decoder that accepts what orjson.loads accepts, without orjson's import cost.",
    -1, jsonc_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__jsonc(void)
{
    PyObject *m = PyModule_Create(&jsonc_module);
    if (m == NULL)
        return NULL;
    JSONDecodeError = PyErr_NewExceptionWithDoc(
        "logstd._jsonc.JSONDecodeError", "The input is not one JSON document.",
        PyExc_ValueError, NULL);
    if (JSONDecodeError == NULL || PyModule_AddObjectRef(m, "JSONDecodeError", JSONDecodeError) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
