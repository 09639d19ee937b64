"""Storage of the orders service: SQLite by default, PostgreSQL when DATABASE_URL says so.

Plain DB-API (sqlite3, or psycopg when installed: the ``postgres`` extra). The schema and
the seed data (customers C-1001..C-1010 and a few historical orders) are created on start,
idempotently. SQLite runs inline on the event loop (local file, sub-millisecond statements);
PostgreSQL statements run in a worker thread, one at a time on one connection. When the
server goes away, a statement fails fast with ``DatabaseUnavailable`` (HTTP 503) and the
next one reconnects: the service recovers without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import tracing
from opsplane import ApiError

T = TypeVar("T")

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS customers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS orders (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        status TEXT NOT NULL,
        total_cents INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS order_items (
        order_id TEXT NOT NULL REFERENCES orders(id),
        line INTEGER NOT NULL,
        sku TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        price_cents INTEGER NOT NULL,
        PRIMARY KEY (order_id, line))""",
    "CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, created_at)",
]

CUSTOMERS = [
    ("C-1001", "Ada Lovelace", "ada@example.com"),
    ("C-1002", "Grace Hopper", "grace@example.com"),
    ("C-1003", "Alan Turing", "alan@example.com"),
    ("C-1004", "Katherine Johnson", "katherine@example.com"),
    ("C-1005", "Edsger Dijkstra", "edsger@example.com"),
    ("C-1006", "Barbara Liskov", "barbara@example.com"),
    ("C-1007", "Donald Knuth", "donald@example.com"),
    ("C-1008", "Margaret Hamilton", "margaret@example.com"),
    ("C-1009", "Ken Thompson", "ken@example.com"),
    ("C-1010", "Frances Allen", "frances@example.com"),
]

# id, customer, status, created, [(sku, quantity, price_cents)]
SEED_ORDERS = [
    ("O-000000000001", "C-1001", "paid", "2026-01-05T09:12:00.000Z",
     [("SKU-1", 2, 950), ("SKU-7", 1, 2499)]),
    ("O-000000000002", "C-1001", "shipped", "2026-01-02T16:40:00.000Z", [("SKU-3", 1, 12900)]),
    ("O-000000000003", "C-1002", "cancelled", "2026-01-03T11:05:00.000Z", [("SKU-2", 3, 400)]),
    ("O-000000000004", "C-1003", "payment_failed", "2026-01-04T08:30:00.000Z",
     [("SKU-5", 1, 5999)]),
    ("O-000000000005", "C-1004", "created", "2026-01-06T13:00:00.000Z", [("SKU-1", 1, 950)]),
]

CANCELLABLE = frozenset({"created", "paid", "payment_failed"})
CONNECT_TIMEOUT_S = 2  # a PostgreSQL that does not answer fails the statement, not the request


class DatabaseUnavailable(ApiError):
    """The database cannot be reached: answered 503, the server's message kept out."""

    def __init__(self, kind: str, error: BaseException) -> None:
        super().__init__(503, "DATABASE_UNAVAILABLE",
                         f"the {kind} database is unavailable ({type(error).__name__}); "
                         "try again")


