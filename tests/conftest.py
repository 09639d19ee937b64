"""Shared fixtures: logging reset between tests, the shared schemas, --update-golden."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import logstd
from tests.pg import PostgresMissing, PostgresServer

ROOT = Path(__file__).resolve().parent.parent
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden files from the current output")


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    logstd.reset()
    yield
    logstd.reset()
    # an app started in this process froze the heap (opsplane's gc.freeze at startup):
    # give the next test a collector that sees everything again
    gc.unfreeze()


@pytest.fixture
def shared_schemas() -> Path:
    """../shared/schemas; skipped with a reason in a user's clone, a failure under CI."""
    if not SHARED_SCHEMAS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_SCHEMAS} is missing; CI needs ../shared beside the clone")
        pytest.skip(f"{SHARED_SCHEMAS} not present (published schemas live in ../shared)")
    return SHARED_SCHEMAS


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """golden("name.txt", text): compare with tests/golden/name.txt (or rewrite it)."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path}; run pytest --update-golden"
        assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"

    return check


def require_tool(name: str) -> str:
    """Path of a tool the test drives for real; missing is a failure under CI, else a skip."""
    import shutil

    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (make test installs it: scripts/system-deps.sh)")
        pytest.skip(f"{name} not installed")
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL (Debian's, tests/pg.py) on a free loopback port, for the session.

    Missing postgresql is a failure under CI, else a skip. Stopped by pid at the end.
    """
    try:
        server = PostgresServer()  # its own temp dir: pytest's is root-only (0700)
    except PostgresMissing as e:
        if os.environ.get("CI") == "true":
            pytest.fail(str(e))
        pytest.skip(str(e))
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def pg_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> str:
    """URL of a fresh, empty database on the session's PostgreSQL (named for the test)."""
    import re

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:55]
    return postgres.create_database(name)
