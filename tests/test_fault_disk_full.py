"""Fault: a full disk under the generators' output folders (a 12 KiB tmpfs). Each command ends
with one line saying what could not be written, and leaves no file behind: no half-written
file, and no set of files of which some are new and some missing (opsplane.atomic's
all-or-nothing write_files)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.loadtest_helpers import make_run

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "examples" / "orders" / "service.yaml"


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 KiB tmpfs: the generated files do not fit. Needs root (mount)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the disk-full test mounts a tmpfs: run it as root")
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if not p.is_dir())


def _tools() -> dict[str, Callable[[list[str]], int]]:
    from loadtest._cli import main as loadtest_main
    from opsplane.cli.main import main as opsplane_main

    return {"opsplane": opsplane_main, "loadtest": loadtest_main}


CASES = {
    "generate dashboards": ("opsplane", lambda d, out: ["generate", "dashboards", str(ORDERS),
                                                        "-o", str(out / "dashboards")]),
    "generate alerts": ("opsplane", lambda d, out: ["generate", "alerts", str(ORDERS),
                                                    "-o", str(out / "alerts")]),
    "chart values": ("opsplane", lambda d, out: ["chart", "values", "--spec", str(ORDERS),
                                                 "-o", str(out / "values.yaml")]),
    "init": ("opsplane", lambda d, out: ["init", "invoices", "--dir", str(out / "invoices")]),
    "recommend-limits -o": ("loadtest", lambda d, out: [
        "recommend-limits", str(make_run(d / "run", [0.2] * 60, [80.0] * 60, users=[5] * 60)),
        "-o", str(out / "values-resources.yaml")]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_full_disk_is_one_line_and_nothing_written(
        name: str, full_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool, argv = CASES[name]
    small = name in ("recommend-limits -o", "chart values")
    if small:  # fill the disk: a values file of a few hundred bytes would fit in 12 KiB
        (full_disk / "filler").write_bytes(b"x" * 12 * 1024)
    code = _tools()[tool](argv(tmp_path, full_disk))
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert "No space left on device" in err
    assert _files(full_disk) == (["filler"] if small else [])


@pytest.mark.slow
def test_loadtest_run_on_a_full_disk_is_one_line_and_no_valid_run(
        full_disk: Path, tmp_path: Path) -> None:
    import sys

    from loadtest.analysis import load_run
    from loadtest.errors import RunDirError
    from tests._service_procs import Service

    app = Service("orders_like:app", ROOT / "tests" / "apps", tmp_path)
    run_dir = full_disk / "run"
    try:
        app.start()
        assert app.proc is not None
        r = subprocess.run(
            [sys.executable, "-m", "loadtest._cli", "run", "--profile", "read", "--users", "2",
             "--spawn-rate", "2", "--duration", "3s", "--target", app.url, "--pid",
             str(app.proc.pid), "--out", str(run_dir)],
            capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path)
    finally:
        app.stop()
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert "No space left on device" in last
    assert not (run_dir / "metadata.json").exists()
    with pytest.raises(RunDirError, match=r"no metadata\.json"):
        load_run(run_dir)  # never taken for a finished run
