"""logstd query --run: every SQL template run by DuckDB, answers computed independently."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from logstd._cli import main
from logstd._dictionary import load_dictionary
from logstd._query import build_query, run_sql

ROUTES = ["/orders", "/orders/{id}", "/orders/{id}/cancel"]
N = 600


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (what quantile_cont computes)."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> tuple[list[Path], list[dict[str, Any]]]:
    """Two files: JSON lines and kubectl-style output, with aliases and noise lines."""
    rng = random.Random(7)
    folder = tmp_path_factory.mktemp("logs")
    records: list[dict[str, Any]] = []
    files = [folder / "a.jsonl", folder / "kubectl.txt"]
    with files[0].open("w") as a, files[1].open("w") as k:
        for i in range(N):
            rec: dict[str, Any] = {
                "timestamp": f"2026-11-28T20:{i // 60:02d}:{i % 60:02d}.000Z",
                "level": rng.choice(["info", "info", "debug", "warning", "error", "critical"]),
                "service": rng.choice(["orders", "payments"]),
                "message": "request finished",
                "customerId": f"C-{rng.randrange(1001, 1011)}",
                "traceId": f"{rng.randrange(20):032x}",
            }
            if rng.random() < 0.8:
                rec["durationMs"] = round(rng.random() * 400, 3)
                rec["httpRoute"] = rng.choice(ROUTES)
            records.append(rec)
            line = dict(rec)
            # other producers' spellings: the view reads aliases too
            if i % 3 == 0:
                line["customer_id"] = line.pop("customerId")
            if i % 5 == 0:
                line["log.level"] = line.pop("level").upper()
            if i % 7 == 0 and "durationMs" in line:
                line["latency"] = line.pop("durationMs")
            text = json.dumps(line)
            if i % 2:
                prefix = "[pod/orders-1/app] " if i % 4 == 1 else ""
                stamp = "2026-11-28T20:00:00.000000001Z " if i % 8 == 3 else ""
                k.write(f"{prefix}{stamp}{text}\n")
                if i % 10 == 1:
                    k.write("[pod/orders-1/app] plain text between records\n")
            else:
                a.write(text + "\n")
                if i % 50 == 0:
                    a.write("Traceback (most recent call last):\n{not json either\n")
    return files, records


@pytest.fixture(scope="module")
def d():  # type: ignore[no-untyped-def]
    return load_dictionary(cache=False)


def _run(d, logs, template, args=(), **kw):  # type: ignore[no-untyped-def]
    files, _ = logs
    q = build_query(d, template, list(args), **kw)
    names, rows = run_sql(q, d, [str(f) for f in files])
    return [dict(zip(names, r, strict=True)) for r in rows]


def test_customer(d, logs) -> None:  # type: ignore[no-untyped-def]
    rows = _run(d, logs, "customer", ["C-1004"])
    want = sorted((r["timestamp"], r["service"]) for r in logs[1] if r["customerId"] == "C-1004")
    assert [(r["timestamp"], r["service"]) for r in rows] == want
    assert want


def test_trace(d, logs) -> None:  # type: ignore[no-untyped-def]
    trace = f"{3:032x}"
    rows = _run(d, logs, "trace", [trace])
    want = sorted(r["timestamp"] for r in logs[1] if r["traceId"] == trace)
    assert [r["timestamp"] for r in rows] == want
    assert want


def test_errors_for_a_service(d, logs) -> None:  # type: ignore[no-untyped-def]
    rows = _run(d, logs, "errors", service="payments")
    want = sorted((r["timestamp"] for r in logs[1] if r["service"] == "payments"
                   and r["level"] in ("error", "critical")), reverse=True)
    assert [r["timestamp"] for r in rows] == want
    assert want
    assert {r["level"] for r in rows} == {"error", "critical"}


def test_slow(d, logs) -> None:  # type: ignore[no-untyped-def]
    rows = _run(d, logs, "slow", ["ms=300"])
    want = sorted((r["durationMs"] for r in logs[1] if r.get("durationMs", 0) > 300),
                  reverse=True)
    assert [r["durationMs"] for r in rows] == want
    assert want


def test_error_rate(d, logs) -> None:  # type: ignore[no-untyped-def]
    rows = _run(d, logs, "error-rate")
    total: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    for r in logs[1]:
        total[r["service"]] += 1
        errors[r["service"]] += r["level"] in ("error", "critical", "fatal")
    assert [(r["service"], r["total"], r["errors"]) for r in rows] == [
        (s, total[s], errors[s]) for s in sorted(total)]
    for r in rows:
        assert r["error_rate"] == round(errors[r["service"]] / total[r["service"]], 4)


def test_latency(d, logs) -> None:  # type: ignore[no-untyped-def]
    rows = _run(d, logs, "latency")
    by: dict[str, list[float]] = defaultdict(list)
    for r in logs[1]:
        if "durationMs" in r:
            by[r["httpRoute"]].append(r["durationMs"])
    assert [r["httpRoute"] for r in rows] == sorted(by)
    for r in rows:
        values = by[r["httpRoute"]]
        assert r["n"] == len(values)
        for col, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            assert r[col] == pytest.approx(_quantile(values, q), rel=1e-9)


def test_filters_and_regex(d, logs) -> None:  # type: ignore[no-untyped-def]
    rows = _run(d, logs, None, ["customerId~^C-100[1-3]$", "level!=info", "durationMs<=100"])
    want = sorted(((r["timestamp"]) for r in logs[1]
                   if r["customerId"] in ("C-1001", "C-1002", "C-1003")
                   and r["level"] != "info" and r.get("durationMs", 1e9) <= 100), reverse=True)
    assert [r["timestamp"] for r in rows] == want
    assert want


def test_cli_formats(logs, capsys) -> None:  # type: ignore[no-untyped-def]
    files = [str(f) for f in logs[0]]
    assert main(["query", "error-rate", "--run", *files, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "service,total,errors,error_rate"
    assert [line.split(",")[0] for line in lines[1:]] == ["orders", "payments"]
    assert main(["query", "error-rate", "--run", *files, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(r["total"] for r in data) == N
    assert main(["query", "error-rate", "--run", *files]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["service", "total", "errors", "error_rate"]
    assert table[-1] == "(2 rows)"


def test_unreadable_file_is_named(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.log"
    assert main(["query", "errors", "--run", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such file\n"
