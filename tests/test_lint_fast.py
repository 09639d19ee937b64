"""The C text path of ``logstd lint`` (logstd._speedups) prints what the Python path prints.

``LogLinter.text`` lints lines in C when ``logstd._speedups`` is built, else with
``render_text`` in Python. Both work from the same plans and checks, so these tests hold
them to the same bytes and the same message-variability state: on bench-like logs (every
producer's spellings, prefixes, plain text, stack traces), on logs that follow the
dictionary, and on random lines made of the keys, values and JSON spellings (escapes,
spacing, duplicate keys, big numbers, nesting, broken JSON) that choose the branches.
"""

from __future__ import annotations

import gc
import json
import random
import sys
import weakref
from pathlib import Path
from typing import Any

import pytest
from _compiled import compiled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logstd import load_dictionary
from logstd._lint_logs import LogLinter
from logstd._lint_rules import RULES, default_codes

DICTIONARY = load_dictionary()
BENCH = Path(__file__).resolve().parent.parent / "bench"
ALL_LOG_RULES = frozenset(c for c in RULES if c.startswith("LS1"))
CODE_SETS = [frozenset(default_codes()), ALL_LOG_RULES,
             frozenset({"LS104", "LS106", "LS107", "LS108"}), frozenset({"LS109", "LS110"}),
             ALL_LOG_RULES - {"LS108"}]


def _compiled_module() -> Any:
    return compiled("logstd._speedups", "lint uses its Python path")


def _both(codes: frozenset[str]) -> tuple[LogLinter, LogLinter]:
    _compiled_module()
    fast = LogLinter(DICTIONARY, codes)
    slow = LogLinter(DICTIONARY, codes)
    slow._compiled = None
    assert fast._compiled is not None
    return fast, slow


def _same(codes: frozenset[str], chunks: list[list[bytes]], path: str = "app.log") -> int:
    """Lint the chunks (numbered on from each other) both ways; returns the findings."""
    fast, slow = _both(codes)
    first = 1
    total = 0
    for lines in chunks:
        got = fast.text(lines, path, first)
        want = slow.text(lines, path, first)
        assert got == want
        assert fast.take_variants() == slow.take_variants()
        first += len(lines)
        total += got[1]
    return total


def _bench_lines(tmp_path: Path, n: int) -> list[bytes]:
    sys.path.insert(0, str(BENCH))
    from logdata import generate

    return generate(tmp_path / "bench.log", n).read_bytes().splitlines()


@pytest.mark.parametrize("codes", CODE_SETS, ids=lambda c: ",".join(sorted(c))[:40])
def test_bench_log_prints_the_same(tmp_path: Path, codes: frozenset[str]) -> None:
    lines = _bench_lines(tmp_path, 6000)
    found = _same(codes, [lines[:2500], lines[2500:]])
    # the bench log has findings on nearly every line (else this would test little)
    assert found > len(lines) or codes == CODE_SETS[3]


def test_a_log_that_follows_the_dictionary_prints_nothing_both_ways(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    from lint import clean_log

    lines = clean_log(tmp_path / "clean.log", 3000).read_bytes().splitlines()
    assert _same(frozenset(default_codes()), [lines]) == 0


def test_the_cli_text_job_prints_what_python_prints(tmp_path: Path) -> None:
    from logstd._lint import _render_job

    fast, slow = _both(frozenset(default_codes()))
    lines = _bench_lines(tmp_path, 500)
    job = _render_job("text", "app.log")
    assert job(fast, lines, 1) == slow.text(lines, "app.log", 1)


def test_full_caches_change_nothing(tmp_path: Path) -> None:
    lines = _bench_lines(tmp_path, 3000)
    fast, slow = _both(frozenset(default_codes()))
    fast._compiled = fast.compiled(shape_limit=1, memo_limit=1)  # plans made line by line
    assert fast.text(lines, "app.log", 1) == slow.text(lines, "app.log", 1)


def test_a_dropped_linter_is_collected(tmp_path: Path) -> None:
    """The C object and its plans hold the linter's bound methods: a cycle the collector
    must see through."""
    fast, _slow = _both(frozenset(default_codes()))
    fast.text(_bench_lines(tmp_path, 300), "app.log", 1)
    ref = weakref.ref(fast)
    del fast
    gc.collect()
    assert ref() is None


def test_message_variability_is_kept_by_python_for_both(tmp_path: Path) -> None:
    lines = [json.dumps({"timestamp": "2026-11-28T20:52:45Z", "level": "info",
                         "message": f"order {i} shipped", "service": "orders"}).encode()
             for i in range(30)]
    fast, slow = _both(frozenset(default_codes()))
    assert fast.text(lines, "a.log", 1) == slow.text(lines, "a.log", 1)
    found = list(fast.variable_findings("a.log"))
    assert [f.code for f in found] == ["LS109"]
    assert found == list(slow.variable_findings("a.log"))


# --- random lines ------------------------------------------------------------------------

KEYS = sorted({*DICTIONARY.lookup, "zz", "k", "", "custId", "password", "http", "traceId",
               "a\"b", "é", "key\\n", "message", "msg", "level", "ts", "time"})
TEXTS = st.text(max_size=10) | st.sampled_from(
    ["", " ", "\t", "info", "INFO", "warn", "debug", "orders", "Orders X", "[REDACTED]",
     "2026-11-28T20:52:45Z", "2026-11-28T20:52:45.123+02:00", "yesterday", "C-1100",
     "4bf92f3577b34da6a3ce929d0e0e4736", "xyz", "/orders/{id}", "order 12 shipped",
     "job 7 done", "line\nbreak", "tab\there", "é", "\u2028", "\x00", "\ud7ff"])
NUMBERS = (st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([0, -0.0, 200, 404, 599, 600, -1, 1764363165.5, 1e308, 2**53,
                              2**53 + 1, 2**63, 2**64, -(2**63) - 1, 0.1, 1e-7, 12.5]))
VALUES = st.recursive(st.none() | st.booleans() | NUMBERS | TEXTS,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                          st.sampled_from(["token", "a", "password", "authorization", "x"]),
                          inner, max_size=3), max_leaves=6)


