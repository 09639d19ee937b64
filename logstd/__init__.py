"""logstd: the logging standard -- one key dictionary, JSON in the cluster, readable locally.

    import logging, logstd
    logstd.configure(service="orders")
    log = logging.getLogger(__name__)
    logstd.bind(customerId="C-1001")
    log.info("order created", extra={"orderId": "O-1", "durationMs": 12.5})
"""

from logstd import keys
from logstd._configure import configure, current_plan, reset
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
from logstd._render import Renderer
from logstd.errors import ConfigError, DictionaryError, LogstdError, UsageError

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
