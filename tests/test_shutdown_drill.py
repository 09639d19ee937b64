"""The HTTP drill: steady load, SIGTERM mid-run, nothing accepted is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsplane.testing.drill import ServedApp, run_drill

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def drill():  # type: ignore[no-untyped-def]
    served = ServedApp("slowapp:app", APPS, drain_delay=1.0, grace=5.0)
    try:
        served.wait_ready()
        yield run_drill(served, rate=60, before=1.0, after=2.5, slow_every=5, slow_ms=2000)
    finally:
        served.stop()


def test_exits_zero_before_the_kubelet_kills_it(drill) -> None:  # type: ignore[no-untyped-def]
    assert drill.killed is False
    assert drill.exit_code == 0


def test_every_accepted_request_completes(drill) -> None:  # type: ignore[no-untyped-def]
    counts = drill.counts()
    bad = [(o.rid, o.path, o.detail) for o in drill.outcomes if o.result == "dropped"]
    assert bad == []
    assert counts["completed"] == counts["accepted"] > 0
    completed = {o.rid for o in drill.outcomes if o.result == "completed"}
    assert completed == drill.accepted
    assert counts["sent"] == counts["completed"] + counts["refused"]


def test_keeps_serving_during_drain_delay_with_connection_close(drill) -> None:  # type: ignore[no-untyped-def]
    after = [o for o in drill.outcomes if o.sent > 0 and o.result == "completed"]
    assert after, "nothing was served after the signal: drain_delay not honoured"
    assert all(o.connection_close for o in after)
    # fast ones answered well before the signal keep their connection reusable
    before = [o for o in drill.outcomes
              if o.sent < -0.5 and o.path == "/fast" and o.result == "completed"]
    assert before
    assert not any(o.connection_close for o in before)
    # slow requests accepted during the drain delay outlive it and still complete
    assert any("slow" in o.path for o in after)


def test_after_drain_delay_new_connections_are_refused(drill) -> None:  # type: ignore[no-untyped-def]
    ordered = sorted(drill.outcomes, key=lambda o: o.sent)
    first_refused = next(i for i, o in enumerate(ordered) if o.result == "refused")
    assert ordered[first_refused].sent > 0
    assert all(o.result == "refused" for o in ordered[first_refused:])
    assert any(o.detail == "connection refused" for o in ordered[first_refused:])


def test_readiness_turns_503_with_the_signal(drill) -> None:  # type: ignore[no-untyped-def]
    before = [p.status for p in drill.probes if p.sent < 0]
    after = [p.status for p in drill.probes if p.sent > 0]
    assert 200 in before
    assert after
    assert after[0] == 503
    assert set(after) <= {503, None}  # 503 while serving, then refused
    assert after.count(503) >= 2


def test_shutdown_events_in_order_with_dictionary_keys(drill) -> None:  # type: ignore[no-untyped-def]
    names = [r.get("event") for r in drill.log if str(r.get("event", "")).startswith(
        ("shutdown.", "slowapp.hook"))]
    assert names == ["shutdown.started", "shutdown.stop_accepting", "slowapp.hook_ran",
                     "shutdown.completed"]
    started = drill.events("shutdown.started")[0]
    assert isinstance(started["inFlight"], int)
    assert started["inFlight"] >= 0
    done = drill.events("shutdown.completed")[0]
    assert isinstance(done["durationMs"], float)
    assert done["durationMs"] > 0
    assert done["outcome"] == "success"
    assert done["count"] == 0