@st.composite
def json_lines(draw: st.DrawFn) -> bytes:
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=4), VALUES),
                          max_size=8))
    spaced = draw(st.booleans())
    ascii_only = draw(st.booleans())
    sep, colon = (", ", ": ") if spaced else (",", ":")
    body = sep.join(f"{json.dumps(k, ensure_ascii=ascii_only)}{colon}"
                    f"{json.dumps(v, ensure_ascii=ascii_only)}" for k, v in pairs)
    line = "{" + body + "}"
    prefix = draw(st.sampled_from(["", "", "", "[pod/orders-1/app] ", "2026-11-28T20:52:45Z ",
                                   "2026-11-28T20:52:45.1Z stdout F ", "  ", "x "]))
    suffix = draw(st.sampled_from(["", "", " ", "\r", "\t", "x", "}", ",", " \r"]))
    return (prefix + line + suffix).encode("utf-8", "surrogatepass")


def _mangled(line: bytes, rng: random.Random) -> bytes:
    """The line with a byte changed, dropped or doubled (mostly broken JSON)."""
    if not line:
        return b"\xff"
    i = rng.randrange(len(line))
    op = rng.randrange(3)
    if op == 0:
        return line[:i] + bytes([rng.randrange(256)]) + line[i + 1:]
    if op == 1:
        return line[:i] + line[i + 1:]
    return line[:i] + line[i:i + 1] * 2 + line[i + 1:]


RAW = st.sampled_from([b"", b"   ", b"plain text", b"[1, 2]", b"{", b"{}", b'{"a":1,"a":2}',
                       b'{"level":"info","level":"warn"}', b'{"k\\u0065y":1}', b"\xff\xfe",
                       b'{"message":"\\ud800"}', b'{"n":1e999}', b'{"n":-0}', b'{"n":01}',
                       b'{"n":1.}', b'{"n":.5}', b'{"n":1E+2}', b'{"t":tru}', b"null",
                       b'{"a":[1,{"b":[]}]}', b'{"level":"info"} {"x":1}', b'"text"'])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(json_lines() | RAW, max_size=30), seed=st.integers(0, 2**32),
       codes=st.sampled_from(CODE_SETS), mangle=st.integers(0, 3))
def test_random_lines_print_the_same(lines: list[bytes], seed: int, codes: frozenset[str],
                                     mangle: int) -> None:
    rng = random.Random(seed)
    for _ in range(mangle):
        if lines:
            i = rng.randrange(len(lines))
            lines[i] = _mangled(lines[i], rng)
    _same(codes, [lines, list(reversed(lines))], path=rng.choice(["app.log", "-", "é/ü.log"]))


def test_lines_must_be_a_list_of_bytes() -> None:
    fast, _slow = _both(frozenset(default_codes()))
    assert fast._compiled is not None
    with pytest.raises(TypeError):
        fast._compiled.text(["{}"], "a.log", 1)  # type: ignore[list-item]
    # any iterable of lines is accepted by LogLinter.text
    assert fast.text(iter([b"{}"]), "a.log", 1) == fast.text([b"{}"], "a.log", 1)
