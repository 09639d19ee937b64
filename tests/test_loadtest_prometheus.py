"""`loadtest recommend-limits --prometheus`: CPU and memory per pod from a real Prometheus
scraping two orders replicas (their process_* metrics stand in for cAdvisor's), next to the
local sampling of the same run; bad input in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsplane.testing.procs import free_port, stop_process

try:  # tests/ is a plain folder or a package, depending on the checkout
    from _service_procs import ORDERS, Service
    from conftest import require_tool
except ModuleNotFoundError:
    from tests._service_procs import ORDERS, Service
    from tests.conftest import require_tool

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SELECTOR = 'job="orders"'


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadtest._cli", *args], capture_output=True,
                          text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    """Two orders replicas (pods orders-0 and orders-1) and Prometheus scraping them each
    second; yields (Prometheus URL, orders-0)."""
    binary = require_tool("prometheus")
    tmp = tmp_path_factory.mktemp("prom")
    payments = Service("payments_stub:app", ORDERS, tmp)
    pods = [Service("orders.app:app", ORDERS, tmp, env={
        "DATABASE_URL": f"sqlite:///{tmp / f'o{i}.db'}", "PAYMENTS_URL": payments.url})
        for i in range(2)]
    port = free_port()
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": "orders", "static_configs": [
                  {"targets": [f"127.0.0.1:{p.port}"], "labels": {"pod": f"orders-{i}"}}
                  for i, p in enumerate(pods)]}]}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    prom = None
    try:
        payments.start(wait=False)
        for p in pods:
            p.start(wait=False)
        payments.wait_ready()
        for p in pods:
            p.wait_ready()
        with (tmp / "prometheus.log").open("w") as log:
            prom = subprocess.Popen(
                [binary, f"--config.file={tmp / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        query = f"{url}/api/v1/query?" + urllib.parse.urlencode(
            {"query": f"up{{{SELECTOR}}} == 1"})
        for _ in range(300):  # both targets scraped once (bounded: 300 x 0.1 s)
            try:
                if len(_get(query)["data"]["result"]) == 2:
                    break
            except OSError:
                pass
            if prom.poll() is not None:
                pytest.fail((tmp / "prometheus.log").read_text()[-2000:])
            time.sleep(0.1)
        else:
            pytest.fail("prometheus never scraped both replicas")
        yield url, pods[0]
    finally:
        if prom is not None:
            stop_process(prom)
        for p in pods:
            p.stop()
        payments.stop()


@pytest.fixture(scope="module")
def run_dir(replicas: tuple[str, Service], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loadtest run against orders-0, sampled locally (its pid) each second."""
    _, pod = replicas
    assert pod.proc is not None
    out = tmp_path_factory.mktemp("runs") / "orders-run"
    r = _cli("run", "--profile", "mixed", "--users", "6", "--spawn-rate", "6", "--duration",
             "25s", "--interval", "1", "--target", pod.url, "--pid", str(pod.proc.pid),
             "--spec", str(ORDERS / "service.yaml"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


# A fresh process under 25 s of load is still warming up, and its climb can read as a leak;
# these tests compare where the samples come from (the leak verdict has tests of its own).
ACCEPT_LEAK = "--accept-leak"


def _recommend(run_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("recommend-limits", str(run_dir), "--min-samples", "10", "--format", "json",
                ACCEPT_LEAK, *extra)


def test_per_pod_from_prometheus_next_to_the_local_sampling(
        replicas: tuple[str, Service], run_dir: Path) -> None:
    url, _ = replicas
    local = _recommend(run_dir)
    assert local.returncode == 0, local.stderr
    prom = _recommend(run_dir, "--prometheus", url, "--selector", SELECTOR, "--metrics",
                      "process", "--rate-window", "5s", "--step", "1")
    assert prom.returncode == 0, prom.stderr
    lo, pr = json.loads(local.stdout), json.loads(prom.stdout)
    pods = pr["statistics"]["pods"]
    assert set(pods) == {"orders-0", "orders-1"}
    assert all(p["loaded_samples"] >= 10 for p in pods.values())
    loaded, idle = pods["orders-0"], pods["orders-1"]
    assert loaded["cpu_cores"]["p95"] > idle["cpu_cores"]["p95"]  # the load went to orders-0
    # combined: every figure the highest pod's
    cpu_m = [int(p["resources"]["requests"]["cpu"].removesuffix("m")) for p in pods.values()]
    mem = [int(p["resources"]["requests"]["memory"].removesuffix("Mi")) for p in pods.values()]
    assert pr["resources"]["requests"]["cpu"] == f"{max(cpu_m)}m"
    assert pr["resources"]["requests"]["memory"] == f"{max(mem)}Mi"
    assert pr["statistics"]["source"] == {"prometheus": url, "selector": SELECTOR,
                                          "metrics": "process", "pods": 2}
    # the same process seen two ways: its resident memory agrees closely, its CPU roughly
    # (a 5 s rate against 1 s samples)
    lo_mem, pr_mem = lo["statistics"]["memory_mib"]["peak"], loaded["memory_mib"]["peak"]
    assert abs(lo_mem - pr_mem) / lo_mem < 0.2, (lo_mem, pr_mem)
    lo_cpu, pr_cpu = lo["statistics"]["cpu_cores"]["p95"], loaded["cpu_cores"]["p95"]
    assert lo_cpu > 0
    assert 0.25 < pr_cpu / lo_cpu < 4, (lo_cpu, pr_cpu)


def test_table_names_each_pod(replicas: tuple[str, Service], run_dir: Path) -> None:
    url, _ = replicas
    r = _cli("recommend-limits", str(run_dir), "--min-samples", "10", "--prometheus", url,
             "--selector", SELECTOR, "--metrics", "process", "--rate-window", "5s", ACCEPT_LEAK)
    assert r.returncode == 0, r.stderr
    assert [line.split(":")[0] for line in r.stdout.splitlines() if line.startswith("pod ")] \
        == ["pod orders-0", "pod orders-1"]


def test_too_few_points_get_the_local_refusal(replicas: tuple[str, Service],
                                              run_dir: Path) -> None:
    url, _ = replicas
    local = _cli("recommend-limits", str(run_dir), "--min-samples", "1000")
    prom = _cli("recommend-limits", str(run_dir), "--min-samples", "1000", "--prometheus",
                url, "--selector", SELECTOR, "--metrics", "process", "--rate-window", "5s")
    assert local.returncode == prom.returncode == 1
    for r in (local, prom):
        assert len(r.stderr.splitlines()) == 1
        assert r.stderr.startswith(f"error: {run_dir}: only ")
        assert r.stderr.endswith("loaded samples after the warm-up (need at least 1000); "
                                 "run longer\n")


def test_unreachable_prometheus_is_one_line_exit_2(run_dir: Path) -> None:
    port = free_port()
    r = _cli("recommend-limits", str(run_dir), "--prometheus", f"http://127.0.0.1:{port}",
             "--selector", SELECTOR)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith(f"error: --prometheus http://127.0.0.1:{port}: cannot reach: ")


def test_a_selector_that_matches_nothing_is_one_line_exit_2(replicas: tuple[str, Service],
                                                           run_dir: Path) -> None:
    url, _ = replicas
    r = _cli("recommend-limits", str(run_dir), "--prometheus", url, "--selector",
             'job="nope"', "--metrics", "process")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "error: --selector job=\"nope\": no process_cpu_seconds_total or "
        f"process_resident_memory_bytes series in {url} between "
        + r.stderr.split(" between ")[1].rstrip("\n")]


@pytest.mark.parametrize(("args", "message"), [
    (["--prometheus", "http://127.0.0.1:9"],
     "recommend-limits: --prometheus URL and --selector MATCHERS go together"),
    (["--prometheus", "http://127.0.0.1:9", "--selector", "orders"],
     "--selector 'orders': give label matchers, e.g. 'namespace=\"staging\",pod=~\"orders-.*\"'"),
])
def test_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    try:
        from loadtest_helpers import make_run
    except ModuleNotFoundError:
        from tests.loadtest_helpers import make_run
    d = make_run(tmp_path / "run", [0.1] * 50, [50] * 50)
    r = _cli("recommend-limits", str(d), *args)
    assert r.returncode == 2
    assert r.stderr == f"error: {message}\n"
