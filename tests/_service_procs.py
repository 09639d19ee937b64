"""Start ASGI services under uvicorn on 127.0.0.1 for the service tests; stop them by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from opsplane.testing.procs import free_port

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "examples" / "orders"
SCHEMA = Path(__file__).resolve().parent / "data" / "health-schema.json"


class Service:
    """One uvicorn process; its output goes to files in ``workdir``."""

    def __init__(self, app: str, cwd: Path, workdir: Path, env: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        self.app = app
        self.cwd = cwd
        self.workdir = workdir
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOGSTD_MODE": "json",
                    **(env or {})}
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"{self.app.replace(':', '_')}.{self.starts}.out"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.app.replace(':', '_')}.{self.starts}.err"

    def start(self, wait: bool = True) -> Service:
        self.starts += 1
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1",
                 "--port", str(self.port)],
                cwd=self.cwd, env=self.env, stdout=out, stderr=err)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.app} exited with {self.proc.returncode}:\n"
                                     f"{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz/ping", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.app} did not answer /healthz/ping:\n{self.output()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def output(self) -> str:
        text = ""
        for p in (self.stdout_path, self.stderr_path):
            if p.exists():
                text += p.read_text(encoding="utf-8", errors="replace")
        return text

    def all_output(self) -> str:
        """stdout and stderr of every start so far."""
        return "".join(p.read_text(encoding="utf-8", errors="replace")
                       for p in sorted(self.workdir.glob(f"{self.app.replace(':', '_')}.*")))

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records the service wrote to stdout (this start)."""
        import json

        out = []
        for line in self.stdout_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


def wait_for(predicate: Any, attempts: int = 200, pause: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded by count)."""
    for _ in range(attempts):
        value = predicate()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"condition not met after {attempts} attempts")


@contextlib.contextmanager
def orders_and_payments(work: Path,
                        env: dict[str, str] | None = None) -> Iterator[tuple[Service, Service]]:
    """examples/orders (SQLite in ``work``) wired to its payments stub; both stopped after.

    ``env`` goes to both services (a ``DATABASE_URL`` in it replaces the SQLite file).
    """
    payments = Service("payments_stub:app", ORDERS, work, env=dict(env or {}))
    orders = Service("orders.app:app", ORDERS, work, env={
        "DATABASE_URL": f"sqlite:///{work / 'o.db'}", **(env or {})})
    orders.env["PAYMENTS_URL"] = payments.url
    try:
        payments.start(wait=False)
        orders.start(wait=False)
        payments.wait_ready()
        orders.wait_ready()
        yield orders, payments
    finally:
        orders.stop()
        payments.stop()
