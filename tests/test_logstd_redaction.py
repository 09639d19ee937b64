"""Property: no sensitive value ever reaches any output, at any depth, whatever the spelling."""

from __future__ import annotations

import io
import logging
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logstd
from logstd._dictionary import load_dictionary
from logstd._formatters import JsonFormatter, LocalFormatter
from logstd._plan import KeyPlan

DICT = load_dictionary()
PLAN = KeyPlan(DICT)
SENSITIVE_SPELLINGS = sorted(
    s for spec in DICT.keys.values() if spec.sensitive for s in (spec.name, *spec.aliases))


def _variants(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.upper(), name.lower(), name.replace("_", "-"),
                            name.title().replace("_", "")])


sensitive_key = st.sampled_from(SENSITIVE_SPELLINGS).flatmap(_variants)
plain_key = st.sampled_from(["note", "orderId", "customer_id", "http", "items", "meta", "x"])
# secrets are drawn from an alphabet the plain values never use, so a hit is a leak
secret = st.text(alphabet="QZJXKV", min_size=6, max_size=12).map(lambda s: f"S3CR3T{s}")
plain_value = st.one_of(st.integers(-5, 5), st.text(alphabet="abc ", max_size=5), st.none())


def tree(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return plain_value
    child = tree(depth - 1)
    node = st.dictionaries(
        st.one_of(plain_key, sensitive_key), st.one_of(child, secret), max_size=4)
    return st.one_of(plain_value, node, st.lists(node, max_size=3), st.tuples(node, child))


def _collect_secrets(value: Any, under_sensitive: bool, acc: list[str],
                     shown: list[str]) -> None:
    """Secrets under a sensitive key go to ``acc``; strings free to be shown to ``shown``."""
    if isinstance(value, str):
        if under_sensitive and value.startswith("S3CR3T"):
            acc.append(value)
        elif not under_sensitive:
            shown.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _collect_secrets(v, under_sensitive or DICT.sensitivity(k) is not None, acc,
                             shown)
    elif isinstance(value, list | tuple):
        for v in value:
            _collect_secrets(v, under_sensitive, acc, shown)


def _record(extra: dict[str, Any]) -> logging.LogRecord:
    return logging.getLogger("p").makeRecord("p", logging.INFO, "f", 1, "m", None, None,
                                             extra=extra)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.one_of(plain_key, sensitive_key),
                       st.one_of(secret, tree(3)), min_size=1, max_size=6))
def test_no_sensitive_value_in_json_or_local_output(extra: dict[str, Any]) -> None:
    secrets: list[str] = []
    shown: list[str] = []
    _collect_secrets(extra, False, secrets, shown)
    # the same string may also sit under a plain key (hypothesis finds that): it may show there
    secrets = [s for s in secrets if not any(s in free for free in shown)]
    rec = _record(extra)
    outputs = [JsonFormatter(PLAN, "svc").format(rec),
               LocalFormatter(PLAN, "svc", color=False).format(rec)]
    for out in outputs:
        assert not [s for s in secrets if s in out], out


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(sensitive_key, st.one_of(secret, tree(2)), min_size=1, max_size=4))
def test_bound_sensitive_values_are_redacted(keys: dict[str, Any]) -> None:
    secrets: list[str] = []
    _collect_secrets(keys, True, secrets, [])
    buf = io.StringIO()
    logstd.configure(service="svc", mode="json", stream=buf)
    with logstd.bound_keys(**keys):
        logging.getLogger("p").info("m")
    assert not [s for s in secrets if s in buf.getvalue()], buf.getvalue()
    logstd.reset()
