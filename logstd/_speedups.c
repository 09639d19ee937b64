/* logstd._speedups: the module. Its parts are in _speedups_pretty.c and _speedups_lint.c
 * (see _speedups.h). Optional: where it is not built, or LOGSTD_PURE_PYTHON=1, logstd runs
 * the same paths in Python (logstd/_native.py). */
#include "_speedups.h"

int speedups_add_type(PyObject *module, PyTypeObject *type, const char *name) {
    if (PyType_Ready(type) < 0)
        return -1;
    return PyModule_AddObjectRef(module, name, (PyObject *)type);
}

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "logstd._speedups",
    "logstd's optional C paths: pretty's one-pass path (Fast) and lint's text output (Lint).",
    -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *m = PyModule_Create(&speedups_module);
    if (m == NULL)
        return NULL;
    if (speedups_pretty_add(m) < 0 || speedups_lint_add(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
