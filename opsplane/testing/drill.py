"""The shutdown drill: drive an app under ``opsplane serve`` the way a cluster would.

A separate process serves the app; this one sends steady load (one connection per
request, some requests slow), probes readiness, sends SIGTERM mid-run like the kubelet,
and SIGKILLs it if it outlives the pod's grace period. Every request gets one outcome:

    completed          a complete response, status < 500
    refused            connection refused (or reset during connect), or closed before
                       any byte of a response while the app never saw it: the server
                       was no longer accepting, and the request never reached the app
    rejected           503 from the concurrency limit (not accepted: the client retries)
    dropped            anything else: reset mid-response, a 5xx, a timeout, or closed
                       without a response although the app had accepted it

"accepted" is the server's own record: every ``requestId`` (sent as X-Request-ID) that
appears in the server's JSON log. Used by tests/test_shutdown_*.py and bench/shutdown.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from opsplane.testing.procs import free_port

RESULTS = ("completed", "refused", "rejected", "dropped")


@dataclass
class Outcome:
    rid: str
    path: str
    sent: float  # seconds relative to the signal (negative: before it)
    result: str = "dropped"
    detail: str = ""
    status: int | None = None
    connection_close: bool = False


@dataclass
class Probe:
    sent: float
    status: int | None


@dataclass
class DrillReport:
    outcomes: list[Outcome]
    probes: list[Probe]
    accepted: set[str]
    exit_code: int | None
    killed: bool
    log: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = Counter(o.result for o in self.outcomes)
        return {"sent": len(self.outcomes), "accepted": len(self.accepted),
                **{r: c.get(r, 0) for r in RESULTS}}

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.log if r.get("event") == name]


class Served(Protocol):
    """What the drill drives: a ServedApp here, a container (opsplane.testing.container)
    elsewhere."""

    port: int

    @property
    def termination_grace(self) -> float: ...

    def signal(self, sig: int = signal.SIGTERM) -> None: ...

    def wait_exit(self, timeout: float | None = None) -> tuple[int | None, bool]: ...

    def records(self) -> list[dict[str, Any]]: ...


class ServedApp:
    """``opsplane serve`` as a subprocess on 127.0.0.1 with its JSON log in a temp file.

    ``app=None`` serves what ``cwd``'s service.yaml names (e.g. examples/orders).
    """

    def __init__(self, app: str | None, cwd: str | Path, *, drain_delay: float = 1.0,
                 grace: float = 5.0, max_in_flight: int = 256,
                 env: dict[str, str] | None = None, extra: list[str] | None = None) -> None:
        self.port = free_port()
        self.drain_delay = drain_delay
        self.grace = grace
        self._logfile = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix="opsplane-drill-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "opsplane.cli.main", "serve", *([app] if app else []),
               "--host", "127.0.0.1",
               "--port", str(self.port), "--drain-delay", str(drain_delay),
               "--grace", str(grace), "--max-in-flight", str(max_in_flight), *(extra or [])]
        full_env = {**os.environ, "LOGSTD_MODE": "json", "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        self.proc = subprocess.Popen(cmd, cwd=str(cwd), env=full_env, stdout=self._logfile,
                                     stderr=subprocess.STDOUT)

    @property
    def termination_grace(self) -> float:
        """What the drill's kubelet allows: drain_delay + grace + 5 (docs/shutdown.md)."""
        return self.drain_delay + self.grace + 5

    def wait_ready(self, timeout: float = 30.0, path: str = "/healthz/readiness") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n"
                                   + self.log_text())
            status = asyncio.run(_probe("127.0.0.1", self.port, path))
            if status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout} s:\n" + self.log_text())

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float | None = None) -> tuple[int | None, bool]:
        """(exit code, killed): SIGKILL after ``timeout`` (default termination_grace)."""
        try:
            return self.proc.wait(timeout=self.termination_grace if timeout is None
                                  else timeout), False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, True

    def log_text(self) -> str:
        return Path(self._logfile.name).read_text(encoding="utf-8", errors="replace")

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._logfile.close()
        with contextlib.suppress(OSError):
            os.unlink(self._logfile.name)


class _Incomplete(Exception):
    def __init__(self, got: int) -> None:
        super().__init__(f"connection ended after {got} byte(s) of the response")
        self.got = got


def _parse(buf: bytes, eof: bool) -> tuple[int, dict[str, str]] | None:
    """(status, headers) once ``buf`` holds a complete response, else None."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        done = len(body) >= int(headers["content-length"])
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        done = body.endswith(b"0\r\n\r\n")
    else:
        done = eof
    return (status, headers) if done else None


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Read one response; raises _Incomplete(bytes seen) when the connection ends early."""
    buf = b""
    while True:
        try:
            data = await reader.read(65536)
        except OSError as e:
            raise _Incomplete(len(buf)) from e
        parsed = _parse(buf + data, eof=not data)
        buf += data
        if parsed is not None:
            return parsed
        if not data:
            raise _Incomplete(len(buf))


