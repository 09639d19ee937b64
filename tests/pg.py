"""A throwaway PostgreSQL server for tests: Debian's postgresql binaries on loopback.

``PostgresServer(tmp).start()`` runs ``initdb`` into a temp dir and starts ``postgres`` on a
free 127.0.0.1 port, as the ``postgres`` user when the tests run as root (the server refuses
to run as root). The server's pid is the child's pid: ``stop()`` sends it SIGINT (a fast
shutdown) and waits; ``start()`` again reuses the same data dir and port (a restart, for
fault tests). Readiness is the server's own "ready to accept connections" log line.

Used by the ``postgres`` / ``pg_url`` fixtures of tests/conftest.py; a missing postgresql
is a failure under CI (``CI=true``) and a skip with its reason otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

READY = b"database system is ready to accept connections"


class PostgresMissing(RuntimeError):
    """Debian's postgresql binaries are not installed here."""


def bindir() -> Path:
    """The newest /usr/lib/postgresql/N/bin holding initdb (or initdb on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresMissing("postgresql is not installed (initdb not found; "
                          "scripts/system-deps.sh installs Debian's postgresql)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One postgres process in ``root`` (a temp dir it owns), on 127.0.0.1:``port``."""

    def __init__(self, root: Path | None = None, *, port: int | None = None) -> None:
        self.bin = bindir()
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        if os.geteuid() == 0:  # postgres refuses root: run it as the postgres user
            self.user = "postgres"

    # -- lifecycle -------------------------------------------------------------------
    def _chown(self, path: Path) -> None:
        if self.user is not None:
            shutil.chown(path, user=self.user)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        self.sock.mkdir(exist_ok=True)
        self._chown(self.sock)
        out = subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            check=False, user=self.user, capture_output=True, text=True, cwd=self.root,
            timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed ({out.returncode}): {out.stderr.strip()}")

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """Start (initdb first when the data dir is new); return once it accepts connections."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        if self.log.exists():
            self.log.unlink()
        fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.proc = subprocess.Popen(
                [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-h", "127.0.0.1", "-k", str(self.sock), "-F",
                 "-c", "max_connections=50", "-c", "shared_buffers=16MB",
                 "-c", "log_min_messages=warning", "-c", "log_startup_progress_interval=0"],
                user=self.user, stdout=fd, stderr=fd, stdin=subprocess.DEVNULL,
                cwd=self.root)
        finally:
            os.close(fd)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited {self.proc.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)  # polling the server's log for its ready line
        self.stop()
        raise TimeoutError(f"postgres not ready in {timeout}s: "
                           f"{self.log.read_text(errors='replace')[-2000:]}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT to the postmaster's pid (fast shutdown), then wait; SIGKILL past timeout."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- use -------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL with Debian's psql; return its stdout (raises on error)."""
        out = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", dbname,
             "-c", sql], check=True, capture_output=True, text=True, timeout=60)
        return out.stdout

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)
