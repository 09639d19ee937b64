"""The optional C extension in tests: a missing one is a skip with a reason on a user's
machine and a failure under CI (where scripts/system-deps.sh installs the compiler).
Under LOGSTD_PURE_PYTHON=1 (the pure-Python run) the tests that compare C with Python skip:
every other test then runs the Python path alone."""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest


def compiled(module: str, fallback: str) -> Any:
    """The built extension ``module``; ``fallback`` says what runs without it."""
    if os.environ.get("LOGSTD_PURE_PYTHON", "") not in ("", "0"):
        pytest.skip(f"LOGSTD_PURE_PYTHON is set: {fallback}")
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is not built (a C compiler and Python headers are "
                        "needed: scripts/system-deps.sh installs them)")
        pytest.skip(f"{module} is not built: {fallback}")
