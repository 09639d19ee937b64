"""The service image for real: built, run as orders and payments containers, tested, drained.

`scripts/docker.sh image` builds opsplane/orders:local from wheels made on the host (cached by
a hash of the sources and the base). Both containers run from that one image on the host
network, uid 10001, read-only root with a tmpfs on /data, tracing on by OTEL_* alone into an
OTLP receiver on loopback. The smoke and integration collections run against them, one order
is one trace across both, then `docker stop` under a steady load: nothing dropped, exit 0
inside the grace period, the shutdown records in `docker logs` as JSON.
A missing dockerd is a failure under CI (env CI=true), a skip with its reason elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from logstd import _climain
from opsplane.testing.container import (
    ContainerApp,
    ContainerNotReady,
    DockerUnavailable,
    build_image,
    docker,
    ensure_docker,
    http_post,
    stop_docker,
)
from opsplane.testing.drill import DrillReport, run_drill
from opsplane.testing.procs import free_port
from tracing.testing import OtlpReceiver

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "examples" / "orders" / "tests"
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# what a service image must not hold: the tools' heavy dependencies (every module an extra
# brings, but psycopg, which the image installs, and requests, the OTLP exporter's own);
# and what it must hold
HEAVY = tuple(sorted(set(_climain.EXTRAS) - {"psycopg", "requests"} | {"pandas"}))
KIT = ("logstd", "opsplane", "tracing", "starlette", "uvicorn", "prometheus_client", "httpx",
       "pydantic", "pydantic_settings", "yaml", "orjson", "pythonjsonlogger",
       "opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http", "psycopg", "orders")


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def orders_image() -> Iterator[str]:
    """opsplane/orders:local, built once a session (and not at all when up to date); a
    daemon this fixture started is stopped at the end of the session."""
    try:
        started = ensure_docker()
    except DockerUnavailable as e:
        _missing(f"Docker: {e}")
        raise  # unreachable: _missing fails or skips
    try:
        yield build_image()
    finally:
        if started:
            stop_docker()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver on 127.0.0.1: the containers (host network) export to it."""
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture(scope="module")
def services(orders_image: str,
             receiver: OtlpReceiver) -> Iterator[tuple[ContainerApp, ContainerApp]]:
    """(orders, payments): two containers of the one image, both ready, tracing on through
    the standard OTEL_* variables only (as the chart and compose set them)."""
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "OTEL_BSP_SCHEDULE_DELAY": "200"}  # ms: spans leave while the test waits
    payments = ContainerApp(orders_image, port=free_port(), args=["payments_stub:app"],
                            drain_delay=0, grace=2, env=otel)
    orders = None
    try:
        orders = ContainerApp(orders_image, port=free_port(), drain_delay=1, grace=5,
                              env={**otel, "PAYMENTS_URL": payments.url})
        payments.wait_ready()
        orders.wait_ready()
        yield orders, payments
    finally:
        if orders is not None:
            orders.close()
        payments.close()


def _run(image: str, *python: str) -> str:
    return docker("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "python",
                  image, "-c", *python)


def test_image_holds_the_runtime_kit_only(orders_image: str) -> None:
    probe = ("import importlib.util, json, sys; sys.path.insert(0, '/app'); "
             "print(json.dumps({m: importlib.util.find_spec(m) is not None "
             "for m in sys.argv[1:]}))")
    found = json.loads(_run(orders_image, probe, *HEAVY, *KIT))
    assert [m for m in HEAVY if found[m]] == []
    assert [m for m in KIT if not found[m]] == []
    config = json.loads(docker("inspect", "-f", "{{json .Config}}", orders_image))
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["opsplane", "serve"]  # exec form: PID 1 gets SIGTERM
    assert "DATABASE_URL=sqlite:////data/orders.db" in config["Env"]


def test_serve_is_pid_1_as_uid_10001(services: tuple[ContainerApp, ContainerApp]) -> None:
    orders, _ = services
    out = docker("exec", orders.name, "sh", "-c", "id -u; tr '\\0' ' ' < /proc/1/cmdline")
    uid, cmdline = out.splitlines()
    assert uid == "10001"
    assert "opsplane serve" in cmdline


