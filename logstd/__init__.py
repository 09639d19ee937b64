"""logstd: the logging standard -- one key dictionary, JSON in the cluster, readable locally.

    import logging, logstd
    logstd.configure(service="orders")
    log = logging.getLogger(__name__)
    logstd.bind(customerId="C-1001")
    log.info("order created", extra={"orderId": "O-1", "durationMs": 12.5})
"""

from __future__ import annotations

# Names are imported on first use (PEP 562), so that `import logstd._pretty` -- what the
# streaming CLIs need -- does not pay for logging, python-json-logger and the formatters.
# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from logstd import keys
    from logstd._configure import configure, reset
    from logstd._context import (
        add_context_provider,
        bind,
        bound,
        bound_keys,
        clear,
        remove_context_provider,
        unbind,
    )
    from logstd._context import reset as reset_bound
    from logstd._dictionary import Dictionary, KeySpec, load_dictionary
    from logstd._formatters import JsonFormatter, LocalFormatter
    from logstd._plan import current_plan
    from logstd._render import Renderer
    from logstd.errors import ConfigError, DictionaryError, LogstdError, UsageError

_WHERE = {
    "keys": ("logstd.keys", None),
    "configure": ("logstd._configure", "configure"),
    "current_plan": ("logstd._plan", "current_plan"),
    "reset": ("logstd._configure", "reset"),
    "add_context_provider": ("logstd._context", "add_context_provider"),
    "bind": ("logstd._context", "bind"),
    "bound": ("logstd._context", "bound"),
    "bound_keys": ("logstd._context", "bound_keys"),
    "clear": ("logstd._context", "clear"),
    "remove_context_provider": ("logstd._context", "remove_context_provider"),
    "unbind": ("logstd._context", "unbind"),
    "reset_bound": ("logstd._context", "reset"),
    "Dictionary": ("logstd._dictionary", "Dictionary"),
    "KeySpec": ("logstd._dictionary", "KeySpec"),
    "load_dictionary": ("logstd._dictionary", "load_dictionary"),
    "JsonFormatter": ("logstd._formatters", "JsonFormatter"),
    "LocalFormatter": ("logstd._formatters", "LocalFormatter"),
    "Renderer": ("logstd._render", "Renderer"),
    "ConfigError": ("logstd.errors", "ConfigError"),
    "DictionaryError": ("logstd.errors", "DictionaryError"),
    "LogstdError": ("logstd.errors", "LogstdError"),
    "UsageError": ("logstd.errors", "UsageError"),
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'logstd' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(where[0])
    value = module if where[1] is None else getattr(module, where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ConfigError",
    "Dictionary",
    "DictionaryError",
    "JsonFormatter",
    "KeySpec",
    "LocalFormatter",
    "LogstdError",
    "Renderer",
    "UsageError",
    "add_context_provider",
    "bind",
    "bound",
    "bound_keys",
    "clear",
    "configure",
    "current_plan",
    "keys",
    "load_dictionary",
    "remove_context_provider",
    "reset",
    "reset_bound",
    "unbind",
]
