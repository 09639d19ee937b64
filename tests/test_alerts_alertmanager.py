"""The generated routing tree in a real Alertmanager on loopback: a page inhibits its ticket."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sample_spec import SAMPLE

from alerts import render
from opsplane.spec.service import load_spec
from opsplane.testing.procs import free_port as _free_port
from opsplane.testing.procs import stop_process
from tests.conftest import require_tool


def _call(url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
    return json.loads(text) if text else None


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = require_tool("prometheus-alertmanager")
    (tmp_path / "alertmanager.yaml").write_text(
        render([load_spec(SAMPLE)])["alertmanager/alertmanager.yaml"])
    port = _free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'alertmanager.yaml'}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                _call(f"{base}/api/v2/status")
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail((tmp_path / "alertmanager.log").read_text()[-2000:])
                time.sleep(0.1)
        else:
            pytest.fail("alertmanager did not start")
        yield base
    finally:
        stop_process(proc)
        log.close()


def _alert(severity: str, slo: str) -> dict[str, Any]:
    return {"labels": {"alertname": "ErrorBudgetBurn", "service": "orders", "team": "commerce",
                       "severity": severity, "slo": slo},
            "annotations": {"summary": f"{slo} {severity}"}}


def test_page_inhibits_the_matching_ticket(alertmanager: str) -> None:
    base = alertmanager
    _call(f"{base}/api/v2/alerts", [_alert("page", "availability"),
                                    _alert("ticket", "availability"),
                                    _alert("ticket", "latency")])
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for _ in range(50):
        alerts = _call(f"{base}/api/v2/alerts")
        state = {(a["labels"]["severity"], a["labels"]["slo"]): a for a in alerts}
        if len(state) == 3:
            break
        time.sleep(0.1)
    assert state[("ticket", "availability")]["status"]["state"] == "suppressed"
    assert state[("ticket", "availability")]["status"]["inhibitedBy"]
    assert state[("page", "availability")]["status"]["state"] == "active"
    assert state[("ticket", "latency")]["status"]["state"] == "active"
    receivers = {k: sorted(r["name"] for r in a["receivers"]) for k, a in state.items()}
    assert receivers[("page", "availability")] == ["orders-chat", "orders-pager"]
    assert receivers[("ticket", "latency")] == ["orders-chat", "orders-ticket"]
