"""opsplane: the glue -- service spec, metric dictionary, runtime kit, tools.

Importing it has no side effects; submodules load what they need when used::

    import opsplane
    app = opsplane.instrument(starlette_app, "service.yaml")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsplane.runtime._api import ApiError, read_json
    from opsplane.runtime._health import CheckResult
    from opsplane.runtime._instrument import Instrumented, instrument

__all__ = ["ApiError", "CheckResult", "Instrumented", "instrument", "read_json"]

_LAZY = {
    "ApiError": "opsplane.runtime._api",
    "read_json": "opsplane.runtime._api",
    "CheckResult": "opsplane.runtime._health",
    "Instrumented": "opsplane.runtime._instrument",
    "instrument": "opsplane.runtime._instrument",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'opsplane' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
