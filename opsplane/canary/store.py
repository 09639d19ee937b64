"""Where runs are kept: SQLite by default, PostgreSQL when the URL says so (psycopg).

Every run is one row of ``runs`` (one collection against one target), and each request's
outcome one row of ``results``. Writes come in batches (the scheduler flushes about once
a second, in a thread); runs older than the retention are deleted by :meth:`Store.prune`.
The methods are synchronous; the service calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opsplane.canary.errors import RegistryError

OUTCOMES = ("passed", "failed", "broken", "timeout", "cut")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY, service TEXT NOT NULL, environment TEXT NOT NULL,
        collection TEXT NOT NULL, trigger TEXT NOT NULL, scheduled_at DOUBLE PRECISION,
        started_at DOUBLE PRECISION NOT NULL, duration_s DOUBLE PRECISION NOT NULL,
        skew_s DOUBLE PRECISION NOT NULL, outcome TEXT NOT NULL, passed INTEGER NOT NULL,
        failed INTEGER NOT NULL, message TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS runs_target ON runs (service, environment, started_at)",
    "CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)",
    """CREATE TABLE IF NOT EXISTS results (
        run_id TEXT NOT NULL, idx INTEGER NOT NULL, iteration INTEGER NOT NULL,
        name TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL, status INTEGER,
        elapsed_ms DOUBLE PRECISION NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,
        PRIMARY KEY (run_id, iteration, idx))""",
)
_RUN_COLS = ("id", "service", "environment", "collection", "trigger", "scheduled_at",
             "started_at", "duration_s", "skew_s", "outcome", "passed", "failed", "message")
_RESULT_COLS = ("run_id", "idx", "iteration", "name", "method", "url", "status",
                "elapsed_ms", "outcome", "detail")


@dataclass(frozen=True)
class ResultRecord:
    """One request's outcome (secrets already masked by the runner)."""

    idx: int
    iteration: int
    name: str
    method: str
    url: str
    status: int | None
    elapsed_ms: float
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class RunRecord:
    """One collection run against one target."""

    id: str
    service: str
    environment: str
    collection: str
    trigger: str  # schedule | slack | api
    scheduled_at: float | None
    started_at: float
    duration_s: float
    skew_s: float
    outcome: str  # one of OUTCOMES
    passed: int
    failed: int
    message: str = ""
    results: tuple[ResultRecord, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.outcome == "passed"

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("results")
        return d

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "results": [asdict(r) for r in self.results]}


class Store:
    """A SQL store of runs. ``Store.open(url)`` picks SQLite or PostgreSQL."""

    placeholder = "?"

    def __init__(self, conn: Any, url: str) -> None:
        self.conn = conn
        self.url = url
        self.lock = threading.Lock()

    @staticmethod
    def open(url: str) -> Store:
        if url.startswith("sqlite:///"):
            return SqliteStore.connect(url)
        if url.startswith(("postgresql://", "postgres://")):
            return PostgresStore.connect(url)
        raise RegistryError(f"store url: {redact(url)!r} is neither sqlite:/// nor postgresql://")

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def setup(self) -> None:
        with self.lock:
            cur = self.conn.cursor()
            for stmt in _SCHEMA:
                cur.execute(stmt)
            self.conn.commit()

    def write(self, runs: Sequence[RunRecord]) -> None:
        """Insert runs and their results in one transaction."""
        if not runs:
            return
        q = ", ".join("?" * len(_RUN_COLS))
        rq = ", ".join("?" * len(_RESULT_COLS))
        run_rows = [tuple(getattr(r, c) for c in _RUN_COLS) for r in runs]
        result_rows = [(r.id, x.idx, x.iteration, x.name, x.method, x.url, x.status,
                        x.elapsed_ms, x.outcome, x.detail) for r in runs for x in r.results]
        with self.lock:
            cur = self.conn.cursor()
            cur.executemany(self._sql(f"INSERT INTO runs ({', '.join(_RUN_COLS)}) "
                                      f"VALUES ({q})"), run_rows)
            if result_rows:
                cur.executemany(self._sql(f"INSERT INTO results ({', '.join(_RESULT_COLS)}) "
                                          f"VALUES ({rq})"), result_rows)
            self.conn.commit()

    def prune(self, before: float) -> int:
        """Delete runs started before ``before`` (epoch seconds); returns how many."""
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._sql("DELETE FROM results WHERE run_id IN "
                                  "(SELECT id FROM runs WHERE started_at < ?)"), (before,))
            cur.execute(self._sql("DELETE FROM runs WHERE started_at < ?"), (before,))
            n = cur.rowcount
            self.conn.commit()
        return int(n or 0)

    def _runs(self, where: str, args: Iterable[Any], limit: int) -> list[RunRecord]:
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._sql(f"SELECT {', '.join(_RUN_COLS)} FROM runs {where} "
                                  "ORDER BY started_at DESC, id LIMIT ?"), (*args, limit))
            rows = cur.fetchall()
            self.conn.commit()
        return [RunRecord(**dict(zip(_RUN_COLS, row, strict=True))) for row in rows]

    def history(self, service: str | None = None, environment: str | None = None,
                collection: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first, optionally of one service / environment / collection."""
        conds, args = [], []
        for col, val in (("service", service), ("environment", environment),
                         ("collection", collection)):
            if val is not None:
                conds.append(f"{col} = ?")
                args.append(val)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        return self._runs(where, args, limit)

    def run(self, run_id: str) -> RunRecord | None:
        """One run with its results."""
        found = self._runs("WHERE id = ?", (run_id,), 1)
        if not found:
            return None
        with self.lock:
            cur = self.conn.cursor()
            cur.execute(self._sql(f"SELECT {', '.join(_RESULT_COLS[1:])} FROM results "
                                  "WHERE run_id = ? ORDER BY iteration, idx"), (run_id,))
            rows = cur.fetchall()
            self.conn.commit()
        results = tuple(ResultRecord(**dict(zip(_RESULT_COLS[1:], row, strict=True)))
                        for row in rows)
        return RunRecord(**{**found[0].summary(), "results": results})

    def count(self) -> tuple[int, int]:
        """(runs, results) kept."""
        with self.lock:
            cur = self.conn.cursor()
            cur.execute("SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM results)")
            row = cur.fetchone()
            self.conn.commit()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class SqliteStore(Store):
    @classmethod
    def connect(cls, url: str) -> SqliteStore:
        import sqlite3

        path = url.removeprefix("sqlite:///")  # sqlite:////abs/path or sqlite:///relative
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as e:
            raise RegistryError(f"store {url}: cannot open: {e}") from e
        store = cls(conn, url)
        store.setup()
        return store


class PostgresStore(Store):
    placeholder = "%s"

    @classmethod
    def connect(cls, url: str) -> PostgresStore:
        try:
            import psycopg
        except ImportError as e:  # pragma: no cover - the extra is missing
            raise RegistryError("store: PostgreSQL needs psycopg: pip install "
                                "'opsplane[canary]' (or opsplane[postgres])") from e
        try:
            conn = psycopg.connect(url, connect_timeout=10)
        except psycopg.Error as e:
            raise RegistryError(f"store {redact(url)}: cannot connect: "
                                f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") \
                from e
        store = cls(conn, redact(url))
        store.setup()
        return store


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    import re

    return re.sub(r"^([a-z+]+://[^/:@\s]+):[^/@\s]*@", r"\1:***@", url)
