"""``logstd query --run``: ``-`` reads stdin; CRI lines, partial ones joined, are read as the
records they carry (as ``logstd pretty`` and ``logstd lint`` read them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from logstd._cli import main
from tests.cri_lines import cri_lines

pytest.importorskip("duckdb")


def _record(n: int, level: str = "error", pad: int = 0) -> bytes:
    return orjson.dumps({"timestamp": f"2026-11-28T10:00:{n:02d}.000Z", "level": level,
                         "service": "orders", "message": f"boom {n}", "customerId": "C-1001",
                         "note": "x" * pad})


def _rows(out: str) -> list[dict[str, object]]:
    return list(json.loads(out))


def test_stdin_is_read(tmp_path: Path) -> None:
    data = b"\n".join([_record(1), _record(2, "info"), _record(3)]) + b"\n"
    proc = subprocess.run([sys.executable, "-m", "logstd._cli", "query", "errors", "--run", "-",
                           "--format", "json"], input=data, capture_output=True, check=False,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout.decode())
    assert sorted(r["message"] for r in rows) == ["boom 1", "boom 3"]


def test_stdin_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "errors", "--run", "-", "-"]) == 2
    assert capsys.readouterr().err == "error: --run: stdin (-) can be read once\n"


def test_cri_partial_lines_are_joined(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    big = _record(5, pad=40_000)  # over the kubelet's 16 KiB: written as pieces
    lines = [b"2026-11-28T10:00:01.000000000Z stdout F " + _record(1),
             *cri_lines(big, 4, second=5),
             b"2026-11-28T10:00:06.000000000Z stderr F " + _record(6, "info")]
    f = tmp_path / "pod.log"
    f.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["query", "errors", "--run", str(f), "--format", "json"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert sorted(r["message"] for r in rows) == ["boom 1", "boom 5"]  # the split one whole


def test_an_unfinished_run_is_not_a_record(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    pieces = cri_lines(_record(7, pad=40_000), 3)[:-1]  # the F piece never came (stdout)
    f = tmp_path / "pod.log"
    f.write_bytes(b"\n".join([*pieces, b"2026-11-28T10:00:08Z stderr F " + _record(8)]) + b"\n")
    assert main(["query", "errors", "--run", str(f), "--format", "json"]) == 0
    assert [r["message"] for r in _rows(capsys.readouterr().out)] == ["boom 8"]
