"""logstd lint on Python source: AST only, the corpus, inline ignores."""

from __future__ import annotations

from pathlib import Path

import pytest

from logstd._dictionary import load_dictionary
from logstd._lint import LintSettings, lint_file
from logstd._lint_source import lint_source

DATA = Path(__file__).parent / "data" / "lint" / "source"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def d():  # type: ignore[no-untyped-def]
    return load_dictionary(cache=False)


def test_bad_source_gives_exactly_the_expected_findings(d, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    found = lint_file("tests/data/lint/source/bad_service.py", d, LintSettings())
    text = "".join(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n" for f in found)
    assert text == (DATA / "bad_service.expected").read_text()


def test_clean_source_gives_none(d) -> None:  # type: ignore[no-untyped-def]
    assert lint_file(str(DATA / "clean_service.py"), d, LintSettings()) == []


def test_linted_code_is_never_imported(d, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "imported"
    src = (f"open({str(marker)!r}, 'w').write('x')\nimport logging\n"
           "logging.info('x', extra={'cust_id': 1})\n")
    found = lint_source(src, "m.py", d)
    assert [f.code for f in found] == ["LS202"]
    assert not marker.exists()


def test_inline_ignore_all_and_by_code(d) -> None:  # type: ignore[no-untyped-def]
    src = ("import logging\nlog = logging.getLogger()\n"
           "log.info(f'{x}', extra={'cust': 1})  # logstd: ignore\n"
           "log.info(f'{x}', extra={'cust': 1})  # logstd: ignore[LS201]\n"
           "log.info(f'{x}', extra={'cust': 1})  # logstd: ignore[LS201, LS203]\n")
    assert [(f.line, f.code) for f in lint_source(src, "m.py", d)] == [(4, "LS203")]


def test_syntax_error_is_one_finding(d) -> None:  # type: ignore[no-untyped-def]
    found = lint_source("def f(:\n", "broken.py", d)
    assert [(f.code, f.line) for f in found] == [("LS200", 1)]
    assert found[0].message.startswith("cannot parse: ")


def test_logger_detection_by_name_and_factory(d) -> None:  # type: ignore[no-untyped-def]
    src = ("import logging\nmine = logging.getLogger('x')\n"
           "mine.info('a', extra={'custId': 1})\n"
           "self.logger.info('a', extra={'custId': 1})\n"
           "cache.info('a', extra={'custId': 1})\n"
           "dict(custId=1)\n")
    assert [f.line for f in lint_source(src, "m.py", d)] == [3, 4]


def test_print_in_a_main_block_is_a_script_talking(d) -> None:  # type: ignore[no-untyped-def]
    src = ("def f():\n    print('x')\n\n"
           "if __name__ == '__main__':\n    print('done')\n    f()\n")
    assert [(f.line, f.code) for f in lint_source(src, "m.py", d)] == [(2, "LS204")]