def sqlite_path(url: str) -> str:
    """``sqlite:///orders.db`` -> ``orders.db``; ``sqlite:////abs/x.db`` -> ``/abs/x.db``."""
    rest = url.split(":", 1)[1]
    return rest[3:] if rest.startswith("///") else rest.lstrip("/")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Database:
    """A connection and the few statements the service needs."""

    def __init__(self, url: str) -> None:
        scheme = url.split(":", 1)[0].split("+", 1)[0]
        self.url = url
        self.kind = "postgresql" if scheme in ("postgres", "postgresql") else scheme
        self._lock = threading.Lock()
        self.con: Any
        if self.kind == "sqlite":
            import sqlite3

            self.con = sqlite3.connect(sqlite_path(url), check_same_thread=False,
                                       isolation_level=None)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA foreign_keys=ON")
            self.con.execute("PRAGMA busy_timeout=2000")
            self.param = "?"
        elif self.kind == "postgresql":
            self.con = None
            self.param = "%s"
            self.con = self._connect()
        else:
            raise ValueError(f"DATABASE_URL scheme {scheme!r} is not sqlite or postgresql")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a storage function: inline for SQLite, in a worker thread for PostgreSQL.

        Each call is one ``db <operation>`` span when tracing is on (a no-op otherwise).
        """
        name = getattr(fn, "__name__", "query")
        with tracing.span(f"db {name}", **{"db.system.name": self.kind,
                                            "db.operation.name": name}):
            if self.kind == "sqlite":
                return fn(*args)
            import anyio.to_thread

            return await anyio.to_thread.run_sync(self._locked, fn, *args)

    def _connect(self) -> Any:
        import psycopg

        url = self.url.replace("postgresql+psycopg", "postgresql")
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as e:
            raise DatabaseUnavailable(self.kind, e) from None

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        """One PostgreSQL statement group at a time; reconnect when the last one broke."""
        import psycopg

        with self._lock:
            if self.con is None or self.con.closed or self.con.broken:
                if self.con is not None:
                    self.con.close()
                self.con = None
                self.con = self._connect()
            try:
                return fn(*args)
            except psycopg.OperationalError as e:
                raise DatabaseUnavailable(self.kind, e) from None

    def _q(self, sql: str) -> str:
        return sql if self.param == "?" else sql.replace("?", "%s")

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.con.execute(self._q(sql), params)

    def _tx(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._exec("BEGIN")
        try:
            for sql, params in statements:
                self._exec(sql, params)
        except BaseException:
            self._exec("ROLLBACK")
            raise
        self._exec("COMMIT")

    # -- setup -----------------------------------------------------------------------
    def setup(self) -> None:
        stmts: list[tuple[str, tuple[Any, ...]]] = [(s, ()) for s in SCHEMA]
        created = "2025-12-01T00:00:00.000Z"
        for cid, name, email in CUSTOMERS:
            stmts.append(("INSERT INTO customers (id, name, email, created_at) VALUES "
                          "(?, ?, ?, ?) ON CONFLICT DO NOTHING", (cid, name, email, created)))
        for oid, cid, status, at, items in SEED_ORDERS:
            total = sum(q * p for _, q, p in items)
            stmts.append(("INSERT INTO orders (id, customer_id, status, total_cents, "
                          "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                          "ON CONFLICT DO NOTHING", (oid, cid, status, total, at, at)))
            for line, (sku, q, p) in enumerate(items, 1):
                stmts.append(("INSERT INTO order_items (order_id, line, sku, quantity, "
                              "price_cents) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                              (oid, line, sku, q, p)))
        self._tx(stmts)

    def ping(self) -> None:
        self._exec("SELECT 1").fetchone()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()

    # -- queries ---------------------------------------------------------------------
    def customer_exists(self, customer_id: str) -> bool:
        return self._exec("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone() \
            is not None

    def insert_order(self, order_id: str, customer_id: str, status: str, total_cents: int,
                     *, items: list[tuple[str, int, int]], at: str) -> None:
        stmts: list[tuple[str, tuple[Any, ...]]] = [
            ("INSERT INTO orders (id, customer_id, status, total_cents, created_at, updated_at)"
             " VALUES (?, ?, ?, ?, ?, ?)", (order_id, customer_id, status, total_cents, at, at))]
        for line, (sku, q, p) in enumerate(items, 1):
            stmts.append(("INSERT INTO order_items (order_id, line, sku, quantity, price_cents)"
                          " VALUES (?, ?, ?, ?, ?)", (order_id, line, sku, q, p)))
        self._tx(stmts)

    def set_status(self, order_id: str, status: str, only_from: frozenset[str] | None = None,
                   ) -> bool:
        """Change an order's status; False when it is not in one of ``only_from``."""
        at = now_iso()
        if only_from is None:
            cur = self._exec("UPDATE orders SET status = ?, updated_at = ? WHERE id = ?",
                             (status, at, order_id))
        else:
            marks = ", ".join("?" for _ in only_from)
            cur = self._exec(f"UPDATE orders SET status = ?, updated_at = ? WHERE id = ? "
                             f"AND status IN ({marks})",
                             (status, at, order_id, *sorted(only_from)))
        return bool(cur.rowcount)

    def _items(self, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {oid: [] for oid in order_ids}
        if not order_ids:
            return out
        marks = ", ".join("?" for _ in order_ids)
        rows = self._exec(f"SELECT order_id, sku, quantity, price_cents FROM order_items "
                          f"WHERE order_id IN ({marks}) ORDER BY order_id, line",
                          tuple(order_ids)).fetchall()
        for oid, sku, q, p in rows:
            out[oid].append({"sku": sku, "quantity": q, "price": p / 100})
        return out

    @staticmethod
    def _order(row: tuple[Any, ...], items: list[dict[str, Any]]) -> dict[str, Any]:
        oid, cid, status, total, created, updated = row
        return {"id": oid, "customerId": cid, "status": status, "total": total / 100,
                "items": items, "createdAt": created, "updatedAt": updated}

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        row = self._exec("SELECT id, customer_id, status, total_cents, created_at, updated_at "
                         "FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None:
            return None
        return self._order(row, self._items([order_id])[order_id])

    def list_orders(self, customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._exec("SELECT id, customer_id, status, total_cents, created_at, updated_at "
                          "FROM orders WHERE customer_id = ? ORDER BY created_at DESC, id "
                          "LIMIT ?", (customer_id, limit)).fetchall()
        items = self._items([r[0] for r in rows])
        return [self._order(r, items[r[0]]) for r in rows]