@pytest.mark.parametrize("collection", ["smoke", "integration"])
def test_collections_pass_against_the_containers(
        services: tuple[ContainerApp, ContainerApp], collection: str, tmp_path: Path) -> None:
    orders, _ = services
    env = yaml.safe_load((TESTS / "env.local.yaml").read_text())
    env["name"], env["baseUrl"] = "container", orders.url
    env_file = tmp_path / "env.container.yaml"
    env_file.write_text(yaml.safe_dump(env))
    r = subprocess.run([str(BIN / "opsplane"), "test", "-t", collection, "--dir", str(TESTS),
                        "-e", str(env_file), "--wait", "30s"],
                       capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " FAIL" not in r.stdout


def test_one_trace_across_both_containers(services: tuple[ContainerApp, ContainerApp],
                                          receiver: OtlpReceiver) -> None:
    orders, payments = services
    status, body = http_post(orders.url + "/orders", {
        "customerId": "C-1001", "items": [{"sku": "SKU-1", "quantity": 1, "price": 5}]})
    assert status == 201, body
    order_id = json.loads(body)["id"]
    # the order's trace, as the orders container logged it
    o_ids = {r.get("traceId") for r in orders.records() if r.get("orderId") == order_id}
    assert len(o_ids) == 1, o_ids
    trace_id = o_ids.pop()
    assert isinstance(trace_id, str)

    def whole(spans: list[dict[str, Any]]) -> bool:
        return {"POST /orders", "POST /charges"} <= {s["name"] for s in spans
                                                    if s["traceId"] == trace_id}

    spans = receiver.wait_for(whole, timeout=30)
    trace = [s for s in spans if s["traceId"] == trace_id]
    assert whole(trace), sorted({s["name"] for s in spans})
    assert {s["service"] for s in trace} == {"orders", "payments-stub"}
    server = next(s for s in trace if s["name"] == "POST /orders")
    remote = next(s for s in trace if s["name"] == "POST /charges")
    client = next(s for s in trace if s["spanId"] == remote["parentSpanId"])
    assert client["parentSpanId"] == server["spanId"]  # orders' outbound call under its request
    assert trace_id in {r.get("traceId") for r in payments.records()}


@pytest.fixture(scope="module")
def drill(services: tuple[ContainerApp, ContainerApp]) -> DrillReport:
    """`docker stop` of the orders container under a steady load (runs after the collections:
    the orders container is gone afterwards)."""
    orders, _ = services
    report = run_drill(orders, rate=40, before=1.5, after=2.5, slow_every=5, slow_ms=2000,
                       slow_path="/orders/slow?ms={ms}", fast_path="/orders?customerId=C-1001")
    counts = report.counts()
    sys.stdout.write(
        f"\ncontainer drain: {counts}, exit {report.exit_code}, killed {report.killed}, "
        f"docker stop took {orders.stop_seconds:.2f}s (grace {orders.termination_grace:g}s)\n")
    return report


def test_docker_stop_under_load_drops_nothing(
        services: tuple[ContainerApp, ContainerApp], drill: DrillReport) -> None:
    orders, _ = services
    counts = drill.counts()
    assert [(o.path, o.detail) for o in drill.outcomes if o.result == "dropped"] == []
    assert counts["completed"] == counts["accepted"] > 0
    assert any(o.sent > 0 and "slow" in o.path and o.result == "completed"
               for o in drill.outcomes)  # in-flight work finished after the signal
    assert (drill.exit_code, drill.killed) == (0, False)
    assert orders.stop_seconds is not None
    assert orders.stop_seconds < orders.termination_grace


def test_shutdown_records_are_json_in_docker_logs(
        services: tuple[ContainerApp, ContainerApp], drill: DrillReport) -> None:
    orders, _ = services
    lines = orders.log_lines()
    not_json = [line for line in lines if not line.startswith("{")]
    assert not_json == []
    records = [json.loads(line) for line in lines]
    events = [r.get("event") for r in records]
    assert events.count("shutdown.started") == 1
    completed = [r for r in records if r.get("event") == "shutdown.completed"]
    assert [r["outcome"] for r in completed] == ["success"]
    assert drill.events("shutdown.completed") == completed


def test_never_ready_shows_the_readiness_body_and_log(orders_image: str) -> None:
    # payments unreachable: the container runs, but readiness stays 503
    with ContainerApp(orders_image, port=free_port(),
                      env={"PAYMENTS_URL": f"http://127.0.0.1:{free_port()}"}) as app, \
            pytest.raises(ContainerNotReady) as err:
        app.wait_ready(timeout=20)
    text = str(err.value)
    assert "not ready after 20s; readiness: 503" in text
    assert '"payments:responseTime"' in text
    assert "last log lines:\n{" in text


def test_exited_container_shows_its_last_log_lines(orders_image: str) -> None:
    with ContainerApp(orders_image, port=free_port(),
                      env={"DATABASE_URL": "mysql://nowhere/orders"}) as app, \
            pytest.raises(ContainerNotReady) as err:
        app.wait_ready(timeout=60)
    text = str(err.value)
    assert "exited with code 1" in text
    assert "is not sqlite or postgresql" in text


def test_no_daemon_is_one_line_saying_how_to_start_it(tmp_path: Path) -> None:
    r = subprocess.run(["bash", str(ROOT / "scripts" / "docker.sh"), "image"],
                       capture_output=True, text=True, check=False, timeout=60,
                       env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1
    assert "no Docker daemon answers" in r.stderr
    assert "start it with: sudo scripts/docker.sh daemon" in r.stderr
