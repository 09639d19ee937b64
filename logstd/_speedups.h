/* logstd._speedups: logstd's one optional C extension, the shared skeleton.
 *
 * Each part is the C twin of one Python hot loop, built into the one module:
 *   _speedups_pretty.c  Fast, cri_partials, keep_freed_memory (logstd/_pretty.py: Pretty.fast)
 *   _speedups_lint.c    Lint (logstd/_lint_logs.py: LogLinter.render_text)
 * A part makes no decision of its own: it is handed the Python side's plans, caches and
 * callbacks, and its twin test holds it to the Python path's bytes (tests/test_pretty_fast.py,
 * tests/test_lint_fast.py). _speedups.c creates the module and asks each part to add itself.
 * A part stays in C only while its bench shows at least 2x over the best pure-Python path
 * (bench/pretty.py, bench/lint.py).
 */
#ifndef LOGSTD_SPEEDUPS_H
#define LOGSTD_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Each part adds its types and functions to the module: 0, or -1 with an exception set. */
int speedups_pretty_add(PyObject *module);
int speedups_lint_add(PyObject *module);

/* Ready ``type`` and add it to ``module`` under ``name``: 0, or -1 with an exception set. */
int speedups_add_type(PyObject *module, PyTypeObject *type, const char *name);

#endif
