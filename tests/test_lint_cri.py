"""logstd lint over CRI partial lines (node log files): a split record is linted whole, at
its first piece's line; no chunk or worker splits a run; line numbers stay the file's."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from cri_lines import cri_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from logstd._cri import open_run_start
from logstd._lint_stream import chunks, split_lines


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logstd._cli", "lint", *args],
                          capture_output=True, text=True, check=False, timeout=120)


def test_a_split_record_is_linted_whole_at_its_first_line(tmp_path: Path) -> None:
    record = orjson.dumps({"timestamp": "2026-11-28T10:00:00Z", "level": "info",
                           "service": "orders", "message": "paid", "cust_id": "C-1"})
    lines = [*cri_lines(record, 3)[:2], b"2026-11-28T10:00:00.5Z stderr F "
             b'{"timestamp":"2026-11-28T10:00:00Z","level":"warn","service":"orders",'
             b'"message":"between","msg":"x"}', *cri_lines(record, 3)[2:],
             *cri_lines(b'{"msg": "cut short"}', 2)[:1]]
    path = tmp_path / "pod.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    r = _lint(str(path))
    assert r.returncode == 1
    # path:line:col: CODE message
    found = [(line.split(":")[1], line.split(": ", 1)[1].split()[0])
             for line in r.stdout.splitlines()]
    assert found == [("1", "LS102"), ("3", "LS102")]
    assert "cust_id" in r.stdout.splitlines()[0]


@st.composite
def _log(draw: st.DrawFn) -> bytes:
    lines: list[bytes] = []
    for i in range(draw(st.integers(1, 10))):
        record = orjson.dumps({"msg": f"r{i}", "pad": "p" * draw(st.integers(0, 50))})
        if draw(st.booleans()):
            lines += cri_lines(record, draw(st.integers(1, 4)), draw(st.sampled_from(
                [b"stdout", b"stderr"])), i)
        else:
            lines.append(record)
    return b"".join(line + b"\n" for line in lines)


@settings(max_examples=80, deadline=None)
@given(data=_log(), size=st.integers(8, 300))
def test_chunks_never_split_a_run_and_keep_line_numbers(data: bytes, size: int) -> None:
    stream = io.BytesIO(data)
    got = list(chunks(stream.read, size))
    assert b"".join(whole for _, whole, _ in got) == data
    line = 1
    for i, (offset, whole, first) in enumerate(got):
        assert first == line
        assert data[offset:offset + len(whole)] == whole
        line += whole.count(b"\n")
        if i < len(got) - 1:
            assert open_run_start(whole) == -1  # any run in it is finished in it
        assert len(split_lines(whole)) == whole.count(b"\n") + (not whole.endswith(b"\n"))


def test_workers_lint_what_one_process_lints(tmp_path: Path) -> None:
    rng = random.Random(3)
    lines: list[bytes] = []
    n = 0
    while sum(map(len, lines)) < 10_000_000:  # runs across the 4 MiB chunks
        record = orjson.dumps({"timestamp": "2026-11-28T10:00:00Z", "level": "info",
                               "service": "orders", "msg": f"r {n}",
                               "blob": "b" * rng.randrange(100, 4000)})
        lines += cri_lines(record, rng.randrange(1, 6), rng.choice([b"stdout", b"stderr"]), n % 60)
        n += 1
    path = tmp_path / "pod.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    one, two = _lint("-j", "1", str(path)), _lint("-j", "2", str(path))
    assert one.returncode == two.returncode == 1
    assert two.stdout == one.stdout
    assert one.stdout.count("LS102 key 'msg'") == n  # every split record linted, once


def test_a_run_longer_than_the_limit_is_read_as_it_comes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("logstd._lint_stream.RUN_LIMIT", 100)
    data = b"".join(line + b"\n" for line in cri_lines(b'{"msg": "' + b"m" * 900 + b'"}', 20))
    got = list(chunks(io.BytesIO(data).read, 64))
    assert len(got) > 5  # not held to the end
    assert b"".join(whole for _, whole, _ in got) == data
