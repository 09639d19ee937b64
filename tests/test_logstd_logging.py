"""logstd.configure: both output modes, redaction, binding, robustness."""

from __future__ import annotations

import io
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

import logstd
from logstd import keys
from logstd._formatters import JsonFormatter, LocalFormatter
from logstd.testing import capture_logs

FIXED = 1795900365.123  # 2026-11-28T21:12:45.123Z


def record(msg: str = "order created", level: int = logging.INFO, name: str = "orders.api",
           args: Any = None, exc_info: Any = None, **extra: Any) -> logging.LogRecord:
    r = logging.getLogger(name).makeRecord(name, level, "api.py", 42, msg, args, exc_info,
                                           extra=extra)
    r.created = FIXED
    r.msecs = 123.0
    return r


def scenario() -> list[logging.LogRecord]:
    try:
        raise TimeoutError("payments did not answer")
    except TimeoutError:
        err = sys.exc_info()
    return [
        record(order_id="O-1", custId="C-1001", httpStatus=201, durationMs=12.5,
               http={"status": 201, "headers": {"authorization": "Bearer abc"}}),
        record("payment declined", logging.WARNING, card_number="4111111111111111",
               password="hunter2", apiKey="sk_live_x", errorCode="CARD_DECLINED"),
        record("charge %s for %s", logging.INFO, args=("O-1", "C-1001"),
               note="a value with spaces", items=[{"sku": "SKU-1", "token": "t0k"}]),
        record("order failed", logging.ERROR, exc_info=err, outcome="failure"),
    ]


def _normalise_trace(text: str) -> str:
    # the stack trace names this file; keep golden files independent of the checkout path
    return text.replace(str(Path(__file__).resolve()), "tests/test_logstd_logging.py")


def test_json_mode_golden(golden: Any) -> None:
    fmt = JsonFormatter(logstd.current_plan(), "orders", static={"version": "1.4.2"})
    out = "".join(fmt.format_bytes(r).decode() for r in scenario())
    golden("logstd/json.txt", _normalise_trace(out))


@pytest.mark.parametrize("color", [False, True])
def test_local_mode_golden(golden: Any, color: bool) -> None:
    fmt = LocalFormatter(logstd.current_plan(), "orders", color=color,
                         static={"version": "1.4.2"})
    out = "".join(fmt.format(r) + "\n" for r in scenario())
    golden(f"logstd/local{'-color' if color else ''}.txt", _normalise_trace(out))


def test_json_line_shape() -> None:
    fmt = JsonFormatter(logstd.current_plan(), "orders")
    rec = orjson.loads(fmt.format_bytes(scenario()[0]))
    assert list(rec)[:5] == ["timestamp", "level", "message", "service", "logger"]
    assert rec["timestamp"] == "2026-11-28T21:12:45.123Z"
    assert rec["customerId"] == "C-1001"
    assert "custId" not in rec
    assert rec["orderId"] == "O-1"
    assert rec["http"]["headers"]["authorization"] == "[REDACTED]"
    err = orjson.loads(fmt.format_bytes(scenario()[3]))
    assert err["errorType"] == "TimeoutError"
    assert err["errorMessage"] == "payments did not answer"
    assert err["stackTrace"].startswith("Traceback (most recent call last):")


def test_configure_writes_json_to_the_stream_and_is_idempotent() -> None:
    buf = io.StringIO()
    logstd.configure(service="orders", mode="json", stream=buf)
    logstd.configure(service="orders", mode="json", stream=buf)
    logging.getLogger("x").info("hello", extra={keys.CUSTOMER_ID: "C-1"})
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    assert orjson.loads(lines[0])["customerId"] == "C-1"
    assert sum(getattr(h, "_logstd", False) for h in logging.getLogger().handlers) == 1
    assert logging.getLoggerClass() is logging.Logger  # no wrapper logger


def test_binary_stream_and_levels(tmp_path: Path) -> None:
    with (tmp_path / "log").open("wb") as f:
        logstd.configure(service="orders", mode="json", stream=f, level="warning")
        logging.getLogger("x").info("dropped")
        logging.getLogger("x").warning("kept")
    lines = (tmp_path / "log").read_bytes().splitlines()
    assert [orjson.loads(x)["message"] for x in lines] == ["kept"]