async def _probe(host: str, port: int, path: str) -> int | None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        status, _ = await asyncio.wait_for(_read_response(reader), 5)
        return status
    except (OSError, _Incomplete, TimeoutError, ValueError, IndexError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def request(host: str, port: int, path: str, out: Outcome, timeout: float) -> None:
    """One request on its own connection; fills ``out`` (result decided later)."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        out.result, out.detail = "refused", "connection refused"
        return
    except OSError as e:  # reset during the handshake: the listener closed under it
        out.result, out.detail = "refused", f"connect failed: {e.strerror or e}"
        return
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Request-ID: {out.rid}\r\n\r\n"
                     .encode())
        await writer.drain()
        status, headers = await asyncio.wait_for(_read_response(reader), timeout)
        out.status = status
        out.connection_close = headers.get("connection", "").lower() == "close"
        if status == 503 and "retry-after" in headers:
            out.result, out.detail = "rejected", "503 Retry-After"
        elif status >= 500:
            out.result, out.detail = "dropped", f"HTTP {status}"
        else:
            out.result = "completed"
    except TimeoutError:
        out.result, out.detail = "dropped", "timeout"
    except _Incomplete as e:
        if e.got:
            out.result, out.detail = "dropped", f"broken mid-response: {e}"
        else:
            out.result, out.detail = "refused", "closed before any response byte"
    except OSError as e:  # while sending: no byte of a response came back
        out.result, out.detail = "refused", f"reset before any response byte: {e}"
    except (ValueError, IndexError) as e:
        out.result, out.detail = "dropped", f"unreadable response: {e}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def drive(served: Served, *, rate: float, before: float, after: float,
                slow_every: int = 5, slow_path: str = "/slow?ms={ms}", slow_ms: int = 2000,
                fast_path: str = "/fast", probe_path: str = "/healthz/readiness",
                probe_every: float = 0.05, sig: int = signal.SIGTERM,
                timeout: float | None = None) -> tuple[list[Outcome], list[Probe]]:
    """Steady load for ``before`` s, the signal, ``after`` s more of load; wait for answers."""
    host, port = "127.0.0.1", served.port
    loop = asyncio.get_running_loop()
    timeout = timeout if timeout is not None else served.termination_grace + 5
    outcomes: list[Outcome] = []
    probes: list[Probe] = []
    tasks: list[asyncio.Task[None]] = []
    t0 = loop.time()
    t_sig = t0 + before
    t_end = t_sig + after
    signalled = False
    n = 0

    async def prober() -> None:
        while loop.time() < t_end:
            sent = loop.time() - t_sig
            if sent >= 0 and not signalled:
                sent = -1e-9  # raced the signal: count it as before
            probes.append(Probe(sent, await _probe(host, port, probe_path)))
            await asyncio.sleep(probe_every)

    probe_task = asyncio.create_task(prober())
    while True:
        now = loop.time()
        if not signalled and now >= t_sig:
            served.signal(sig)
            signalled = True
            t_sig = loop.time()
        if now >= t_end:
            break
        n += 1
        slow = slow_every > 0 and n % slow_every == 0
        path = slow_path.format(ms=slow_ms) if slow else fast_path
        out = Outcome(rid=f"r{n:06d}", path=path,
                      sent=now - t_sig if signalled else min(now - t_sig, -1e-9))
        outcomes.append(out)
        tasks.append(asyncio.create_task(request(host, port, path, out, timeout)))
        await asyncio.sleep(max(0.0, t0 + n / rate - loop.time()))
    await probe_task
    await asyncio.gather(*tasks)
    return outcomes, probes


def run_drill(served: Served, **kwargs: Any) -> DrillReport:
    """Drive load, signal, let the kubelet wait its grace period; classify every request."""
    outcomes, probes = asyncio.run(drive(served, **kwargs))
    code, killed = served.wait_exit()
    records = served.records()
    accepted = {r["requestId"] for r in records
                if isinstance(r.get("requestId"), str) and r["requestId"].startswith("r")}
    for o in outcomes:
        if o.rid in accepted and o.result == "refused":
            o.result, o.detail = "dropped", "accepted by the app, closed without a response"
        if o.result == "completed" and o.rid not in accepted and o.path != "/healthz/readiness":
            o.detail = "completed but not in the server log"
    return DrillReport(outcomes, probes, accepted, code, killed, records)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(str(r.get(c, "")).rjust(w) for c, w in zip(columns, widths, strict=True))
              for r in rows]
    return "\n".join(lines)
