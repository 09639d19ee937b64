"""`opsplane serve --workers N`: /metrics answers for the whole pod (multiprocess mode).

Real processes on loopback: the supervisor, two uvicorn workers sharing the port
(SO_REUSEPORT), each scrape answered by whichever worker the kernel picks.
"""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from opsplane.testing.drill import ServedApp

APPS = Path(__file__).parent / "apps"


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)  # a new connection each
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name}


def _start(base: Path) -> ServedApp:
    served = ServedApp("metered_app:app", APPS, drain_delay=0, grace=5,
                       extra=["--workers", "2"], env={"PROMETHEUS_MULTIPROC_DIR": str(base)})
    served.wait_ready()
    deadline = time.monotonic() + 30
    while served.log_text().count("Application startup complete") < 2:  # both workers
        assert time.monotonic() < deadline, served.log_text()
        time.sleep(0.05)
    return served


def _stop(served: ServedApp) -> None:
    if served.proc.poll() is None:  # the supervisor forwards it to the workers
        served.signal(signal.SIGTERM)
        served.wait_exit(15)
    served.stop()


def _requests_counted(text: str) -> float:
    return sum(_samples(text, "http_server_request_duration_seconds_count").values())


def _settled(port: int, requests: float) -> None:
    """Wait until the pod's /metrics counts every request answered: a worker records a
    request's duration just after its response went out, so a client can be a step ahead."""
    deadline = time.monotonic() + 15
    while _requests_counted(_get(port, "/metrics")[1]) != requests:
        assert time.monotonic() < deadline, "the requests never all counted"
        time.sleep(0.02)


def test_workers_scrapes_count_every_request_and_the_directory_goes(tmp_path: Path) -> None:
    base = tmp_path / "multiproc"
    base.mkdir()
    served = _start(base)
    try:
        made = list(base.iterdir())
        assert [p.name.startswith("opsplane-metrics-") for p in made] == [True], made

        assert [_get(served.port, "/hello") for _ in range(20)] == [(200, "hello")] * 20
        # both workers served some of them: each wrote its own histogram file
        pids = {p.name for p in made[0].glob("histogram_*.db")}
        assert len(pids) == 2, (pids, served.log_text())

        _settled(served.port, 20.0)
        scrapes = [_get(served.port, "/metrics") for _ in range(6)]
        assert [status for status, _ in scrapes] == [200] * 6
        assert [_requests_counted(text) for _, text in scrapes] == [20.0] * 6
        hello = _samples(scrapes[0][1], "http_server_request_duration_seconds_count")
        assert hello == {(("http_request_method", "GET"), ("http_response_status_code", "200"),
                          ("http_route", "")): 20.0}
        # gauges combined across workers: none in flight, one build
        assert sum(_samples(scrapes[0][1], "http_server_active_requests").values()) == 0
        assert list(_samples(scrapes[0][1], "app_build_info").values()) == [1.0]

        served.signal(signal.SIGTERM)
        assert served.wait_exit() == (0, False), served.log_text()
        assert list(base.iterdir()) == []  # the supervisor's directory is gone, not the base
    finally:
        _stop(served)


def test_a_dead_worker_is_marked_and_its_counts_stay(tmp_path: Path) -> None:
    base = tmp_path / "multiproc"
    base.mkdir()
    served = _start(base)
    try:
        (metrics_dir,) = base.iterdir()
        assert [_get(served.port, "/hello") for _ in range(20)] == [(200, "hello")] * 20
        pids = sorted(int(p.stem.rpartition("_")[2]) for p in metrics_dir.glob("histogram_*.db"))
        assert len(pids) == 2, served.log_text()
        victim = pids[0]
        live = metrics_dir / f"gauge_livesum_{victim}.db"  # its in-flight counts
        assert live.exists()
        _settled(served.port, 20.0)  # the victim's requests are in its files before it dies
        os.kill(victim, signal.SIGKILL)  # a worker the kernel's OOM killer took
        deadline = time.monotonic() + 15
        while live.exists():  # the supervisor marks it dead (mark_process_dead)
            assert time.monotonic() < deadline, sorted(p.name for p in metrics_dir.iterdir())
            time.sleep(0.02)
        assert (metrics_dir / f"histogram_{victim}.db").exists()  # its requests still count
        scrapes = [_get(served.port, "/metrics") for _ in range(6)]  # the survivor answers
        assert [_requests_counted(text) for _, text in scrapes] == [20.0] * 6

        served.signal(signal.SIGTERM)
        assert served.wait_exit() == (1, False), served.log_text()  # one worker was killed
        assert list(base.iterdir()) == []
    finally:
        _stop(served)
