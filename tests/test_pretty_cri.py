"""CRI partial lines (``<time> stdout P <piece>`` ... ``<time> stdout F <last piece>``), as
the kubelet writes container lines longer than 16 KiB into /var/log/pods: shown joined."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from cri_lines import cri_lines
from hypothesis import given, settings
from hypothesis import strategies as st
from pretty_cli import pretty

from logstd import load_dictionary
from logstd._pretty import Pretty
from logstd._pretty_io import Reader

P = Pretty(load_dictionary(), color=False)


def _chunk(lines: list[bytes]) -> bytes:
    return P.format_chunk(b"".join(line + b"\n" for line in lines))


def test_a_split_record_is_shown_as_the_one_record_it_was() -> None:
    record = orjson.dumps({"level": "error", "msg": "payment declined", "orderId": "O-7",
                           "detail": "x" * 40})
    whole = _chunk([b"2026-11-28T10:00:00.000000000Z stdout F " + record])
    assert b"payment declined" in whole
    assert _chunk(cri_lines(record, 4)) == whole


def test_runs_of_two_streams_interleaved_and_lines_between() -> None:
    out = _chunk([*cri_lines(b'{"level":"info","msg":"from stdout","n":1}', 2)[:1],
                  b'2026-11-28T10:00:00.5Z stderr F {"level":"warn","msg":"between"}',
                  *cri_lines(b'{"level":"error","msg":"from stderr"}', 3, b"stderr", 1)[:2],
                  b"plain text in the middle",
                  *cri_lines(b'{"level":"info","msg":"from stdout","n":1}', 2)[1:],
                  *cri_lines(b'{"level":"error","msg":"from stderr"}', 3, b"stderr", 1)[2:]])
    text = out.decode()
    assert [line.split(maxsplit=2)[1:] for line in text.splitlines()] == [
        ["INFO", "from stdout  n=1"], ["WARN", "between"], ["ERROR", "from stderr"],
        ["text", "in the middle"]]


def test_a_run_never_finished_is_shown_as_it_came() -> None:
    lines = cri_lines(b'{"msg":"cut short by a restart"}', 3)[:2]
    got = pretty("--color", "never", data=b"\n".join(lines) + b"\n")
    assert got.returncode == 0
    assert got.stdout == b"\n".join(lines) + b"\n"
    # and without a newline after the last piece
    got = pretty("--color", "never", data=b"\n".join(lines))
    assert got.stdout == b"\n".join(lines) + b"\n"


@st.composite
def _cri_log(draw: st.DrawFn) -> list[bytes]:
    lines: list[bytes] = []
    for i in range(draw(st.integers(1, 8))):
        record = orjson.dumps({"level": draw(st.sampled_from(["info", "warn", "error"])),
                               "msg": f"record {i}", "pad": "p" * draw(st.integers(0, 60))})
        kind = draw(st.sampled_from(["cri", "plain", "json", "open"]))
        if kind == "cri":
            lines += cri_lines(record, draw(st.integers(1, 5)),
                          draw(st.sampled_from([b"stdout", b"stderr"])), i)
        elif kind == "plain":
            lines.append(b"not json " + str(i).encode())
        elif kind == "json":
            lines.append(record)
        else:
            lines += cri_lines(record, 3, b"stderr", i)[:1]  # a run left open (a P line alone)
    return lines


@settings(max_examples=80, deadline=None)
@given(lines=_cri_log(), cuts=st.lists(st.integers(1, 70), min_size=1, max_size=20))
def test_any_reads_give_the_output_of_one_chunk(lines: list[bytes], cuts: list[int]) -> None:
    """However the input arrives (a live pipe: any pieces), runs are held until they end:
    the output is the one of the whole input formatted at once, no input line unread."""
    data = b"".join(line + b"\n" for line in lines)
    whole = P.format_chunk(data)
    reader = Reader(P)
    got = []
    pos = i = 0
    while pos < len(data):
        n = cuts[i % len(cuts)]
        i += 1
        got += [P.format_chunk(it.data) if it.lines else it.data
                for it in reader.feed(data[pos:pos + n])]
        pos += n
    got += [P.format_chunk(it.data) if it.lines else it.data for it in reader.close()]
    assert b"".join(got) == whole
    assert reader.lines_in == len(lines)


def test_parallel_workers_never_split_a_run(tmp_path: Path) -> None:
    """Runs across the 1 MiB chunk boundaries of a big file: two processes print what one
    does, every run joined."""
    rng = random.Random(7)
    lines: list[bytes] = []
    n = 0
    while sum(map(len, lines)) < 5_000_000:
        record = orjson.dumps({"level": "info", "msg": f"split record {n}",
                               "blob": "b" * rng.randrange(100, 3000)})
        lines += cri_lines(record, rng.randrange(1, 9), rng.choice([b"stdout", b"stderr"]), n % 60)
        n += 1
    path = tmp_path / "pod.log"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    one = pretty("-j", "1", "--color", "never", str(path))
    two = pretty("-j", "2", "--color", "never", str(path))
    assert one.returncode == two.returncode == 0
    assert two.stdout == one.stdout
    shown = one.stdout.decode().splitlines()
    assert len(shown) == n
    assert all(f"split record {i} " in line for i, line in enumerate(shown))


def test_a_run_longer_than_a_record_is_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded: a run longer than the record limit is passed on as it came."""
    monkeypatch.setattr("logstd._pretty_io.MAX_RECORD_BYTES", 200)
    lines = cri_lines(orjson.dumps({"msg": "m" * 600}), 12)
    reader = Reader(P)
    items = [it for piece in (b"".join(line + b"\n" for line in lines[:-1]), lines[-1] + b"\n")
             for it in reader.feed(piece)] + list(reader.close())
    out = b"".join(P.format_chunk(it.data) if it.lines else it.data for it in items)
    assert out.count(b"\n") == len(lines)
    assert reader.lines_in == len(lines)


@settings(max_examples=400, deadline=None)
@given(data=st.lists(st.sampled_from([b" ", b"P", b"stdout", b"stderr", b"x", b"\n", b"\xff"]),
                     max_size=14).map(b"".join))
def test_the_c_look_for_partials_answers_as_python(data: bytes) -> None:
    from _compiled import compiled

    from logstd._cri import has_cri_partials

    prettyc = compiled("logstd._speedups", "the chunks are searched in Python")
    assert prettyc.cri_partials(data) == has_cri_partials(data)
    assert prettyc.cri_partials(b"x" * 100 + data) == has_cri_partials(b"x" * 100 + data)
