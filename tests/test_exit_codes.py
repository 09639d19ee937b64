"""One exit-code table for logstd, opsplane and loadtest: 0 ok, 1 findings or failed checks,
2 usage or bad input (``logstd.errors.EXIT_CODES``, docs/cli.md).

Each case runs the installed console script as a real process; an error is one line
``error: ...`` on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.loadtest_helpers import make_run

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ORDERS_SPEC = ROOT / "examples" / "orders" / "service.yaml"

# 60 samples every 0.5 s: 4 idle, then 56 under load (what recommend-limits accepts)
CPU = [0.9] * 4 + [round(0.01 * (i + 1), 2) for i in range(56)]
MEM = [500.0] * 4 + [40.0 + i % 3 for i in range(56)]  # steady: no leak to refuse
USERS = [0] * 4 + [5] * 56


@dataclass(frozen=True)
class Case:
    tool: str
    argv: Callable[[Path], list[str]]  # from a scratch folder holding the inputs below
    code: int
    stderr: str | None = None  # the one error line ({d}: the scratch folder), if any


def _inputs(d: Path) -> None:
    (d / "clean.log").write_text(
        '{"timestamp":"2026-01-01T00:00:00Z","level":"info","message":"m","service":"s"}\n')
    (d / "aliases.log").write_text(
        '{"timestamp":"2026-01-01T00:00:00Z","level":"info","message":"m","service":"s",'
        '"customer_id":"C-1"}\n')
    (d / "overlay.yaml").write_text("keys: [\n")
    (d / "bad-service.yaml").write_text("name: Not_A_DNS_Label\nteam: t\napp: a:b\n")
    (d / "leaky").mkdir()
    (d / "leaky" / "key.py").write_text(
        'KEY = """-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n'
        '-----END RSA PRIVATE KEY-----"""\n')
    make_run(d / "good-run", CPU, MEM, users=USERS)
    make_run(d / "short-run", [0.2] * 10, [10.0] * 10)  # too few samples: refused


