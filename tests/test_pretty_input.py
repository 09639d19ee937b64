"""logstd pretty never stops on bad input: truncated JSON, invalid UTF-8, NUL, 10 MB lines."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pretty_cli import ENV, pretty

from logstd import load_dictionary
from logstd._pretty import Pretty
from logstd._render import DIM, RESET

DICTIONARY = load_dictionary()
GOOD = b'{"timestamp":"2026-11-28T20:52:45.123Z","level":"info","message":"ok","orderId":"O-1"}'
GOOD_OUT = b"20:52:45.123 INFO   ok  orderId=O-1"

BAD = [
    b'{"level":"info","msg":"trunc',
    b'{"level":"info","msg":"\xff\xfe invalid utf-8"}',
    b"\x00\x01\x02\x89PNG binary\x00",
    b'{"msg":"nul \x00 inside"}',
    b"[1, 2, 3]",
    b'"just a string"',
    b"{}",
    b"",
    b"   ",
    b'{"level":null,"msg":null,"time":null}',
    b'{"level":{"x":1},"msg":[1,2],"time":[]}',
    b'{"msg":"\\ud800 lone surrogate escape"}',
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b'[pod/x/app] {"level":"info"',
    b"2026-11-28T20:52:45Z stdout P {\"level\":\"info\",",
    b'{"log":"not json\\n","stream":"stdout","time":"2026-11-28T20:52:45Z"}',
]


@pytest.mark.parametrize("line", BAD)
def test_bad_line_passes_through_and_the_next_line_is_shown(line: bytes) -> None:
    p = Pretty(DICTIONARY)
    out = p.format_chunk(line + b"\n" + GOOD + b"\n")
    assert out.endswith(b"\n" + GOOD_OUT + b"\n")
    first = out[: -len(GOOD_OUT) - 2]
    if p.parse(line) is None:
        assert first == line  # unchanged, byte for byte


def test_non_json_is_dimmed_in_colour() -> None:
    out = Pretty(DICTIONARY, color=True).format_chunk(b"plain \xff text\n")
    assert out == DIM.encode() + b"plain \xff text" + RESET.encode() + b"\n"


def test_bad_inputs_through_the_cli_exit_0() -> None:
    data = b"\n".join([*BAD, GOOD]) + b"\n"
    r = pretty("--color", "never", data=data)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    assert r.stdout.endswith(GOOD_OUT + b"\n")


def test_last_line_without_newline_is_shown() -> None:
    r = pretty(data=GOOD)
    assert r.stdout == GOOD_OUT + b"\n"


def _child_maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@pytest.mark.parametrize("kind", ["json", "text"])
def test_10mb_line_bounded_memory(tmp_path: Path, kind: str) -> None:
    big = (b'{"level":"info","msg":"big","blob":"' + b"x" * 10_000_000 + b'"}') if kind == "json" \
        else b"y" * 10_000_000
    path = tmp_path / "big.log"
    path.write_bytes(GOOD + b"\n" + big + b"\n" + GOOD + b"\n")
    code = ("import resource, subprocess, sys; "
            "r = subprocess.run([sys.executable, '-m', 'logstd._cli', 'pretty', '--color', "
            "'always', sys.argv[1]], stdout=subprocess.PIPE, check=True); "
            "print(len(r.stdout), r.stdout.count(b'\\n'), r.stdout[-200:].count(b'ok'), "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, env=ENV,
                       check=True, timeout=120)
    size, lines, tail_ok, maxrss_kb = map(int, r.stdout.split())
    assert lines == 3
    assert tail_ok == 1
    assert size > 10_000_000  # the long line is shown whole
    assert maxrss_kb < 64 * 1024, f"peak memory {maxrss_kb} KiB"


def test_head_closing_the_pipe_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.log"
    path.write_bytes((GOOD + b"\n") * 200_000)
    for jobs in ("1", "2"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "logstd._cli", "pretty", "-j", jobs, str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
        assert proc.wait(timeout=60) == 0
        assert first == GOOD_OUT + b"\n"
        assert err == b""


def test_ctrl_c_ends_quietly() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "logstd._cli", "pretty"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdin.write(GOOD + b"\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == GOOD_OUT + b"\n"  # running, past its imports
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert b"Traceback" not in proc.stderr.read()
    proc.stderr.close()
    proc.stdin.close()
    proc.stdout.close()


def test_parallel_output_is_byte_identical(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from logdata import generate

    path = generate(tmp_path / "mixed.log", 30_000)
    with path.open("ab") as f:  # bad lines and a long one across chunk boundaries
        f.write(b"\n".join(BAD) + b"\n" + b"z" * 5_000_000 + b"\n" + GOOD + b"\n")
    one = pretty("-j", "1", "--color", "always", str(path))
    two = pretty("-j", "2", "--color", "always", str(path))
    piped = pretty("-j", "2", "--color", "always", data=path.read_bytes())
    assert one.returncode == two.returncode == piped.returncode == 0
    assert one.stdout.count(b"\n") > 30_000
    assert two.stdout == one.stdout
    assert piped.stdout == one.stdout


def test_missing_file_is_an_error_naming_it_after_the_others(tmp_path: Path) -> None:
    good = tmp_path / "a.log"
    good.write_bytes(GOOD + b"\n")
    r = pretty(str(tmp_path / "nope.log"), str(good), str(tmp_path))
    assert r.stdout == GOOD_OUT + b"\n"
    assert r.returncode == 2  # bad input
    assert r.stderr.decode() == (f"error: cannot read {tmp_path / 'nope.log'}: no such file; "
                                 f"{tmp_path}: is a directory\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--level", "loud"], "error: --level 'loud': expected one of trace, debug, info, warn, "
                          "error, fatal\n"),
    (["--where", "novalue"], "error: --where 'novalue': expected KEY=VALUE, KEY!=VALUE or "
                             "KEY~=REGEX\n"),
    (["--where", "msg~=(["], "error: --where 'msg~=([': bad regular expression: "
                             "unterminated character set at position 1\n"),
    (["--since", "last tuesday"], "error: --since/--until: 'last tuesday' is neither an "
                                  "RFC 3339 time nor a duration like 15m\n"),
    (["--jobs", "-1"], "error: --jobs -1: expected 0 (auto) or a positive number\n"),
])
def test_usage_errors(args: list[str], message: str) -> None:
    r = pretty(*args)
    assert r.returncode == 2
    assert r.stderr.decode() == message


def test_a_killed_worker_loses_nothing() -> None:
    import os

    from logstd._pretty_io import Sink, _Item

    p = Pretty(DICTIONARY)
    chunks = [b"".join(GOOD.replace(b"O-1", f"O-{i}-{j}".encode()) + b"\n"
                       for j in range(200)) for i in range(12)]
    expected = b"".join(p.format_chunk(c) for c in chunks)
    got: list[bytes] = []
    sink = Sink(p, got.append, lambda: None, jobs=2)
    try:
        for i, chunk in enumerate(chunks):
            sink.put(_Item(chunk, True, True))
            if i == 4:
                os.kill(sink.workers[0].pid, signal.SIGKILL)
        sink.finish()
    finally:
        sink.close()
    assert sink.failed
    assert b"".join(got) == expected