def test_mode_and_level_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSTD_MODE", "local")
    monkeypatch.setenv("LOGSTD_LEVEL", "debug")
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    logstd.configure(service="orders", stream=buf)
    logging.getLogger("x").debug("visible", extra={"customerId": "C-1"})
    line = buf.getvalue()
    assert "DEBUG orders  visible  customerId=C-1" in line
    assert "\x1b[" not in line


def test_force_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    buf = io.StringIO()
    logstd.configure(service="orders", mode="local", stream=buf)
    logging.getLogger("x").info("hi")
    assert "\x1b[32mINFO " in buf.getvalue()


def test_bad_configuration_is_one_line() -> None:
    with pytest.raises(logstd.ConfigError, match=r"^unknown log level 'loud'"):
        logstd.configure(level="loud", stream=io.StringIO())
    with pytest.raises(logstd.ConfigError, match=r"^unknown logstd mode 'xml'"):
        logstd.configure(mode="xml", stream=io.StringIO())  # type: ignore[arg-type]


def test_unknown_key_reported_once_in_local_mode(capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    logstd.configure(service="orders", mode="local", stream=buf, color=False)
    log = logging.getLogger("x")
    log.info("a", extra={"custmerId": "C-1"})
    log.info("b", extra={"custmerId": "C-2"})
    err = capsys.readouterr().err
    assert err.count("unknown log key 'custmerId' (did you mean customerId?)") == 1
    assert "custmerId=C-2" in buf.getvalue()  # kept, not lost


def test_unknown_keys_not_reported_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    logstd.configure(service="orders", mode="json", stream=io.StringIO())
    logging.getLogger("x").info("a", extra={"custmerId": "C-1"})
    assert capsys.readouterr().err == ""


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_values_that_cannot_be_serialised_never_raise() -> None:
    buf = io.StringIO()
    logstd.configure(service="orders", mode="json", stream=buf)
    log = logging.getLogger("x")
    log.info("odd", extra={"big": 2**80, "obj": object(), "bad": Unrepresentable(),
                           "tupkeys": {(1, 2): "x"}, "setv": {1}})
    log.info("broken %d", "not a number")
    lines = [orjson.loads(x) for x in buf.getvalue().splitlines()]
    assert lines[0]["big"] == str(2**80)
    assert lines[0]["obj"].startswith("<object object at")
    assert lines[0]["bad"] == "<unrepresentable Unrepresentable>"
    assert lines[1]["message"] == "'broken %d' % ('not a number',)"


def test_uvicorn_and_gunicorn_loggers_go_through_logstd() -> None:
    buf = io.StringIO()
    uv = logging.getLogger("uvicorn.access")
    uv.addHandler(logging.StreamHandler(io.StringIO()))
    uv.propagate = False
    logstd.configure(service="orders", mode="json", stream=buf)
    uv.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/orders?x=1", "1.1", 200)
    logging.getLogger("gunicorn.error").warning("worker timeout")
    recs = [orjson.loads(x) for x in buf.getvalue().splitlines()]
    assert recs[0]["logger"] == "uvicorn.access"
    assert (recs[0]["httpMethod"], recs[0]["httpPath"], recs[0]["httpStatus"],
            recs[0]["clientIp"]) == ("GET", "/orders", 200, "127.0.0.1")
    assert recs[1]["logger"] == "gunicorn.error"
    assert uv.handlers == []


def test_bind_unbind_and_scoped_keys() -> None:
    with capture_logs() as logs:
        log = logging.getLogger("x")
        token = logstd.bind(cust_id="C-1", token="secret-token")
        log.info("one")
        with logstd.bound_keys(orderId="O-1"):
            log.info("two")
        logstd.unbind("customerId")
        log.info("three")
        logstd.reset_bound(token)
        log.info("four")
    assert logs[0]["customerId"] == "C-1"
    assert logs[0]["token"] == "[REDACTED]"
    assert logs[1]["orderId"] == "O-1"
    assert "orderId" not in logs[2]
    assert "customerId" not in logs[2]
    assert "token" not in logs[3]


def test_context_provider_adds_keys() -> None:
    def ids() -> dict[str, str]:
        return {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736"}

    logstd.add_context_provider(ids)
    try:
        with capture_logs() as logs:
            logging.getLogger("x").info("traced")
    finally:
        logstd.remove_context_provider(ids)
    assert logs[0]["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_bound_keys_reach_third_party_records() -> None:
    with capture_logs() as logs:
        logstd.bind(requestId="r-1")
        logging.getLogger("httpx").info("HTTP Request: GET http://x")
    assert logs[0]["requestId"] == "r-1"


def test_public_surface() -> None:
    assert logstd.__all__ == sorted(logstd.__all__)
    assert logstd.__all__ == [
        "ConfigError", "Dictionary", "DictionaryError", "JsonFormatter", "KeySpec",
        "LocalFormatter", "LogstdError", "Renderer", "UsageError", "add_context_provider",
        "bind", "bound", "bound_keys", "clear", "configure", "current_plan", "keys",
        "load_dictionary", "remove_context_provider", "reset", "reset_bound", "unbind"]


def test_concurrent_writers_keep_their_own_keys(tmp_path: Path) -> None:
    """8 threads and 200 asyncio tasks write 200,000 records; every line parses, none mixed."""
    import asyncio

    path = tmp_path / "log"
    per_thread, tasks, per_task = 12_500, 200, 500
    with path.open("wb") as f:
        logstd.configure(service="orders", mode="json", stream=f)
        log = logging.getLogger("load")

        def thread_writer(n: int) -> None:
            logstd.bind(requestId=f"thread-{n}")
            for i in range(per_thread):
                log.info("t", extra={"count": i, "action": f"thread-{n}"})

        async def task_writer(n: int) -> None:
            logstd.bind(requestId=f"task-{n}")
            for i in range(per_task):
                log.info("a", extra={"count": i, "action": f"task-{n}"})
                if i % 50 == 0:
                    await asyncio.sleep(0)

        async def all_tasks() -> None:
            await asyncio.gather(*(task_writer(n) for n in range(tasks)))

        threads = [threading.Thread(target=thread_writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        asyncio.run(all_tasks())
        for t in threads:
            t.join()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 8 * per_thread + tasks * per_task == 200_000
    seen: dict[str, int] = {}
    for line in lines:
        rec = orjson.loads(line)
        assert rec["requestId"] == rec["action"]
        seen[rec["action"]] = seen.get(rec["action"], 0) + 1
    assert len(seen) == 208
    assert all(v == (per_thread if k.startswith("thread") else per_task) for k, v in seen.items())


def test_json_lines_come_from_python_json_logger_through_its_hooks() -> None:
    """The library's own format and orjson serialiser write the line; logstd only fills
    the record (add_fields): a plain stdlib StreamHandler gets the same line as logstd's."""
    from pythonjsonlogger.orjson import OrjsonFormatter

    assert JsonFormatter.format is OrjsonFormatter.format
    assert JsonFormatter.jsonify_log_record is OrjsonFormatter.jsonify_log_record
    fmt = JsonFormatter(logstd.current_plan(), "orders", static={"version": "1.4.2"})
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(fmt)
    for r in scenario():
        handler.handle(r)
    assert buf.getvalue() == "".join(fmt.format_bytes(r).decode() for r in scenario())


def test_the_exception_is_formatted_once_per_record() -> None:
    calls: list[int] = []

    class Counting(JsonFormatter):
        def formatException(self, ei: Any) -> Any:
            calls.append(1)
            return super().formatException(ei)

    rec = scenario()[3]
    line = orjson.loads(Counting(logstd.current_plan(), "orders").format_bytes(rec))
    assert line["stackTrace"].startswith("Traceback (most recent call last):")
    assert line["errorType"] == "TimeoutError"
    assert len(calls) == 1