CASES = {
    # logstd
    "logstd keys": Case("logstd", lambda d: ["keys"], 0),
    "logstd lint clean": Case("logstd", lambda d: ["lint", str(d / "clean.log")], 0),
    "logstd lint findings": Case("logstd", lambda d: ["lint", str(d / "aliases.log")], 1),
    "logstd query bad --since": Case(
        "logstd", lambda d: ["query", "errors", "--since", "1 hour"], 2,
        "error: --since '1 hour': use a number and a unit: 30s, 15m, 1h, 2d, 1w"),
    "logstd bad dictionary overlay": Case(
        "logstd", lambda d: ["--dictionary", str(d / "overlay.yaml"), "keys"], 2),
    # opsplane
    "opsplane spec check ok": Case("opsplane", lambda d: ["spec", "check", str(ORDERS_SPEC)], 0),
    "opsplane secrets scan findings": Case(
        "opsplane", lambda d: ["secrets", "scan", str(d / "leaky")], 1),
    "opsplane serve bad APP": Case(
        "opsplane", lambda d: ["serve", "justamodule"], 2,
        "error: APP 'justamodule' must be module:attribute (e.g. orders.app:app)"),
    "opsplane serve APP not found": Case(
        "opsplane", lambda d: ["serve", "nosuchmodule:app", "--spec", str(d / "none.yaml")], 2),
    "opsplane spec check malformed": Case(
        "opsplane", lambda d: ["spec", "check", str(d / "bad-service.yaml")], 2),
    # loadtest
    "loadtest recommend-limits ok": Case(
        "loadtest", lambda d: ["recommend-limits", str(d / "good-run")], 0),
    "loadtest recommend-limits refused": Case(
        "loadtest", lambda d: ["recommend-limits", str(d / "short-run")], 1),
    "loadtest run bad --duration": Case(
        "loadtest", lambda d: ["run", "--target", "http://127.0.0.1:1", "--pid", "1",
                               "--duration", "soon"], 2,
        "error: --duration 'soon': use seconds or a time like 45s, 2m, 1h30m"),
    "loadtest run bad --pid": Case(
        "loadtest", lambda d: ["run", "--target", "http://127.0.0.1:1", "--pid", "999999999"],
        2, "error: --pid 999999999: no such process"),
    "loadtest report missing run": Case(
        "loadtest", lambda d: ["report", str(d / "missing")], 2,
        "error: {d}/missing: no such run directory"),
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("exit-codes")
    _inputs(d)
    return d


def _run(tool: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *argv], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_exit_code_table(name: str, scratch: Path) -> None:
    case = CASES[name]
    result = _run(case.tool, case.argv(scratch), scratch)
    assert result.returncode == case.code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    if case.code == 0:
        assert errors == [], result.stderr
    elif case.code == 2:  # an error leaves as exactly one line
        assert len(errors) == 1, result.stderr
        assert result.stderr.splitlines() == errors
        if case.stderr is not None:
            assert errors[0] == case.stderr.format(d=scratch)


@pytest.mark.parametrize(("tool", "argv"), [
    ("logstd", ["lint", "--no-such-flag"]),
    ("logstd", ["no-such-command"]),
    ("opsplane", ["serve", "--port", "eighty"]),
    ("opsplane", ["spec"]),
    ("loadtest", ["run"]),  # --target is required
    ("loadtest", ["recommend-limits", "--format", "xml", "r"]),
])
def test_argparse_usage_errors_exit_2(tool: str, argv: list[str], tmp_path: Path) -> None:
    result = _run(tool, argv, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: "), result.stderr
    assert ": error: " in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    for tool in ("logstd", "opsplane", "loadtest"):
        result = _run(tool, [], tmp_path)
        assert (result.returncode, result.stderr.startswith("usage: ")) == (2, True), tool


def test_one_usage_error_and_codes_from_roles() -> None:
    import loadtest.errors
    import opsplane.errors
    from logstd.errors import EXIT_CODES, BadInputError, LogstdError, ToolError, UsageError
    from opsplane.cli._clidocs import ERROR_MODULES

    assert opsplane.errors.UsageError is UsageError is loadtest.errors.UsageError
    assert list(EXIT_CODES) == [0, 1, 2]
    seen = 0
    for name in ERROR_MODULES:
        for obj in vars(importlib.import_module(name)).values():
            if isinstance(obj, type) and issubclass(obj, ToolError) and obj.__module__ == name:
                seen += 1
                assert obj.exit_code in (1, 2), obj
                if issubclass(obj, UsageError | BadInputError):
                    assert obj.exit_code == 2, obj
    assert seen >= 25
    # a package's base says where, the role says the code
    assert issubclass(loadtest.errors.OptionError, loadtest.errors.LoadtestError)
    assert loadtest.errors.OptionError.exit_code == 2
    assert loadtest.errors.RefusedError.exit_code == loadtest.errors.LoadtestError.exit_code == 1
    assert (LogstdError.exit_code, opsplane.errors.OpsplaneError.exit_code) == (1, 1)
    assert opsplane.errors.SpecError.exit_code == 2


def test_run_main_is_where_a_tool_error_leaves(capsys: pytest.CaptureFixture[str]) -> None:
    """Any ToolError a command raises becomes its line and its code, whichever tool runs it."""
    import argparse
    import types

    from logstd import _climain
    from logstd.errors import BadInputError, ToolError, UsageError

    raised: list[ToolError] = [ToolError("it failed"), UsageError("--x 3: give 1 or 2"),
                               BadInputError("f.yaml: a: not a number")]

    def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
        p = sub.add_parser("boom")
        p.set_defaults(run=lambda args: (_ for _ in ()).throw(raised.pop(0)))

    module = types.ModuleType("tests._boom_cmd")
    module.add_parser = add_parser  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        codes = [_climain.run_main("t", "d", {"boom": module.__name__}, ["boom"])
                 for _ in range(3)]
    finally:
        del sys.modules[module.__name__]
    assert codes == [1, 2, 2]
    assert capsys.readouterr().err.splitlines() == [
        "error: it failed", "error: --x 3: give 1 or 2", "error: f.yaml: a: not a number"]


def test_docs_show_the_table() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "## Exit codes" in text
    for line in ("| 0 | ok |", "| 1 | findings or failed checks", "| 2 | usage or bad input"):
        assert line in text
