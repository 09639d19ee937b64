"""logstd pretty reads every common producer: golden output per format, head fields checked."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pretty_samples import SAMPLES

from logstd import load_dictionary
from logstd._pretty import Pretty, normalize_time
from logstd._render import level_label

DICTIONARY = load_dictionary()


@pytest.mark.parametrize("producer", sorted(SAMPLES))
def test_head_fields(producer: str) -> None:
    lines, (time, level, message) = SAMPLES[producer]
    rec = Pretty(DICTIONARY).parse(lines[0].encode())
    assert rec is not None
    assert (rec.time, level_label(rec.level)[0], rec.message) == (time, level, message)


@pytest.mark.parametrize("producer", sorted(SAMPLES))
@pytest.mark.parametrize("output", ["short", "long", "compact"])
def test_golden(producer: str, output: str, golden: Any) -> None:
    lines, _ = SAMPLES[producer]
    text = Pretty(DICTIONARY, output=output).format_chunk(
        "".join(f"{line}\n" for line in lines).encode()).decode()
    golden(f"pretty/{producer}-{output}.txt", text)


def test_golden_color(golden: Any) -> None:
    lines = [line for name in sorted(SAMPLES) for line in SAMPLES[name][0]]
    text = Pretty(DICTIONARY, color=True).format_chunk(
        "".join(f"{line}\n" for line in lines).encode()).decode()
    golden("pretty/all-color.txt", text)


def test_aliases_become_canonical_names() -> None:
    line = b'{"msg":"x","customer_id":"C-1","custId":"C-2","status_code":200,"latency":3}'
    out = Pretty(DICTIONARY).format_line(line)
    assert out == "       x  customerId=C-1 customerId=C-2 httpStatus=200 durationMs=3"


def test_trace_id_short_by_default_full_in_long() -> None:
    line = b'{"msg":"x","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}'
    assert (Pretty(DICTIONARY).format_line(line) or "").endswith("traceId=4bf92f35")
    assert (Pretty(DICTIONARY, output="long").format_line(line) or "").endswith(
        "traceId=4bf92f3577b34da6a3ce929d0e0e4736")


@pytest.mark.parametrize(("value", "iso"), [
    ("2026-11-28T20:52:45.123Z", "2026-11-28T20:52:45.123Z"),
    ("2026-11-28T20:52:45.123456789Z", "2026-11-28T20:52:45.123Z"),
    ("2026-11-28T21:52:45.123+01:00", "2026-11-28T20:52:45.123Z"),
    ("2026-11-28T15:52:45-0500", "2026-11-28T20:52:45.000Z"),
    ("2026-11-28 20:52:45,123", "2026-11-28T20:52:45.123Z"),
    (1795899165, "2026-11-28T20:52:45.000Z"),
    (1795899165.1234567, "2026-11-28T20:52:45.123Z"),
    (1795899165123, "2026-11-28T20:52:45.123Z"),
    (1795899165123456, "2026-11-28T20:52:45.123Z"),
    ("1795899165123456789", "2026-11-28T20:52:45.123Z"),
    ({"seconds": 1795899165, "nanos": 123000000}, "2026-11-28T20:52:45.123Z"),
    ("yesterday", None),
    ("2026-13-45T99:00:00Z", None),
    (True, None),
])
def test_times(value: Any, iso: str | None) -> None:
    assert normalize_time(value) == iso


def test_unparseable_time_is_shown_as_written() -> None:
    out = Pretty(DICTIONARY).format_line(b'{"time":"yesterday","level":"info","msg":"m"}')
    assert out == "yesterday INFO   m"


def test_dates_agree_with_calendar() -> None:
    import calendar

    from logstd._pretty import _days_from_civil

    for y, m, d in [(1970, 1, 1), (2000, 2, 29), (2026, 11, 28), (1900, 3, 1), (9999, 12, 31),
                    (1, 1, 1), (2024, 12, 31)]:
        assert _days_from_civil(y, m, d) * 86400 == calendar.timegm((y, m, d, 0, 0, 0))


OTLP_EXPORT = {"resourceLogs": [
    {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "orders"}}]},
     "scopeLogs": [{"scope": {"name": "orders.api"}, "logRecords": [
         {"timeUnixNano": "1795899165123000000", "severityNumber": 9, "severityText": "INFO",
          "body": {"stringValue": "order created"},
          "attributes": [{"key": "customer_id", "value": {"stringValue": "C-1001"}}],
          "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"},
         {"timeUnixNano": "1795899166000000000", "severityNumber": 17, "severityText": "ERROR",
          "body": {"stringValue": "payment failed"}}]}]},
    {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "payments"}}]},
     "scopeLogs": [{"logRecords": [{"timeUnixNano": "1795899167000000000", "severityNumber": 13,
                                    "body": {"stringValue": "slow"}}]}]}]}


def test_an_otlp_json_export_shows_one_line_per_log_record() -> None:
    """The Collector's file exporter writes many records per line: each is shown."""
    line = orjson.dumps(OTLP_EXPORT) + b"\n"
    out = Pretty(DICTIONARY).format_chunk(line).decode().splitlines()
    assert out == [
        "20:52:45.123 INFO  orders  order created  customerId=C-1001 traceId=5b8efff7 "
        "spanId=eee19b7ec3c1b174 scope=orders.api",
        "20:52:46.000 ERROR orders  payment failed  scope=orders.api",
        "20:52:47.000 WARN  payments  slow",
    ]
    warn = Pretty(DICTIONARY, level="warn").format_chunk(line).decode().splitlines()
    assert [w[:18] for w in warn] == ["20:52:46.000 ERROR", "20:52:47.000 WARN "]
    kept = Pretty(DICTIONARY, output="json", where=["service=payments"]).format_chunk(line)
    assert [orjson.loads(x)["body"] for x in kept.splitlines()] == [{"stringValue": "slow"}]
