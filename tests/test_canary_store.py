"""The canary's registry, store (SQLite and a real PostgreSQL), Slack signatures and
schedule, in process."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from opsplane.canary import RegistryError, Store, parse_registry
from opsplane.canary.scheduler import Canary
from opsplane.canary.slack import Verifier, signature
from opsplane.canary.store import ResultRecord, RunRecord
from opsplane.cli.main import main
from opsplane.runtime.lifecycle import State


def _run(i: int, outcome: str = "passed", *, age: float = 0.0, env: str = "prod") -> RunRecord:
    results = (ResultRecord(0, 1, "readiness", "GET", "http://o/healthz/readiness", 200, 3.5,
                            "passed"),
               ResultRecord(1, 1, "order", "GET", "http://o/orders/1?key=***",
                            None if outcome == "timeout" else 404, 12.0,
                            "passed" if outcome == "passed" else "failed",
                            "" if outcome == "passed" else "status: expected 200, got 404"))
    return RunRecord(f"run-{i}", "orders", env, "smoke", "schedule", 1000.0 + i,
                     time.time() - age + i, 0.25, 0.01, outcome, 2 if outcome == "passed"
                     else 1, 0 if outcome == "passed" else 1, "" if outcome == "passed"
                     else "order: status: expected 200, got 404", results)


def _exercise(store: Store) -> None:
    store.write([_run(1), _run(2, "failed"), _run(3, "passed", env="staging"),
                 _run(4, "failed", age=3 * 86400)])
    assert store.count() == (4, 8)
    newest = store.history("orders", "prod")
    assert [r.id for r in newest] == ["run-2", "run-1", "run-4"]
    assert [r.id for r in store.history(environment="staging")] == ["run-3"]
    assert store.history(limit=1)[0].id == "run-3"
    full = store.run("run-2")
    assert full is not None
    assert full.outcome == "failed"
    assert [(r.name, r.status, r.outcome) for r in full.results] == [
        ("readiness", 200, "passed"), ("order", 404, "failed")]
    assert full.results[1].detail == "status: expected 200, got 404"
    assert full == _run(2, "failed").__class__(**{**full.summary(), "results": full.results})
    assert store.run("nope") is None
    assert store.prune(time.time() - 86400) == 1  # retention: the 3-day-old run goes
    assert store.count() == (3, 6)
    assert store.run("run-4") is None


def test_sqlite_store(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'sub' / 'c.db'}")
    try:
        _exercise(store)
    finally:
        store.close()


def test_postgresql_store(pg_url: str) -> None:
    store = Store.open(pg_url)
    try:
        assert type(store).__name__ == "PostgresStore"
        _exercise(store)
        store.setup()  # idempotent: a restart keeps the runs
        assert store.count() == (3, 6)
    finally:
        store.close()


def test_unreachable_postgresql_is_one_line_without_the_password() -> None:
    from opsplane.testing.procs import free_port

    with pytest.raises(RegistryError) as e:
        Store.open(f"postgresql://canary:hunter2@127.0.0.1:{free_port()}/canary")
    msg = str(e.value)
    assert msg.startswith("store postgresql://canary:***@127.0.0.1:")
    assert "hunter2" not in msg
    assert "\n" not in msg


@pytest.mark.parametrize(("text", "message"), [
    ("version: 1\ntargets:\n  - service: orders\n    environment: prod\n"
     "    baseUrl: http://o\n    colections: [a]\n",
     "canary.yaml:6: targets[0].colections: unknown field (did you mean collections?)"),
    ("version: 1\ntargets:\n  - service: orders\n    environment: prod\n"
     "    baseUrl: http://o\n    collections: [a]\n    interval: soon\n",
     "canary.yaml:7: targets[0].interval: 'soon' is not a duration (e.g. 30s, 500ms, 2m, 14d)"),
    ("version: 1\ntargets:\n  - service: orders\n    environment: prod\n"
     "    baseUrl: http://o\n    collections: [a]\n    credentials: {token: hunter2}\n",
     "canary.yaml:7: targets[0].credentials.token: a credential is never written inline; "
     "give {file: PATH}"),
    ("version: 1\nstore: {url: 'postgresql://u:hunter2@db/canary'}\n",
     "canary.yaml:2: store: url carries a password; put the URL in a file and give urlFile "
     "instead"),
    ("version: 1\ntargets:\n  - {service: orders, environment: prod, baseUrl: 'http://o', "
     "collections: [a]}\n  - {service: orders, environment: prod, baseUrl: 'http://o', "
     "collections: [b]}\n",
     "canary.yaml:2: targets: target orders/prod is listed twice"),
    ("version: 1\ntargets: [\n", "canary.yaml:3: YAML syntax error: expected the node content"
     ", but found '<stream end>'"),
])
def test_malformed_registry_is_one_line_exit_2(tmp_path: Path, capsys: Any, text: str,
                                               message: str, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    Path("canary.yaml").write_text(text)
    assert main(["canary", "--check"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n"
    assert "hunter2" not in err


def test_check_lists_targets(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "canary.yaml").write_text(
        "version: 1\ntargets:\n  - {service: orders, environment: prod, "
        "baseUrl: 'http://o', collections: [a], interval: 30s}\n")
    assert main(["canary", "--check", "-c", str(tmp_path / "canary.yaml")]) == 0
    assert capsys.readouterr().out.endswith("1 targets (orders/prod)\n")
    assert main(["canary", "--check", "-c", str(tmp_path / "none.yaml")]) == 2


def test_slack_verifier() -> None:
    now = [1_800_000_000.0]
    v = Verifier("s3cret", clock=lambda: now[0])
    body = b"command=%2Fcanary&text=orders+prod&trigger_id=1"
    ts = str(int(now[0]))
    sig = signature("s3cret", ts, body)
    # Slack's documented example shape: v0= and 64 hex digits
    assert sig.startswith("v0=")
    assert len(sig) == 67
    assert v.check(ts, signature("other", ts, body), body) == "signature does not match"
    assert v.check(ts, sig, body + b"&x=1") == "signature does not match"
    assert v.check(None, sig, body) is not None
    assert v.check(ts, sig, body) is None
    assert v.check(ts, sig, body) == "replayed request (signature already used)"
    old = str(int(now[0]) - 301)
    assert v.check(old, signature("s3cret", old, body), body) == \
        "stale request (timestamp more than 5 minutes off)"
    future = str(int(now[0]) + 301)
    assert v.check(future, signature("s3cret", future, body), body) is not None


def test_schedule_spreads_starts_and_a_slow_target_delays_nobody(tmp_path: Path) -> None:
    """Against a closed port (each run fails fast) and a port that never answers."""
    import socket

    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)
    (tmp_path / "test.c.yaml").write_text(
        "version: 1\nname: c\nrequests:\n  - name: ping\n    url: /healthz/ping\n")
    from opsplane.testing.procs import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    targets = [{"service": f"s{i}", "environment": "prod", "baseUrl": closed,
                "collections": ["test.c.yaml"], "interval": "1s"} for i in range(6)]
    targets.append({"service": "slow", "environment": "prod",
                    "baseUrl": f"http://127.0.0.1:{hang.getsockname()[1]}",
                    "collections": ["test.c.yaml"], "interval": "1s", "timeout": "30s"})
    reg = parse_registry({"concurrency": 4, "targets": targets}, "canary.yaml", tmp_path)
    state = State()

    async def go() -> Canary:
        canary = Canary(reg, state=state, grace=0.5, rng=random.Random(1))
        await canary.start()
        while canary.started_runs < 18:
            await asyncio.sleep(0.05)
        state.start_draining()  # as on SIGTERM: the loop stops and cuts at the grace period
        await canary.stop()
        return canary

    try:
        canary = asyncio.run(go())
    finally:
        hang.close()
    outcomes = {(r.service, r.outcome) for r in canary.latest.values()}
    assert ("slow", "cut") in outcomes
    assert all(o == "failed" for s, o in outcomes if s != "slow")
    assert max(canary.skews) < 1.0


def test_targets_from_the_organisation_file(tmp_path: Path, capsys: Any,
                                            monkeypatch: Any) -> None:
    from opsplane.spec.org import load_org

    monkeypatch.chdir(tmp_path)
    Path("opsplane.yaml").write_text(
        "version: 1\nteams: {}\ncanary:\n  concurrency: 4\n  targets:\n"
        "    - {service: orders, environment: prod, baseUrl: 'http://o', collections: [a]}\n"
        "    - {service: payments, environment: prod, baseUrl: 'http://p', collections: [b]}\n")
    assert load_org("opsplane.yaml").canary is not None  # alerts still read the same file
    assert main(["canary", "--check"]) == 0
    assert capsys.readouterr().out == "opsplane.yaml: 2 targets (orders/prod, payments/prod)\n"
    Path("opsplane.yaml").write_text(
        "version: 1\ncanary:\n  targets:\n    - service: orders\n      environment: prod\n"
        "      env: env.prod.yaml\n      baseUrl: 'http://o'\n      collections: [a]\n")
    assert main(["canary", "--check"]) == 2
    assert capsys.readouterr().err == (
        "error: opsplane.yaml:4: canary.targets[0]: give exactly one of baseUrl or env\n")
    Path("canary.yaml").write_text("version: 1\n")  # canary.yaml comes first
    assert main(["canary", "--check"]) == 0
    assert capsys.readouterr().out == "canary.yaml: 0 targets (none)\n"


def test_serving_needs_its_files_and_store_first(tmp_path: Path, capsys: Any) -> None:
    from opsplane.testing.procs import free_port

    cfg = tmp_path / "canary.yaml"
    cfg.write_text("version: 1\napi: {token: {file: nope/token}}\n")
    assert main(["canary", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {cfg}: api.token: cannot read {tmp_path}/nope/token: " \
                  "No such file or directory\n"
    (tmp_path / "url").write_text(f"postgresql://c:hunter2@127.0.0.1:{free_port()}/c\n")
    cfg.write_text("version: 1\nstore: {urlFile: url}\n")
    assert main(["canary", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: store postgresql://c:***@127.0.0.1:")
    assert "hunter2" not in err


def test_public_surface_and_import_without_side_effects() -> None:
    import subprocess
    import sys

    import opsplane.canary

    assert opsplane.canary.__all__ == sorted(opsplane.canary.__all__)
    assert set(opsplane.canary.__all__) == {
        "Canary", "Registry", "RegistryError", "ResultRecord", "RunRecord", "Store", "Target",
        "create_app", "load_registry", "parse_registry"}
    code = ("import sys, opsplane.canary, opsplane.canary.service; "
            "print(sorted(m for m in ('httpx', 'uvicorn', 'starlette', 'psycopg') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_once_prints_each_run_and_exits_1_on_a_failure(tmp_path: Path, capsys: Any) -> None:
    from opsplane.testing.procs import free_port

    (tmp_path / "test.c.yaml").write_text(
        "version: 1\nname: c\nrequests:\n  - name: ping\n    url: /healthz/ping\n"
        "    query: {key: '{{key}}'}\n")
    (tmp_path / "key").write_text("k-9f8e7d\n")
    cfg = tmp_path / "canary.yaml"
    cfg.write_text(
        "version: 1\ntargets:\n"
        f"  - {{service: a, environment: prod, baseUrl: 'http://127.0.0.1:{free_port()}', "
        "collections: [test.c.yaml], credentials: {key: {file: key}}}\n"
        "  - {service: b, environment: prod, baseUrl: 'http://127.0.0.1:1', "
        "collections: [test.gone.yaml]}\n")
    assert main(["canary", "--once", "-c", str(cfg)]) == 1
    captured = capsys.readouterr()
    lines = sorted(captured.out.splitlines(), key=lambda x: x.split()[1])
    assert lines[0].startswith("failed   a/prod c (0 passed, 1 failed, ")
    assert lines[0].endswith("): ping: connection refused")
    assert lines[1] == (f"broken   b/prod gone (0 passed, 0 failed, 0 ms): "
                        f"{tmp_path}/test.gone.yaml: collection file does not exist")
    assert "k-9f8e7d" not in captured.out + captured.err
