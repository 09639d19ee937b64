"""logstd lint on captured logs: the corpus, prefixes, each rule's wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from logstd._dictionary import load_dictionary
from logstd._lint import LintSettings, lint_file
from logstd._lint_logs import VARIABLE_MESSAGE_MIN, LogLinter, json_start, parse_line
from logstd._lint_rules import RULES, default_codes

DATA = Path(__file__).parent / "data" / "lint" / "logs"


@pytest.fixture(scope="module")
def d():  # type: ignore[no-untyped-def]
    return load_dictionary(cache=False)


def _text(findings) -> str:  # type: ignore[no-untyped-def]
    return "".join(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n" for f in findings)


def _lint(d, text: str, codes=None):  # type: ignore[no-untyped-def]
    linter = LogLinter(d, codes or default_codes())
    return list(linter.lint_lines(text.encode().splitlines(keepends=True), "x.log"))


def test_bad_corpus_gives_exactly_the_expected_findings(d, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(DATA.parent.parent.parent.parent)
    path = "tests/data/lint/logs/bad.log"
    found = lint_file(path, d, LintSettings())
    assert _text(found) == (DATA / "bad.expected").read_text()


def test_clean_corpus_gives_none(d) -> None:  # type: ignore[no-untyped-def]
    assert lint_file(str(DATA / "clean.log"), d, LintSettings()) == []


@pytest.mark.parametrize(("line", "offset"), [
    (b'{"a":1}', 0),
    (b'[pod/orders-1/app] {"a":1}', 19),
    (b'2026-11-28T20:52:46.000000001Z {"a":1}', 31),
    (b'2026-11-28T20:52:46+01:00 {"a":1}', 26),
    (b'[pod/orders-1/app] 2026-11-28T20:52:46Z {"a":1}', 40),
    (b"plain text", -1),
    (b"[pod/x/c] plain", -1),
    (b"2026-11-28 not json", -1),
])
def test_json_start_understands_kubectl_prefixes(line: bytes, offset: int) -> None:
    assert json_start(line) == offset


def test_parse_line_never_raises() -> None:
    assert parse_line(b'{"a": 1}') == {"a": 1}
    assert parse_line(b"{broken") is None
    assert parse_line(b"[1, 2]") is None


def test_wrong_type_uses_the_dictionary_check(d) -> None:  # type: ignore[no-untyped-def]
    rec = ('{"timestamp":"2026-11-28T20:52:45Z","level":"info","message":"m",'
           '"service":"orders","httpStatus":"200","durationMs":-1}\n')
    found = _lint(d, rec)
    assert [(f.code, f.message) for f in found] == [
        ("LS103", "httpStatus: expected integer, got string '200'"),
        ("LS103", "durationMs: -1 is below the minimum 0"),
    ]


def test_unknown_key_suggests_from_aliases_and_spelling(d) -> None:  # type: ignore[no-untyped-def]
    rec = ('{"timestamp":"2026-11-28T20:52:45Z","level":"info","message":"m",'
           '"service":"orders","custmerId":"C-1","Customer-Id":"C-2"}\n')
    msgs = [f.message for f in _lint(d, rec)]
    assert msgs == ["unknown key 'custmerId'; did you mean customerId or userId?",
                    "unknown key 'Customer-Id'; did you mean customerId?"]


def test_sensitive_masked_is_fine_and_unmasked_is_reported(d) -> None:  # type: ignore[no-untyped-def]
    base = '"timestamp":"2026-11-28T20:52:45Z","level":"info","message":"m","service":"s"'
    assert _lint(d, "{" + base + ',"token":"[REDACTED]","apiKey":"[REDACTED]"}\n') == []
    found = _lint(d, "{" + base + ',"Api-Key":"k","cfg":{"db":{"password":"p"}}}\n',
                  codes={"LS105"})
    assert [(f.code, f.key, f.message) for f in found] == [
        ("LS105", "Api-Key", "sensitive key 'Api-Key' is not redacted (expected '[REDACTED]')"),
        ("LS105", "cfg", "nested sensitive key 'password' is not redacted"),
    ]


def test_variable_message_needs_enough_distinct_forms(d) -> None:  # type: ignore[no-untyped-def]
    def lines(n: int) -> str:
        return "".join('{"timestamp":"2026-11-28T20:52:45Z","level":"info","service":"s",'
                       f'"message":"charged customer C-{i} {i * 3} EUR"}}\n' for i in range(n))
    assert _lint(d, lines(VARIABLE_MESSAGE_MIN - 1)) == []
    found = _lint(d, lines(VARIABLE_MESSAGE_MIN + 5))
    assert [(f.line, f.code) for f in found] == [(1, "LS109")]
    assert "'charged customer <*> <*> EUR'" in found[0].message


def test_not_json_is_off_by_default_and_selectable(d) -> None:  # type: ignore[no-untyped-def]
    text = "plain\n{broken\n"
    assert _lint(d, text) == []
    found = _lint(d, text, codes={"LS110"})
    assert [(f.line, f.message) for f in found] == [(1, "line is not a JSON record"),
                                                    (2, "line is not valid JSON")]


def test_shape_cache_does_not_leak_values_between_lines(d) -> None:  # type: ignore[no-untyped-def]
    good = ('{"timestamp":"2026-11-28T20:52:45Z","level":"info","message":"m",'
            '"service":"orders","httpStatus":200}\n')
    bad = good.replace("200", "99")
    found = _lint(d, good + bad + good)
    assert [(f.line, f.code) for f in found] == [(2, "LS103")]


def test_every_rule_has_a_code_name_and_description() -> None:
    for code, rule in RULES.items():
        assert code == rule.code
        assert code[:3] in ("LS1", "LS2")
        assert len(code) == 5
        assert rule.description
        assert "\n" not in rule.description


def test_statistics_fast_path_counts_like_the_findings(d) -> None:  # type: ignore[no-untyped-def]
    from collections import Counter

    from logstd._lint import Statistics, statistics

    settings = LintSettings(codes=frozenset(RULES))
    slow = Statistics()
    slow.add(lint_file(str(DATA / "bad.log"), d, settings))
    fast = statistics([str(DATA / "bad.log")], d, settings)
    assert fast.by_rule == slow.by_rule
    assert fast.total == slow.total == 20
    assert fast.by_key == slow.by_key
    assert isinstance(fast.by_rule, Counter)
