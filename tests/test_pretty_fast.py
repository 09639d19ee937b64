"""The one-pass path (Python ``Pretty.fast`` and its C twin) prints what the general path prints.

``logstd pretty`` formats the common record shapes in one pass over the keys -- in C when
``logstd._speedups`` is built, else in Python -- and hands every other shape to the general
path (``record`` then ``render``). These tests hold the three to the same bytes: on every
producer's sample, and on random records made of the keys and values that choose the
branches (head keys and their aliases, epoch and ISO times, trace ids, nested objects,
multi-line strings, odd levels).
"""

from __future__ import annotations

import string
from typing import Any

import orjson
import pytest
from _compiled import compiled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pretty_samples import SAMPLES
from test_pretty_fuzz import lines_strategy

from logstd import load_dictionary
from logstd._pretty import Pretty

DICTIONARY = load_dictionary()
RECORDS = [orjson.loads(line) for lines, _ in SAMPLES.values() for line in lines
           if line.startswith("{")]


def _compiled_module() -> Any:
    return compiled("logstd._speedups", "pretty uses its Python path")


@pytest.fixture(scope="module")
def prettys() -> dict[bool, Pretty]:
    _compiled_module()
    return {color: Pretty(DICTIONARY, color=color) for color in (False, True)}


def _check(p: Pretty, obj: dict[str, Any], source: str = "",
           prefix_time: str | None = None) -> str | None:
    compiled = p.compiled()
    assert compiled is not None
    py = p.fast(obj, source, prefix_time)
    c = compiled(obj, source, prefix_time)
    # either may leave a shape to the general path (None); what they print is its text
    rec = p.record(obj, source, prefix_time)
    general = None if rec is None else p.render(rec)
    for got in (py, c):
        assert got is None or got == general, obj
    return c


@pytest.mark.parametrize("color", [False, True])
def test_every_producer_sample_prints_the_same(prettys: dict[bool, Pretty], color: bool) -> None:
    taken = [_check(prettys[color], obj) for obj in RECORDS]
    # the one-pass path takes most of the samples (else it would test nothing)
    assert sum(t is not None for t in taken) >= len(RECORDS) // 3


aliases = sorted(DICTIONARY.lookup)
keys = st.sampled_from(["time", "ts", "timestamp", "@timestamp", "level", "lvl", "severity",
                        "msg", "message", "event", "service", "traceId", "trace_id", "spanId",
                        "span_id", "name", "v", "http", "err", "", "logging.googleapis.com/labels",
                        *aliases]) | st.text(max_size=6)
texts = st.text(max_size=12) | st.sampled_from(
    ["", "a b", "x=y", 'q"', "tab\there", "two\nlines", "C-1001", "/orders/{id}", "é", "\x7f",
     "4bf92f3577b34da6a3ce929d0e0e4736", "0xABCDEF", "projects/p/traces/ABC", "ERROR", "30",
     "2026-11-28T20:52:45.123Z", "2026-11-28T20:52:45.123456Z", "2026-11-28T20:52:45+02:00",
     "2026-11-28 20:52:45", "1764363165123"])
numbers = (st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
           | st.sampled_from([0, 30, 50, 1764363165, 1764363165.123, 1764363165123,
                              1764363165123456, 1764363165123456789, -5, 1e19, 1e25,
                              253402300800, 0.5, 2.5]))
values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(string.ascii_letters + "._", max_size=5), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(RECORDS), extra=st.dictionaries(keys, values, max_size=6),
       color=st.booleans(), drop=st.integers(0, 3),
       source=st.sampled_from(["", "pod/orders-7d9f/app"]),
       prefix_time=st.sampled_from([None, "2026-11-28T20:52:45.123456789Z",
                                    "2026-11-28T20:52:45Z", "bad"]))
def test_random_records_print_the_same(  # noqa: PLR0917 - hypothesis draws
        prettys: dict[bool, Pretty], base: dict[str, Any], extra: dict[str, Any], color: bool,
        drop: int, source: str, prefix_time: str | None) -> None:
    obj = dict(list(base.items())[drop:])
    obj.update(extra)
    _check(prettys[color], obj, source, prefix_time)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy)
def test_lines_in_c_equal_lines_in_python(prettys: dict[bool, Pretty],
                                          lines: list[bytes]) -> None:
    for p in prettys.values():
        python_only = Pretty(DICTIONARY, color=p.color)
        python_only._compiled = None
        general_only = Pretty(DICTIONARY, color=p.color)
        general_only._compiled = None
        general_only.fast_ok = False
        got = p.format_lines(lines)
        assert got == python_only.format_lines(lines)
        assert got == general_only.format_lines(lines)


def test_the_compiled_path_is_used_only_where_it_applies() -> None:
    _compiled_module()
    assert Pretty(DICTIONARY)._compiled is not None
    for kwargs in ({"level": "warn"}, {"output": "long"}, {"output": "json"},
                   {"keys": ["a"]}, {"local_time": True}, {"where": ["a=b"]}):
        assert Pretty(DICTIONARY, **kwargs)._compiled is None, kwargs


def test_freed_chunks_stay_in_the_heap_where_glibc_is_the_c_library() -> None:
    import platform

    prettyc = _compiled_module()
    assert prettyc.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
