"""Readiness checks built from the spec's dependencies: http, sql, tcp (redis, nats by TCP).

The address comes from ``url_env`` when that variable is set, else ``url`` with
``${VAR}`` placeholders expanded. Outputs name the dependency and a redacted address.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opsplane.runtime._health import CheckResult, HealthCheck, redact

if TYPE_CHECKING:
    import httpx

    from opsplane.spec.service import Dependency

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_PORTS = {"redis": 6379, "rediss": 6379, "nats": 4222, "postgresql": 5432,
                 "postgres": 5432, "mysql": 3306, "http": 80, "https": 443}
COMPONENT_TYPES = {"http": "component", "sql": "datastore", "tcp": "component",
                   "redis": "datastore", "nats": "component"}


class DependencyAddressError(Exception):
    pass


def resolve_address(dep: Dependency, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if dep.url_env and env.get(dep.url_env):
        return env[dep.url_env]
    if dep.url:
        missing = [m for m in _PLACEHOLDER.findall(dep.url) if not env.get(m)]
        if missing:
            raise DependencyAddressError(f"environment variable {missing[0]} is not set")
        return _PLACEHOLDER.sub(lambda m: env[m.group(1)], dep.url)
    raise DependencyAddressError(f"environment variable {dep.url_env} is not set")


def _host_port(address: str, kind: str) -> tuple[str, int]:
    parts = urlsplit(address if "//" in address else f"tcp://{address}")
    if not parts.hostname:
        raise DependencyAddressError(f"no host in {redact(address)!r}")
    port = parts.port or DEFAULT_PORTS.get(parts.scheme) or DEFAULT_PORTS.get(kind)
    if port is None:
        raise DependencyAddressError(f"no port in {redact(address)!r}")
    return parts.hostname, port


class HttpClientHolder:
    """One httpx client shared by the http checks of a service (opened on first use)."""

    def __init__(self) -> None:
        self.client: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self.client is None:
            import httpx

            self.client = httpx.AsyncClient(follow_redirects=False,
                                            headers={"User-Agent": "opsplane-healthcheck"})
        return self.client

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None


def dependency_check(dep: Dependency, http: HttpClientHolder) -> HealthCheck:
    """The readiness check for one dependency of the spec."""
    kind = dep.kind
    timeout = dep.timeout_ms / 1000

    async def check() -> Any:
        try:
            address = resolve_address(dep)
        except DependencyAddressError as e:
            return CheckResult(status="fail", output=str(e))
        if kind == "http":
            return await _http(address, dep.check or "/healthz/ping", http, timeout)
        if kind == "sql":
            return await _sql(address)
        return await _tcp(*_host_port(address, kind))

    return HealthCheck(f"{dep.name}:responseTime", check, COMPONENT_TYPES.get(kind, "component"),
                       timeout=timeout, critical=dep.critical)


async def _http(base: str, path: str, http: HttpClientHolder, timeout: float) -> Any:
    url = base.rstrip("/") + "/" + path.lstrip("/")
    resp = await http.get().get(url, timeout=timeout)
    if resp.status_code >= 300:
        return CheckResult(status="fail", output=f"GET {redact(url)}: HTTP {resp.status_code}")
    return None


async def _tcp(host: str, port: int) -> None:
    _reader, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _sql(address: str) -> Any:
    scheme = urlsplit(address).scheme.split("+", 1)[0]
    if scheme == "sqlite":
        import anyio.to_thread

        await anyio.to_thread.run_sync(_sqlite_ping, address)
        return None
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return await _tcp(*_host_port(address, "postgresql"))
        import anyio.to_thread

        await anyio.to_thread.run_sync(_pg_ping, address)
        return None
    return await _tcp(*_host_port(address, scheme))


def sqlite_path(address: str) -> str:
    """The file of a ``sqlite:///path`` URL (``sqlite:///:memory:`` stays as it is)."""
    rest = address.split(":", 1)[1]
    return rest[3:] if rest.startswith("///") else rest.lstrip("/")


def _sqlite_ping(address: str) -> None:
    import sqlite3

    path = sqlite_path(address)
    if path != ":memory:" and not os.path.exists(path):
        raise FileNotFoundError(f"database file {path} does not exist")
    con = sqlite3.connect(path, timeout=1.0)
    try:
        con.execute("SELECT 1").fetchone()
    finally:
        con.close()


def _pg_ping(address: str) -> None:  # pragma: no cover - needs a PostgreSQL server
    import psycopg

    with psycopg.connect(address.replace("postgresql+psycopg", "postgresql"),
                         connect_timeout=2) as con:
        con.execute("SELECT 1")
