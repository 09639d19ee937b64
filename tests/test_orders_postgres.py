"""The orders service's PostgreSQL path against Debian's postgresql on loopback (tests/pg.py).

The storage functions give the same answers on PostgreSQL as on SQLite; the service runs on
PostgreSQL end to end; and when the server goes away and comes back, orders answers 503 fast
while it is away and recovers without a restart.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._service_procs import ORDERS, orders_and_payments, wait_for
from tests.pg import PostgresServer

sys.path.insert(0, str(ORDERS))
from orders.db import Database, DatabaseUnavailable


def _exercise(db: Database) -> list[Any]:
    """The statements the service runs, in order; their results."""
    db.setup()
    db.setup()  # idempotent: the seed is not doubled
    out: list[Any] = [db.customer_exists("C-1001"), db.customer_exists("C-9999")]
    db.insert_order("O-aaaaaaaaaaaa", "C-1005", "created", 1900,
                    items=[("SKU-1", 2, 950)], at="2026-02-01T00:00:00.000Z")
    out.append(db.get_order("O-aaaaaaaaaaaa"))
    out.append(db.set_status("O-aaaaaaaaaaaa", "paid", frozenset({"created"})))
    out.append(db.set_status("O-aaaaaaaaaaaa", "cancelled", frozenset({"shipped"})))
    out.append(db.set_status("O-missing", "paid"))
    got = db.get_order("O-aaaaaaaaaaaa")
    assert got is not None
    got.pop("updatedAt")
    out.append(got)
    out.append(db.list_orders("C-1001"))
    out.append([{**o, "updatedAt": "-"} for o in db.list_orders("C-1005", limit=1)])
    out.append(db.get_order("O-nope"))
    with pytest.raises(Exception) as unknown:  # the driver's own (DB-API) IntegrityError
        db.insert_order("O-bbbbbbbbbbbb", "C-4242", "created", 1, items=[], at="x")
    assert any(k.__name__ == "IntegrityError" for k in type(unknown.value).__mro__)
    out.append(db.get_order("O-bbbbbbbbbbbb"))  # the failed transaction left nothing
    db.ping()
    return out


def test_storage_answers_as_sqlite_does(pg_url: str, tmp_path: Path) -> None:
    pg = Database(pg_url)
    lite = Database(f"sqlite:///{tmp_path / 'o.db'}")
    try:
        assert pg.kind == "postgresql"
        assert pg.param == "%s"
        on_pg = _exercise(pg)
        assert on_pg == _exercise(lite)
        assert on_pg[0] is True
        assert on_pg[1] is False
        assert on_pg[3] is True
        assert on_pg[4] is False
        assert on_pg[5] is False
        assert on_pg[6]["status"] == "paid"
        assert on_pg[6]["total"] == 19.0
        assert [o["id"] for o in on_pg[7]] == ["O-000000000001", "O-000000000002"]
    finally:
        pg.close()
        lite.close()


async def test_run_uses_a_worker_thread_and_reconnects(postgres: PostgresServer,
                                                       pg_url: str) -> None:
    db = Database(pg_url)
    try:
        await db.run(db.setup)
        assert await db.run(db.customer_exists, "C-1002")
        postgres.stop()
        with pytest.raises(DatabaseUnavailable) as err:
            await db.run(db.ping)
        assert err.value.status == 503
        assert err.value.code == "DATABASE_UNAVAILABLE"
        assert "postgres@" not in str(err.value)  # the URL is not in the message
        postgres.start()
        assert await db.run(functools.partial(db.list_orders, "C-1002"))
    finally:
        if postgres.proc is None:
            postgres.start()
        db.close()


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="not sqlite or postgresql"):
        Database("mysql://x/y")


def test_service_on_postgresql_survives_a_server_restart(
        postgres: PostgresServer, pg_url: str, tmp_path: Path) -> None:
    with (orders_and_payments(tmp_path, env={"DATABASE_URL": pg_url}) as (orders, _),
          httpx.Client(base_url=orders.url, timeout=10) as c):
        r = c.post("/orders", json={"customerId": "C-1001",
                                    "items": [{"sku": "SKU-1", "quantity": 1,
                                               "price": 9.5}]})
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        assert postgres.psql(f"SELECT status FROM orders WHERE id = '{oid}'",
                             dbname=pg_url.rsplit("/", 1)[1]).strip() == "paid"
        ready = c.get("/healthz/readiness")
        assert ready.status_code == 200, ready.text

        postgres.stop()
        try:
            down = wait_for(lambda: (r := c.get("/healthz/readiness")).status_code == 503
                            and r)
            assert "database" in down.text
            # answered, not hung: the client's 10 s timeout would raise first
            failed = c.get(f"/orders/{oid}")
            assert failed.status_code == 503, failed.text
            assert failed.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        finally:
            postgres.start()

        back = wait_for(lambda: c.get(f"/orders/{oid}").status_code == 200)
        assert back
        # readiness caches its checks for a moment: wait for the next round
        assert wait_for(lambda: c.get("/healthz/readiness").status_code == 200)
        assert orders.starts == 1
        assert orders.proc is not None
        assert orders.proc.poll() is None
