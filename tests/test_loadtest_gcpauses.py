"""GC pauses: the service-side histogram and the run's before/after arithmetic."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, generate_latest

from loadtest.gcpauses import describe, parse, summarize
from opsplane.runtime._gcpauses import NAME, GcPauses, gc_pauses


def _exposition(p: GcPauses) -> str:
    registry = CollectorRegistry()
    registry.register(p)
    return generate_latest(registry).decode()


def test_the_callback_times_each_collection_into_its_generation() -> None:
    p = GcPauses((0.001, 0.01))
    for gen, seconds in ((0, 0.0005), (0, 0.002), (2, 0.5)):
        p.callback("start", {"generation": gen})
        p._started -= seconds  # a pause of that length, without sleeping in a test
        p.callback("stop", {"generation": gen})
    reading = parse(_exposition(p))
    assert reading is not None
    assert reading["0"]["count"] == 2
    assert reading["0"]["buckets"] == {"0.001": 1.0, "0.01": 2.0, "+Inf": 2.0}
    assert reading["2"]["buckets"] == {"0.001": 0.0, "0.01": 0.0, "+Inf": 1.0}
    assert reading["0"]["sum"] >= 0.0025
    assert reading["1"]["count"] == 0


def test_summary_is_the_difference_of_two_readings() -> None:
    before = {"0": {"count": 10, "sum": 0.010, "buckets": {"0.001": 9, "0.01": 10, "+Inf": 10}},
              "2": {"count": 1, "sum": 0.040, "buckets": {"0.001": 0, "0.01": 0, "+Inf": 1}}}
    after = {"0": {"count": 15, "sum": 0.016, "buckets": {"0.001": 13, "0.01": 15, "+Inf": 15}},
             "1": {"count": 1, "sum": 0.0005, "buckets": {"0.001": 1, "0.01": 1, "+Inf": 1}},
             "2": {"count": 1, "sum": 0.040, "buckets": {"0.001": 0, "0.01": 0, "+Inf": 1}}}
    s = summarize(before, after, seconds=10.0)
    assert s["collections"] == 6
    assert s["pause_ms"] == 6.5
    assert s["pause_share"] == 0.00065
    assert s["generations"]["0"] == {"collections": 5, "pause_ms": 6.0,
                                     "max_pause_ms_at_most": 10.0}
    assert s["generations"]["1"]["max_pause_ms_at_most"] == 1.0
    assert s["generations"]["2"] == {"collections": 0, "pause_ms": 0.0,
                                     "max_pause_ms_at_most": None}
    assert s["max_pause_ms_at_most"] == 10.0
    assert describe(s) == ("6 collections, 6.5 ms in all (0.07% of the run), each at most "
                           "10 ms (gen 0: 5, gen 1: 1, gen 2: 0)")


def test_a_target_without_the_metric_is_not_reported() -> None:
    assert parse("# TYPE process_cpu_seconds_total counter\n"
                 "process_cpu_seconds_total 1.5\n") is None


def test_the_process_collector_sees_real_collections() -> None:
    p = gc_pauses()
    before = parse(_exposition(p))
    gc.collect()
    after = parse(_exposition(p))
    assert before is not None
    assert after is not None
    assert after["2"]["count"] >= before["2"]["count"] + 1  # (plus any automatic one)
    assert NAME in _exposition(p)
