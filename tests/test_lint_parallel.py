"""logstd lint on logs in chunks and in forked workers: the same bytes as one process.

The reference is the finding-by-finding path (``lint_paths`` -> ``_lint_output.write``),
which the chunked text renderer and the workers must match byte for byte, message
variability (LS109) across chunk boundaries included.
"""

from __future__ import annotations

import io
import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logstd import _lint_stream
from logstd._cli import main
from logstd._dictionary import load_dictionary
from logstd._lint import LintSettings, lint_paths, lint_to, statistics
from logstd._lint_logs import LogLinter
from logstd._lint_output import write
from logstd._lint_rules import RULES, default_codes
from logstd._lint_stream import chunks, lint_fd, split_lines


@pytest.fixture(scope="module")
def d():  # type: ignore[no-untyped-def]
    return load_dictionary(cache=False)


ALL = LintSettings(codes=frozenset(c for c in RULES if c.startswith("LS1")))

# records in several producers' spellings, with problems of every log rule
_LINES = [
    '{"timestamp":"2026-11-28T20:52:45Z","level":"info","message":"m","service":"orders"}',
    '{"ts":1764363165.5,"level":"INFO","msg":"x","custId":"C-1","latency":-3}',
    '{"level":30,"time":1764363165123,"pid":7,"hostname":"h","msg":"payment requested"}',
    '{"event":"Not An Event","level":"warn","timestamp":"yesterday","httpStatus":"200"}',
    '{"@timestamp":"2026-11-28T20:52:45Z","log.level":"ERROR","message":"","password":"x"}',
    '{"timestamp":"2026-11-28T20:52:45Z","level":"info","message":"m","service":"orders",'
    '"http":{"authorization":"Bearer x"},"attempt":0,"traceId":"xyz"}',
    '[pod/orders-1/app] {"level":"debug","message":"cache miss","service":"Orders Svc"}',
    '2026-11-28T20:52:45.123Z stdout F {"level":"info","message":"cri","service":"orders"}',
    "plain text line, not JSON",
    '{"broken": ',
    "",
    "[1, 2, 3]",
    '{"message":{"nested":true},"level":"info","timestamp":"2026-11-28T20:52:45Z"}',
    '{"k\\u0065y":1,"customer_id":"C-2","status_code":404,"durationMs":"12"}',
]


def _log(rng: random.Random, n: int) -> str:
    """Lines from ``_LINES`` plus messages that vary with data, spread thin."""
    out = []
    for i in range(n):
        if rng.random() < 0.15:
            order = rng.randrange(10_000)
            out.append(json.dumps({"timestamp": "2026-11-28T20:52:45Z", "level": "info",
                                   "message": f"order {order} shipped in {i} ms",
                                   "service": "orders"}))
        else:
            out.append(rng.choice(_LINES))
    return "\n".join(out) + ("\n" if rng.random() < 0.5 else "")


def _reference(paths: list[str], d, fmt: str, sets: LintSettings) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    write(lint_paths(paths, d, sets), fmt, buf)
    return buf.getvalue()


def _streamed(paths: list[str], d, fmt: str, sets: LintSettings, jobs: int) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    lint_to(paths, d, fmt, buf, settings=sets, jobs=jobs)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_workers_write_the_same_bytes_as_one_process(d, tmp_path, monkeypatch, fmt) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_lint_stream, "CHUNK", 2048)  # dozens of chunks, many boundaries
    log = tmp_path / "app.log"
    log.write_text(_log(random.Random(7), 1500))
    ref = _reference([str(log)], d, fmt, ALL)
    assert ref.count(b"LS109") >= 1  # the cross-chunk rule really is exercised
    assert _streamed([str(log)], d, fmt, ALL, jobs=1) == ref
    assert _streamed([str(log)], d, fmt, ALL, jobs=2) == ref
    assert _streamed([str(log)], d, fmt, ALL, jobs=3) == ref


