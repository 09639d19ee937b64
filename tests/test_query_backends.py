"""logstd query: every template for every backend (golden), parse checks, error wording."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from luqum.parser import parser as lucene_parser
from luqum.tree import UnknownOperation

from logstd._cli import main
from logstd._dictionary import load_dictionary
from logstd._query import BACKENDS, build_query, load_templates, render
from logstd.errors import UsageError

NOW = datetime(2026, 11, 28, 21, 0, 0, tzinfo=UTC)
CASES = {  # template -> arguments
    "customer": ["C-1001"], "trace": ["4bf92f3577b34da6a3ce929d0e0e4736"], "errors": [],
    "slow": ["ms=250"], "error-rate": [], "latency": [],
}
FILTERS = ["custId~^C-10", "httpStatus>=500", "level!=debug", "durationMs<=1.5"]
FILTERS_NO_RE = ["customerId=C-1001", "httpStatus>=500", "level!=debug", "durationMs<=1.5"]


@pytest.fixture(scope="module")
def d():  # type: ignore[no-untyped-def]
    return load_dictionary(cache=False)


def _walk(node, seen) -> None:  # type: ignore[no-untyped-def]
    seen.append(type(node))
    for child in node.children:
        _walk(child, seen)


def _lucene_ok(text: str) -> None:
    seen: list[type] = []
    _walk(lucene_parser.parse(text), seen)
    assert UnknownOperation not in seen, text


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("template", list(CASES))
def test_template_golden(d, golden, template: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    service = None if template == "error-rate" else "orders"
    q = build_query(d, template, CASES[template], service=service, since="1h")
    try:
        out = render(q, backend, d, now=NOW)
    except UsageError as e:
        assert template in ("error-rate", "latency")
        assert backend in ("kql", "lucene", "gcl")
        golden(f"query/{template}.{backend}.txt", f"error: {e}\n")
        return
    notes = "".join(f"# {n}\n" for n in out.notes)
    golden(f"query/{template}.{backend}.txt", out.text + "\n" + notes)
    if backend == "es":
        body = json.loads(out.text)
        assert "query" in body
    if backend == "lucene":
        _lucene_ok(out.text)
    if backend == "kql":
        lucene_parser.parse(out.text)


@pytest.mark.parametrize("backend", BACKENDS)
def test_filters_golden(d, golden, backend: str) -> None:  # type: ignore[no-untyped-def]
    filters = FILTERS_NO_RE if backend == "kql" else FILTERS
    q = build_query(d, None, filters, service="orders", since="15m")
    out = render(q, backend, d, now=NOW)
    golden(f"query/filters.{backend}.txt", out.text + "\n")
    if backend == "es":
        body = json.loads(out.text)
        assert body["query"]["bool"]["must_not"] == [{"term": {"log.level": "debug"}}]
        assert {"range": {"event.duration": {"lte": 1500000}}} in body["query"]["bool"]["filter"]
    if backend == "lucene":
        _lucene_ok(out.text)


def test_aliases_become_canonical_and_ecs_names(d) -> None:  # type: ignore[no-untyped-def]
    q = build_query(d, None, ["cust_id=C-7"])
    assert render(q, "logql", d).text == '{service=~".+"} | json | customerId="C-7"'
    assert render(q, "kql", d).text == 'labels.customer_id:"C-7"'


def test_level_comparison_expands_by_rank(d) -> None:  # type: ignore[no-untyped-def]
    q = build_query(d, None, ["level>warn"])
    assert q.filters[0].value == ("error", "critical", "fatal")
    assert render(q, "gcl", d).text == "severity>WARNING"


@pytest.mark.parametrize(("args", "message"), [
    (["customer", "custmerId=C-1"], "unknown key 'custmerId'; did you mean customerId or userId?"),
    (["custmer", "C-1"], "unknown query template 'custmer'; did you mean 'customer'?"),
    (["customer"], "template 'customer' needs customerId: logstd query customer VALUE"),
    (["durationMs>fast"], "'durationMs>fast': durationMs is a number, 'fast' is not a number"),
    (["customerId>3"], "'customerId>3': customerId is a string; > and < compare numbers "
                       "(and levels)"),
    (["level>=loud"], "'level>=loud': unknown level 'loud' (one of trace, debug, info, notice, "
                      "warning, warn, error, critical, fatal)"),
    (["customerId~(("], "'customerId~((': not a regular expression: missing ), unterminated "
                        "subpattern at position 1"),
    (["what"], "unknown query template 'what' (templates: customer, error-rate, errors, "
               "latency, slow, trace)"),
])
def test_bad_input_is_one_line(d, capsys, args, message) -> None:  # type: ignore[no-untyped-def]
    assert main(["query", *args]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_backend_limits_are_explained(d) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"^KQL has no regular expressions \(customerId~x\); "
                       "use --to lucene or --to es$"):
        render(build_query(d, None, ["customerId~x"]), "kql", d)
    with pytest.raises(UsageError, match=r"^latency is an aggregation; a Cloud Logging filter"):
        render(build_query(d, "latency", []), "gcl", d)
    with pytest.raises(UsageError, match=r"^--since '1 hour': use a number and a unit"):
        build_query(d, "errors", [], since="1 hour")


def test_overlay_templates_extend_and_are_checked(d, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    extra = tmp_path / "q.yaml"
    extra.write_text("version: 1\ntemplates:\n  payments:\n    description: Payment failures.\n"
                     "    where: ['errorCode=PAYMENT_DECLINED', 'level>=warning']\n")
    templates = load_templates([extra])
    assert set(templates) >= {"customer", "payments"}
    assert main(["query", "--templates", str(extra), "payments", "--to", "spl"]) == 0
    assert capsys.readouterr().out.startswith(
        'search errorCode="PAYMENT_DECLINED" level IN ("warning", "warn", "error", ')
    extra.write_text("templates:\n  bad:\n    where: ['custmerId=1']\n")
    assert main(["query", "--templates", str(extra), "bad"]) == 2
    assert capsys.readouterr().err == (f"error: {extra}:2: template 'bad': unknown key "
                                       "'custmerId'; did you mean customerId or userId?\n")


def test_cli_prints_query_and_notes(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["query", "customer", "C-1001", "--to", "logql"]) == 0
    out = capsys.readouterr()
    assert out.out == '{service=~".+"} | json | customerId="C-1001"\n'
    assert "# oldest first: logcli query --forward" in out.err


def test_list_templates(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["query", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["customer", "trace", "errors", "slow", "error-rate", "latency"]


def test_heavy_imports_stay_inside_run() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom logstd._cli import main\n"
            "main(['query', 'customer', 'C-1', '--to', 'sql'])\n"
            "main(['lint', '--list-rules'])\n"
            "heavy = sorted(m for m in ('duckdb', 'luqum') if m in sys.modules)\n"
            "sys.stderr.write(repr(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stderr.rstrip().endswith("[]")
