"""Whether logstd's optional C extension, ``logstd._speedups``, may be used.

The extension holds the C twins of two hot loops (pretty's one-pass path, lint's text
output); each place that can use it imports it itself and falls back to its Python twin
when it is not built. ``LOGSTD_PURE_PYTHON=1`` (any value but empty or ``0``) makes them
run the Python twins, as on a machine without a C compiler: CI runs the pretty and lint
tests that way too, so the Python path stays tested on its own.
"""

from __future__ import annotations

import os


def pure_python() -> bool:
    """True when ``LOGSTD_PURE_PYTHON`` asks for the pure-Python paths."""
    return os.environ.get("LOGSTD_PURE_PYTHON", "") not in ("", "0")
