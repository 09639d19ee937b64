"""`opsplane serve`: the drain sequence's hard cases, options from service.yaml, errors."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsplane.testing.drill import Outcome, ServedApp, request
from opsplane.testing.procs import free_port

APPS = Path(__file__).parent / "apps"


def _wait_log(served: ServedApp, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in served.log_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never logged:\n{served.log_text()}")


def _open(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nX-Request-ID: {path}\r\n\r\n".encode())
    return sock


def _read_all(sock: socket.socket, until: bytes = b"") -> bytes:
    data = b""
    while not (until and until in data):
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _events(served: ServedApp) -> list[str]:
    return [str(r["event"]) for r in served.records() if "event" in r]


def test_sigterm_during_streaming_response_finishes_the_stream() -> None:
    served = ServedApp("slowapp:app", APPS, drain_delay=0.3, grace=5)
    try:
        served.wait_ready()
        sock = _open(served.port, "/stream?chunks=8&ms=150")
        head = _read_all(sock, until=b"chunk 0")
        served.signal()
        body = head + _read_all(sock, until=b"0\r\n\r\n")
        sock.close()
        code, killed = served.wait_exit()
        assert body.startswith(b"HTTP/1.1 200")
        assert [f"chunk {i}".encode() in body for i in range(8)] == [True] * 8
        assert body.endswith(b"end\n\r\n0\r\n\r\n")
        assert (code, killed) == (0, False)
    finally:
        served.stop()


def test_second_signal_ends_at_once() -> None:
    # drain_delay 60 s: only the second signal can end it before our 10 s kubelet
    served = ServedApp("slowapp:app", APPS, drain_delay=60, grace=60)
    try:
        served.wait_ready()
        sock = _open(served.port, "/slow?ms=30000")
        _wait_log(served, "slowapp.accepted")
        served.signal(signal.SIGTERM)
        _wait_log(served, "shutdown.started")
        served.signal(signal.SIGINT)
        code, killed = served.wait_exit(timeout=10)
        sock.close()
        assert killed is False
        assert code == 1
        forced = [r for r in served.records() if r.get("event") == "shutdown.forced"]
        assert len(forced) == 1
        assert forced[0]["inFlight"] == 1
    finally:
        served.stop()


def test_handler_that_never_finishes_is_cut_at_grace_and_logged() -> None:
    served = ServedApp("slowapp:app", APPS, drain_delay=0.2, grace=1)
    try:
        served.wait_ready()
        sock = _open(served.port, "/hang")
        _wait_log(served, "slowapp.accepted")
        served.signal()
        code, killed = served.wait_exit()  # kubelet: drain_delay + grace + 5
        reply = _read_all(sock)
        sock.close()
        assert killed is False
        assert code == 1  # something was cut: the drain did not finish all its work
        assert b" 200 " not in reply.split(b"\r\n", 1)[0]
        cut = [r for r in served.records() if r.get("event") == "shutdown.cut"]
        assert len(cut) == 1
        assert cut[0]["count"] == 1
        assert cut[0]["level"] == "error"
        done = [r for r in served.records() if r.get("event") == "shutdown.completed"]
        assert done[0]["outcome"] == "failure"
        assert done[0]["count"] == 1
        assert "slowapp.hook_ran" in _events(served)  # hooks still ran after the cut
    finally:
        served.stop()


def test_sigterm_during_startup_abandons_it_without_serving() -> None:
    # startup takes 60 s; the kubelet waits 0.5 + 1 + 5: exiting must not wait for it
    served = ServedApp("slowapp:app", APPS, drain_delay=0.5, grace=1,
                       env={"SLOWAPP_STARTUP_S": "60"})
    try:
        _wait_log(served, "Waiting for application startup")
        served.signal()
        code, killed = served.wait_exit()
        assert (code, killed) == (0, False)
        events = _events(served)
        assert events[:2] == ["shutdown.started", "shutdown.startup_abandoned"]
        assert events[-1] == "shutdown.completed"
        assert "Uvicorn running" not in served.log_text()  # never listened
    finally:
        served.stop()


@pytest.mark.parametrize("phase", ["starting", "serving"])
def test_the_process_ends_when_the_drain_ends_not_after_teardown(phase: str) -> None:
    # issue 23: with the cores busy, the interpreter's teardown after "shutdown.completed"
    # (pure CPU: finalising every module) ran past the kubelet's deadline. Here the teardown
    # takes 60 s (an atexit sleep): the process must end without waiting for it.
    env = {"SLOWAPP_TEARDOWN_S": "60", "SLOWAPP_STARTUP_S": "60" if phase == "starting" else "0"}
    served = ServedApp("slowapp:app", APPS, drain_delay=0.2, grace=1, env=env)
    try:
        if phase == "starting":
            _wait_log(served, "Waiting for application startup")
        else:
            served.wait_ready()
        served.signal()
        assert served.wait_exit() == (0, False)
        assert _events(served)[-1] == "shutdown.completed"
    finally:
        served.stop()


def test_sigterm_while_the_app_is_imported_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "slowimport.py").write_text(
        "import time\nprint('importing', flush=True)\ntime.sleep(60)\n"
        "async def app(scope, receive, send):\n    pass\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opsplane.cli.main", "serve", "slowimport:app",
                             "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "LOGSTD_MODE": "json"})
    try:
        assert proc.stdout is not None
        while b"importing" not in proc.stdout.readline():
            pass  # now inside the 60 s import
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert b'"event":"shutdown.completed"' in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_single_sigint_drains_like_sigterm() -> None:
    served = ServedApp("slowapp:app", APPS, drain_delay=0.2, grace=5)
    try:
        served.wait_ready()
        sock = _open(served.port, "/slow?ms=1500")
        _wait_log(served, "slowapp.accepted")
        served.signal(signal.SIGINT)
        reply = _read_all(sock)
        code, killed = served.wait_exit()
        sock.close()
        assert reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(b"slow")
        assert b"connection: close" in reply.lower()
        assert (code, killed) == (0, False)
    finally:
        served.stop()


def _spec_dir(tmp_path: Path, port: int) -> Path:
    shutil.copy(APPS / "slowapp.py", tmp_path / "slowapp.py")
    (tmp_path / "service.yaml").write_text(
        "name: slow\nteam: platform\napp: slowapp:app\n"
        f"port: {port}\nshutdown: {{drain_delay: 0, grace: 3, max_in_flight: 1}}\n")
    return tmp_path


@pytest.mark.parametrize("override", [False, True])
def test_serve_without_app_uses_service_yaml(tmp_path: Path, override: bool) -> None:
    spec_port, flag_port = free_port(), free_port()
    cwd = _spec_dir(tmp_path, spec_port)
    args = ["--port", str(flag_port), "--host", "127.0.0.1"] if override else [
        "--host", "127.0.0.1"]
    proc = subprocess.Popen([sys.executable, "-m", "opsplane.cli.main", "serve", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "LOGSTD_MODE": "json"})
    port = flag_port if override else spec_port
    try:
        reply = b""
        deadline = time.monotonic() + 30  # startup is slow on a loaded machine
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /fast HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    reply = _read_all(s)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        assert reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(b"fast")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert b'"service":"slow"' in out  # logs carry the spec's name
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsplane.cli.main", "serve", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(("args", "code", "message"), [
    ([], 2, "error: no APP given and no service.yaml in {cwd} (give module:attribute, "
            "or run where service.yaml is)"),
    (["nosuch:app"], 2, "error: cannot load app 'nosuch:app': no module named 'nosuch' "
                        "(looked in {cwd} and the installed packages)"),
    (["os:nosuch"], 2, "error: cannot load app 'os:nosuch': module os has no attribute "
                       "'nosuch'"),
    (["justamodule"], 2, "error: APP 'justamodule' must be module:attribute "
                         "(e.g. orders.app:app)"),
    (["x:y", "--grace", "0"], 2, "error: --grace 0.0: give more than 0 seconds"),
    (["x:y", "--max-in-flight", "0"], 2, "error: --max-in-flight 0: give 1 or more"),
    (["x:y", "--port", "70000"], 2, "error: --port 70000: not a TCP port (0-65535)"),
])
def test_bad_input_gives_one_line(tmp_path: Path, args: list[str], code: int,
                                  message: str) -> None:
    result = _cli(args, tmp_path)
    assert result.returncode == code
    assert result.stderr.strip().splitlines()[-1] == message.format(cwd=tmp_path)
    assert "Traceback" not in result.stderr


def test_bad_service_yaml_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "service.yaml").write_text("name: x\nteam: t\napp: a:b\nshutdown: {grace: -1}\n")
    result = _cli([], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: service.yaml: shutdown.grace: Input should be greater than 0")


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        shutil.copy(APPS / "slowapp.py", tmp_path / "slowapp.py")
        result = _cli(["slowapp:app", "--host", "127.0.0.1", "--port", str(port)], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: slowapp:app did not start on 127.0.0.1:{port} (see the log above)")


def test_workers_each_drain_and_the_supervisor_exits_zero() -> None:
    served = ServedApp("slowapp:app", APPS, drain_delay=0.3, grace=5, extra=["--workers", "2"])

    async def slow_burst() -> list[str]:
        outs = [Outcome(rid=f"r{i}", path="/slow?ms=1500", sent=0) for i in range(6)]
        tasks = [asyncio.create_task(request("127.0.0.1", served.port, o.path, o, 20))
                 for o in outs]
        while served.log_text().count("slowapp.accepted") < 6:
            await asyncio.sleep(0.02)
        served.signal()
        await asyncio.gather(*tasks)
        return [o.result for o in outs]

    try:
        served.wait_ready()
        deadline = time.monotonic() + 30
        while served.log_text().count("Application startup complete") < 2:  # both workers
            assert time.monotonic() < deadline, served.log_text()
            time.sleep(0.05)
        assert asyncio.run(slow_burst()) == ["completed"] * 6
        assert served.wait_exit() == (0, False), served.log_text()
        assert _events(served).count("shutdown.completed") == 2  # one per worker process
    finally:
        served.stop()


def test_options_flags_over_spec_over_defaults(tmp_path: Path) -> None:
    from opsplane.runtime.serve import resolve

    spec = tmp_path / "service.yaml"
    spec.write_text("name: slow\nteam: t\napp: slowapp:app\nport: 9001\n"
                    "shutdown: {drain_delay: 0, grace: 7, max_in_flight: 32}\n")
    from_spec = resolve(spec_path=spec)
    assert (from_spec.app, from_spec.port, from_spec.drain_delay, from_spec.grace,
            from_spec.max_in_flight, from_spec.service) == ("slowapp:app", 9001, 0, 7, 32, "slow")
    flags = resolve("other:app", spec_path=spec, port=9002, drain_delay=1.5, grace=3,
                    max_in_flight=4, workers=2)
    assert (flags.app, flags.port, flags.drain_delay, flags.grace, flags.max_in_flight,
            flags.workers) == ("other:app", 9002, 1.5, 3, 4, 2)
    bare = resolve("x:app", spec_path=tmp_path / "absent.yaml")
    assert (bare.port, bare.drain_delay, bare.grace, bare.max_in_flight, bare.service) == (
        8080, 5.0, 20.0, 256, None)
    assert bare.worst_case_seconds == 5.0 + 20.0 + 4.5  # within the 5 s margin of the docs


def test_environment_between_flags_and_spec(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from opsplane.errors import UsageError
    from opsplane.runtime.serve import resolve

    spec = tmp_path / "service.yaml"
    spec.write_text("name: s\nteam: t\napp: a:b\nshutdown: {drain_delay: 5, grace: 20}\n")
    monkeypatch.setenv("OPSPLANE_DRAIN_DELAY", "0")
    monkeypatch.setenv("OPSPLANE_GRACE", "12.5")
    opts = resolve(spec_path=spec, grace=3)
    assert (opts.drain_delay, opts.grace) == (0.0, 3)
    monkeypatch.setenv("OPSPLANE_MAX_IN_FLIGHT", "lots")
    with pytest.raises(UsageError) as err:
        resolve(spec_path=spec)
    assert str(err.value) == "OPSPLANE_MAX_IN_FLIGHT='lots': not an integer"
