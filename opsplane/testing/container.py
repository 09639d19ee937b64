"""A service image run in Docker the way a cluster would: host network, read-only root,
readiness waited for, ``docker stop`` as the kubelet's SIGTERM then SIGKILL after the grace.

    started = ensure_docker()                # scripts/docker.sh daemon: installed and started
    image = build_image()                    # scripts/docker.sh image: cached by source hash
    with ContainerApp(image, port=free_port(), drain_delay=1, grace=5) as orders:
        orders.wait_ready()                  # ContainerNotReady: last log lines + readiness body
        ...
        orders.signal()                      # `docker stop -t GRACE` in the background
        code, killed = orders.wait_exit()

``ContainerApp`` has the interface ``opsplane.testing.drill.run_drill`` drives (``port``,
``signal``,
``wait_exit``, ``records``, ``termination_grace``). Used by tests/test_containers.py and
bench/image.py. The container is removed on ``close`` (and on leaving the ``with`` block).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from opsplane.errors import OpsplaneError

ROOT = Path(__file__).resolve().parents[2]
DOCKER_SH = ROOT / "scripts" / "docker.sh"
IMAGE = "opsplane/orders:local"


class DockerUnavailable(OpsplaneError):
    """No Docker daemon answers and none could be started (the message says how)."""

    exit_code = 2


class ContainerNotReady(OpsplaneError):
    """The container exited or never answered readiness 200 (with its last log lines)."""


def _script(*args: str, env: dict[str, str] | None = None) -> str:
    if not DOCKER_SH.exists():
        raise DockerUnavailable(f"{DOCKER_SH} is missing (a source checkout is needed)")
    r = subprocess.run(["bash", str(DOCKER_SH), *args], capture_output=True, text=True,
                       check=False, env={**os.environ, **(env or {})})
    if r.returncode == 2:
        lines = r.stderr.strip().splitlines() or ["scripts/docker.sh failed"]
        raise DockerUnavailable(lines[-1].removeprefix("docker.sh: "))
    if r.returncode != 0:
        raise OpsplaneError(f"scripts/docker.sh {' '.join(args)} failed:\n{r.stderr.strip()}")
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


def docker_answers() -> bool:
    """Whether a Docker daemon answers ``docker info`` now."""
    try:
        return subprocess.run(["docker", "info"], capture_output=True, check=False,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_docker(start: bool = True) -> bool:
    """A daemon that answers ``docker info``: installed and started when ``start`` (root).
    True when this call started it (stop it with ``stop_docker``)."""
    answered = docker_answers()
    try:
        _script("daemon" if start and not answered else "check")
    except DockerUnavailable:
        raise
    except OpsplaneError as e:  # e.g. apt-get could not install docker.io
        raise DockerUnavailable(str(e).splitlines()[-1]) from e
    return not answered


def stop_docker() -> None:
    """Stop the dockerd scripts/docker.sh started (by its recorded pid); others stay."""
    _script("stop")


def base_image(debian: bool = False) -> str:
    """The Python base's tag (slim if pullable, else the Debian-built one, made once)."""
    return _script("base", env={"OPSPLANE_BASE": "debian"} if debian else None)


def build_image(tag: str = IMAGE, base: str | None = None) -> str:
    """The orders image at ``tag`` (rebuilt only when the sources or the base changed)."""
    env = {"OPSPLANE_BASE": "debian"} if base == "debian" else None
    return _script("image", tag, env=env)