def test_message_variability_is_found_across_chunks(d, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each chunk holds a few forms only; together they pass the threshold."""
    monkeypatch.setattr(_lint_stream, "CHUNK", 300)
    rec = ('{{"timestamp":"2026-11-28T20:52:45Z","level":"info","service":"orders",'
           '"message":"retry {i} of job {i}"}}\n')
    log = tmp_path / "jobs.log"
    log.write_text("".join(rec.format(i=i) for i in range(12)))
    out = _streamed([str(log)], d, "text", ALL, jobs=2)
    assert out == (f"{log}:1:1: LS109 message varies with data (10+ forms of "
                   "'retry <*> of job <*>'): put the values in keys\n").encode()
    fd = os.open(log, os.O_RDONLY)
    try:  # and it was cut in several chunks
        assert len(list(chunks(lambda n: os.read(fd, n), 300))) > 3
    finally:
        os.close(fd)


def test_statistics_are_the_same_in_workers(d, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_lint_stream, "CHUNK", 4096)
    log = tmp_path / "app.log"
    log.write_text(_log(random.Random(3), 2000))
    one = statistics([str(log)], d, ALL, jobs=1)
    two = statistics([str(log)], d, ALL, jobs=2)
    assert one.render() == two.render()
    ref = _reference([str(log)], d, "text", ALL).decode().splitlines()
    assert one.total == len(ref)
    assert one.by_rule["LS109"] == sum(1 for line in ref if " LS109 " in line)


def test_a_failing_worker_costs_speed_not_output(d, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "app.log"
    log.write_text(_log(random.Random(11), 800))
    parent = os.getpid()

    def job(linter: LogLinter, lines: list[bytes], first: int) -> tuple[bytes, int]:
        if os.getpid() != parent and first > 200:
            raise MemoryError  # a worker dies part way through
        text, n = linter.render_text(lines, str(log), first)
        return text.encode(), n

    def run(jobs: int) -> bytes:
        linter = LogLinter(d, ALL.codes)
        parts: list[bytes] = []
        fd = os.open(log, os.O_RDONLY)
        try:
            lint_fd(fd, linter, job, lambda out, n: parts.append(out), jobs=jobs, chunk=1024)
        finally:
            os.close(fd)
        return b"".join(parts) + b"".join(
            f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n".encode()
            for f in linter.variable_findings(str(log)))

    assert run(2) == run(1) == _reference([str(log)], d, "text", ALL)


def test_chunks_are_whole_lines_numbered_from_one() -> None:
    data = b"a\nbb\n" + b"c" * 50 + b"\nd"  # a line longer than a read, no final newline
    pieces = io.BytesIO(data)
    got = list(chunks(pieces.read, 8))
    assert b"".join(c for _, c, _ in got) == data
    lines: list[bytes] = []
    for offset, chunk, first in got:
        assert data[offset:offset + len(chunk)] == chunk
        assert first == len(lines) + 1
        lines += split_lines(chunk)
    assert lines == data.split(b"\n")


def test_render_text_matches_the_findings(d) -> None:  # type: ignore[no-untyped-def]
    lines = [line.encode() for line in _LINES]
    text, n = LogLinter(d, default_codes()).render_text(lines, "x.log", 41)
    ref = "".join(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n" for f in
                  LogLinter(d, default_codes()).lint_lines(lines, "x.log", 41, final=False))
    assert text == ref
    assert n == len(ref.splitlines()) > 10


def test_stdin_is_linted_in_chunks(d, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import sys

    monkeypatch.setattr(_lint_stream, "CHUNK", 64)
    data = _log(random.Random(5), 300)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    assert main(["lint", "--select", "LS1", "--ignore", "LS110", "-"]) == 1
    out = capsys.readouterr().out
    lines = data.encode().splitlines(keepends=True)
    linter = LogLinter(d, frozenset(ALL.codes) - {"LS110"})
    ref = "".join(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n"
                  for f in linter.lint_lines(lines, "-"))
    assert out == ref


def test_jobs_must_not_be_negative(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lint", "--jobs", "-1", "."]) == 2
    assert capsys.readouterr().err == \
        "error: --jobs -1: expected 0 (auto) or a positive number\n"


def _fragments() -> st.SearchStrategy[str]:
    keys = st.sampled_from(["timestamp", "ts", "level", "lvl", "message", "msg", "service",
                            "customer_id", "durationMs", "httpStatus", "password", "zz", "k"])
    values = st.one_of(st.integers(-5, 700), st.floats(allow_nan=False, allow_infinity=False),
                       st.sampled_from(["info", "INFO", "", "orders", "Orders X",
                                        "2026-11-28T20:52:45Z", "[REDACTED]"]),
                       st.from_regex(r"job [0-9]{1,3} done", fullmatch=True),
                       st.dictionaries(st.sampled_from(["token", "a"]), st.integers(0, 3)))
    record = st.dictionaries(keys, values, max_size=6).map(json.dumps)
    prefixed = record.map(lambda r: f"[pod/x/y] {r}")
    return st.one_of(record, record, prefixed, st.sampled_from(["", "text", "{bad", "[]"]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_fragments(), max_size=80), chunk=st.integers(16, 700),
       newline=st.booleans())
def test_any_log_any_chunking_same_text(d, tmp_path, lines, chunk, newline) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "p.log"
    log.write_text("\n".join(lines) + ("\n" if newline and lines else ""))
    ref = _reference([str(log)], d, "text", ALL)
    for jobs in (1, 2):
        buf = io.BytesIO()
        old = _lint_stream.CHUNK
        _lint_stream.CHUNK = chunk
        try:
            lint_to([str(log)], d, "text", buf, settings=ALL, jobs=jobs)
        finally:
            _lint_stream.CHUNK = old
        assert buf.getvalue() == ref



def _group_ref(paths: list[str], d, sets: LintSettings) -> dict[tuple[str, str], tuple[int, str]]:  # type: ignore[no-untyped-def]
    """From the reference findings: per rule and key (message where there is no key), how
    many and the text of the first."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for f in lint_paths(paths, d, sets):
        group = (f.code, f.key if f.key is not None else f.message)
        n, first = out.get(group, (0, f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}"))
        out[group] = (n + 1, first)
    return out


@pytest.mark.parametrize("jobs", [1, 2])
def test_group_gives_each_rule_and_key_once_with_the_count(d, tmp_path, monkeypatch, jobs) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_lint_stream, "CHUNK", 2048)
    log = tmp_path / "app.log"
    log.write_text(_log(random.Random(9), 1200))
    sets = LintSettings(codes=ALL.codes - {"LS105", "LS110"})
    ref = _reference([str(log)], d, "text", sets).decode()
    buf = io.BytesIO()
    n = lint_to([str(log)], d, "text", buf, settings=sets, jobs=jobs, group=True)
    assert n == len(ref.splitlines())
    got = buf.getvalue().decode().splitlines()
    want = _group_ref([str(log)], d, sets)
    assert len(got) == len(want)
    for line in got:
        text, _, more = line.partition(" (+")
        count = 1 + int(more.rstrip(" more)").replace(",", "")) if more else 1
        assert (count, text) in want.values(), line
    firsts = [int(line.split(":")[1]) for line in got if " LS109 " not in line]
    assert firsts == sorted(firsts)


def test_group_is_text_only(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lint", "--group", "--format", "json", "."]) == 2
    assert capsys.readouterr().err == \
        "error: --group writes text: it does not combine with --format json\n"
