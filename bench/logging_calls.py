"""Microseconds per log call with 6 extra keys, written to a file, side by side in one run.

    .venv/bin/python bench/logging_calls.py [--calls N] [--repeat R]

Peers: stdlib's plain-text Formatter (the floor), logstd json (redaction and alias rewriting
on), python-json-logger's JsonFormatter and OrjsonFormatter, structlog (orjson JSONRenderer
through stdlib, and on its BytesLogger fast path) and loguru serialize. Every variant writes
one line per call to its own file and flushes per record like stdlib's StreamHandler.
A table, never asserted in tests.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXTRA = {"customerId": "C-1001", "orderId": "O-20261128-0001", "httpMethod": "POST",
         "httpStatus": 201, "durationMs": 12.5, "httpRoute": "/orders"}


def _stdlib_logger(name: str, handler: logging.Handler) -> logging.Logger:
    lg = logging.getLogger(f"bench.{name}")
    lg.handlers[:] = [handler]
    lg.propagate = False
    lg.setLevel(logging.INFO)
    return lg


def setup_stdlib(path: Path) -> Callable[[], None]:
    h = logging.StreamHandler(path.open("w"))
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    lg = _stdlib_logger("stdlib", h)
    return lambda: lg.info("order created", extra=EXTRA)


def setup_logstd(path: Path) -> Callable[[], None]:
    import logstd
    from logstd._configure import Handler
    from logstd._formatters import JsonFormatter

    fmt = JsonFormatter(logstd.current_plan(), "orders")
    lg = _stdlib_logger("logstd", Handler(path.open("w"), fmt))
    return lambda: lg.info("order created", extra=EXTRA)


def setup_pjl(path: Path) -> Callable[[], None]:
    from pythonjsonlogger.json import JsonFormatter

    h = logging.StreamHandler(path.open("w"))
    h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    lg = _stdlib_logger("pjl", h)
    return lambda: lg.info("order created", extra=EXTRA)


def setup_pjl_orjson(path: Path) -> Callable[[], None]:
    from pythonjsonlogger.orjson import OrjsonFormatter

    h = logging.StreamHandler(path.open("w"))
    h.setFormatter(OrjsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    lg = _stdlib_logger("pjlo", h)
    return lambda: lg.info("order created", extra=EXTRA)


def setup_structlog_stdlib(path: Path) -> Callable[[], None]:
    import orjson
    import structlog

    h = logging.StreamHandler(path.open("w"))
    h.setFormatter(logging.Formatter("%(message)s"))
    _stdlib_logger("structlog", h)
    log = structlog.wrap_logger(
        logging.getLogger("bench.structlog"),
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer(
                        serializer=lambda o, **kw: orjson.dumps(o).decode())],
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
    return lambda: log.info("order created", **EXTRA)


def setup_structlog_bytes(path: Path) -> Callable[[], None]:
    import orjson
    import structlog

    log = structlog.wrap_logger(
        structlog.BytesLogger(path.open("wb")),
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer(serializer=orjson.dumps)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True)
    return lambda: log.info("order created", **EXTRA)


def setup_loguru(path: Path) -> Callable[[], None]:
    from loguru import logger

    logger.remove()
    logger.add(str(path), serialize=True, level="INFO", enqueue=False)
    bound = logger.bind(**EXTRA)
    return lambda: bound.info("order created")


VARIANTS: list[tuple[str, Callable[[Path], Callable[[], None]]]] = [
    ("stdlib logging.Formatter (plain text)", setup_stdlib),
    ("logstd json", setup_logstd),
    ("python-json-logger JsonFormatter", setup_pjl),
    ("python-json-logger OrjsonFormatter", setup_pjl_orjson),
    ("structlog JSONRenderer(orjson) via stdlib", setup_structlog_stdlib),
    ("structlog JSONRenderer(orjson) BytesLogger", setup_structlog_bytes),
    ("loguru serialize=True", setup_loguru),
]


def per_call_us(fn: Callable[[], Any], calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls * 1e6)
    return best


def format_only_us(calls: int, repeat: int) -> tuple[float, float]:
    """logstd JsonFormatter.format_bytes alone vs stdlib Formatter.format alone."""
    import logstd
    from logstd._formatters import JsonFormatter

    rec = logging.getLogger("bench.fmt").makeRecord("bench.fmt", logging.INFO, "f", 1,
                                                     "order created", None, None, extra=EXTRA)
    ours = JsonFormatter(logstd.current_plan(), "orders")
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    return (per_call_us(lambda: ours.format_bytes(rec), calls, repeat),
            per_call_us(lambda: plain.format(rec), calls, repeat))


def below_level_us(calls: int, repeat: int) -> tuple[float, float]:
    import logstd

    plain = logging.getLogger("bench.quiet.stdlib")
    plain.setLevel(logging.WARNING)
    logstd.configure(service="orders", mode="json", stream=open(os.devnull, "w"),  # noqa: SIM115
                     level="warning")
    ours = logging.getLogger("bench.quiet.logstd")
    r = (per_call_us(lambda: ours.debug("x", extra=EXTRA), calls, repeat),
         per_call_us(lambda: plain.debug("x", extra=EXTRA), calls, repeat))
    logstd.reset()
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ns = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, setup) in enumerate(VARIANTS):
            fn = setup(Path(tmp) / f"{i}.log")
            rows.append((name, per_call_us(fn, ns.calls, ns.repeat)))
    floor = rows[0][1]
    ours = rows[1][1]
    print(f"# bench/logging_calls.py  python {platform.python_version()}  {os.cpu_count()} cores  "
          f"calls={ns.calls} best of {ns.repeat}")
    print(f"{'variant':<44} {'us/call':>8} {'vs stdlib':>10} {'logstd faster by':>17}")
    for name, us in rows:
        print(f"{name:<44} {us:8.2f} {us / floor:9.2f}x {us / ours:16.2f}x")
    fmt, plain_fmt = format_only_us(ns.calls, ns.repeat)
    print(f"\nformat() alone: logstd JsonFormatter.format_bytes {fmt:.2f} us, "
          f"stdlib Formatter.format {plain_fmt:.2f} us")
    quiet_ours, quiet_plain = below_level_us(ns.calls * 5, ns.repeat)
    print(f"call below the level: logstd-configured logger {quiet_ours:.3f} us, "
          f"plain stdlib logger {quiet_plain:.3f} us")


if __name__ == "__main__":
    main()