def docker(*args: str, timeout: float = 120.0) -> str:
    """``docker ARGS``: stdout; an OpsplaneError with docker's message when it fails."""
    r = subprocess.run(["docker", *args], capture_output=True, text=True, check=False,
                       timeout=timeout)
    if r.returncode != 0:
        raise OpsplaneError(f"docker {args[0]}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def http_get(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    """(status, body) of a GET; (None, the error) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(getattr(e, "reason", e))


def http_post(url: str, doc: Any, timeout: float = 10.0) -> tuple[int | None, str]:
    """(status, body) of a JSON POST; (None, the error) when nothing answered."""
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return int(r.status), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(getattr(e, "reason", e))


class ContainerApp:
    """One container of ``image`` on the host network, serving on 127.0.0.1:``port``.

    ``args`` follow the image's entrypoint (``opsplane serve``): the app and serve's flags.
    The root filesystem is read-only with a tmpfs on /data (the SQLite directory).
    """

    def __init__(self, image: str, *, port: int, args: Sequence[str] = (),
                 env: dict[str, str] | None = None, name: str | None = None,
                 drain_delay: float = 1.0, grace: float = 5.0, read_only: bool = True) -> None:
        self.image = image
        self.port = port
        self.drain_delay = drain_delay
        self.grace = grace
        self.name = name or f"opsplane-test-{uuid.uuid4().hex[:10]}"
        self._stopper: subprocess.Popen[bytes] | None = None
        self.stop_seconds: float | None = None
        self._signalled_at = 0.0
        cmd = ["run", "--detach", "--name", self.name, "--network", "host",
               "--stop-timeout", str(int(self.termination_grace))]
        if read_only:
            cmd += ["--read-only", "--tmpfs", "/data"]
        for key, value in (env or {}).items():
            cmd += ["--env", f"{key}={value}"]
        cmd += [image, *args, "--host", "127.0.0.1", "--port", str(port),
                "--drain-delay", f"{drain_delay:g}", "--grace", f"{grace:g}"]
        self.started_at = time.monotonic()
        self.id = docker(*cmd).strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def termination_grace(self) -> float:
        """What the kubelet allows: drain_delay + grace + 5 (docs/shutdown.md)."""
        return self.drain_delay + self.grace + 5

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(docker("inspect", "-f", "{{json .State}}", self.name))
        return state

    def wait_ready(self, timeout: float = 60.0, path: str = "/healthz/readiness") -> float:
        """Seconds from ``docker run`` to readiness 200. ContainerNotReady (with the last log
        lines and the readiness body) when the container exits or the time runs out."""
        deadline = time.monotonic() + timeout
        status: int | None = None
        body = ""
        delay = 0.02
        while time.monotonic() < deadline:
            status, body = http_get(self.url + path)
            if status == 200:
                return time.monotonic() - self.started_at
            if status is None and not self.state().get("Running", False):
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        state = self.state()
        why = ("exited with code " + str(state.get("ExitCode")) if not state.get("Running")
               else f"not ready after {timeout:g}s")
        raise ContainerNotReady(
            f"container {self.name} ({self.image}) {why}; readiness: "
            f"{status if status is not None else 'no answer'} {body.strip()[:2000]}\n"
            f"last log lines:\n{self.logs(tail=20)}")

    def logs(self, tail: int | None = None) -> str:
        """stdout and stderr of the container, interleaved as docker keeps them."""
        args = ["logs", *(["--tail", str(tail)] if tail is not None else []), self.name]
        r = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
        return r.stdout + r.stderr

    def log_lines(self) -> list[str]:
        return [line for line in self.logs().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records of the container (lines that are not JSON are left out)."""
        out = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def signal(self, sig: int = 15) -> None:
        """``docker stop``: the image's STOPSIGNAL now, SIGKILL after the grace period."""
        del sig  # docker stop sends the image's STOPSIGNAL (SIGTERM)
        self._signalled_at = time.monotonic()
        self._stopper = subprocess.Popen(
            ["docker", "stop", "-t", str(int(self.termination_grace)), self.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_exit(self, timeout: float | None = None) -> tuple[int | None, bool]:
        """(exit code, killed): killed when docker had to SIGKILL after the grace period."""
        if self._stopper is None:
            self.signal()
        assert self._stopper is not None
        self._stopper.wait(timeout=(timeout or self.termination_grace) + 30)
        self.stop_seconds = time.monotonic() - self._signalled_at
        state = self.state()
        code = state.get("ExitCode")
        # 137: SIGKILL, what docker sends when the grace period ran out
        killed = code == 137 and not state.get("OOMKilled", False)
        return (None if killed else code), killed

    def rss_bytes(self) -> int:
        """Resident memory of the container's main process (the service: PID 1 inside),
        read from the host's /proc."""
        pid = int(docker("inspect", "-f", "{{.State.Pid}}", self.name).strip())
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise OpsplaneError(f"/proc/{pid}/status has no VmRSS line")

    def close(self) -> None:
        """Remove the container (killed when still running)."""
        if self._stopper is not None and self._stopper.poll() is None:
            self._stopper.kill()
            self._stopper.wait()
        subprocess.run(["docker", "rm", "--force", self.name], capture_output=True, check=False)

    def __enter__(self) -> ContainerApp:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
