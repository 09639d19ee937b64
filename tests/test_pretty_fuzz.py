"""Fuzz: random bytes and mutated records never raise, and every input line is accounted for."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pretty_samples import SAMPLES

from logstd import load_dictionary
from logstd._pretty import Pretty
from logstd._pretty_io import Reader

DICTIONARY = load_dictionary()
PRETTY = {o: Pretty(DICTIONARY, output=o, color=o == "short")
          for o in ("short", "long", "compact", "json")}
RECORDS = [line.encode() for lines, _ in SAMPLES.values() for line in lines]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
HEAD_KEYS = ["time", "ts", "timestamp", "@timestamp", "level", "severity", "msg", "message",
             "event", "body", "attributes", "resource", "log", "service", "name", "traceId",
             "timeUnixNano", "severityNumber", "stream", "v", "err", "customer_id"]


@st.composite
def mutated_record(draw: st.DrawFn) -> bytes:
    base = orjson.loads(draw(st.sampled_from([r for r in RECORDS if r.startswith(b"{")])))
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(HEAD_KEYS) | st.text(max_size=6))
        base[key] = draw(json_values)
    line = orjson.dumps(base)
    prefix = draw(st.sampled_from([b"", b"[pod/a/b] ", b"2026-11-28T20:52:45Z ",
                                   b"2026-11-28T20:52:45.1Z stdout F "]))
    line = prefix + line
    cut = draw(st.integers(0, len(line)))
    if draw(st.booleans()):
        line = line[:cut]  # truncated
    elif draw(st.booleans()):
        line = line[:cut] + draw(st.binary(max_size=4)) + line[cut:]
    return line.replace(b"\n", b" ")


lines_strategy = st.lists(mutated_record() | st.binary(max_size=60).map(
    lambda b: b.replace(b"\n", b"")), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy)
def test_every_line_accounted_for(lines: list[bytes]) -> None:
    for output, p in PRETTY.items():
        outs = p.format_lines(lines)
        assert len(outs) == len(lines), output  # none lost, none duplicated
        for line, out in zip(lines, outs, strict=True):
            if p.parse(line) is None and output != "short":
                assert out == line.decode("utf-8", "surrogateescape")
    # json output: exactly one output line per input line, in order
    data = b"".join(line + b"\n" for line in lines)
    out = PRETTY["json"].format_chunk(data)
    assert out.count(b"\n") == len(lines)
    for line, got in zip(lines, out.split(b"\n"), strict=False):
        if PRETTY["json"].parse(line) is None:
            assert got == line


@settings(max_examples=60, deadline=None)
@given(lines=lines_strategy, cuts=st.lists(st.integers(1, 50), min_size=1, max_size=20))
def test_reading_in_any_pieces_gives_the_same_output(lines: list[bytes], cuts: list[int]) -> None:
    p = PRETTY["short"]
    data = b"".join(line + b"\n" for line in lines)
    whole = p.format_chunk(data)
    reader = Reader(p)
    got = []
    pos = 0
    i = 0
    while pos < len(data):
        n = cuts[i % len(cuts)]
        i += 1
        for item in reader.feed(data[pos:pos + n]):
            got.append(p.format_chunk(item.data) if item.lines else item.data)
        pos += n
    for item in reader.close():
        got.append(p.format_chunk(item.data) if item.lines else item.data)
    assert b"".join(got) == whole
    assert reader.lines_in == len(lines)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    for p in PRETTY.values():
        out = p.format_chunk(data if data.endswith(b"\n") else data + b"\n")
        assert out.count(b"\n") >= data.count(b"\n")
