"""A deterministic mixed log for the pretty and lint benchmarks.

About 90% JSON records with 8-15 keys (some nested) in the key spellings of many producers,
5% plain text, 5% kubectl-prefixed, 1% with multi-line stack traces. 500,000 lines is ~150 MB.

    python bench/logdata.py OUT [--lines N]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

_WORDS = ("order", "created", "payment", "requested", "declined", "cache", "miss", "retrying",
          "upstream", "request", "finished", "user", "logged", "in", "shipment", "scheduled",
          "stock", "reserved")
_ROUTES = ["/orders", "/orders/{id}", "/orders/{id}/cancel", "/customers/{id}", "/healthz/ping"]
_STACK = ("Traceback (most recent call last):\n  File \"/app/orders/api.py\", line 88, in create\n"
          "    charge = await payments.charge(order)\n  File \"/app/orders/payments.py\", line 31,"
          " in charge\n    raise TimeoutError(\"payments did not answer\")\nTimeoutError: payments "
          "did not answer")


def _ts(rng: random.Random, i: int) -> str:
    return f"2026-11-28T{(i // 36000) % 24:02d}:{(i // 600) % 60:02d}:{(i // 10) % 60:02d}." \
           f"{rng.randrange(1000):03d}Z"


def _record(rng: random.Random, i: int) -> dict[str, object]:
    style = rng.randrange(6)
    msg = " ".join(rng.sample(_WORDS, 3))
    ts = _ts(rng, i)
    lvl = rng.choice(["info", "info", "info", "debug", "warn", "error"])
    if style == 0:  # logstd / python-json-logger
        rec: dict[str, object] = {"timestamp": ts, "level": lvl, "message": msg,
                                  "service": "orders", "logger": "orders.api"}
    elif style == 1:  # zap
        rec = {"level": lvl, "ts": 1764363165.123 + i / 1000, "caller": "api/orders.go:88",
               "msg": msg}
    elif style == 2:  # pino
        rec = {"level": {"debug": 20, "info": 30, "warn": 40, "error": 50}[lvl],
               "time": 1764363165123 + i, "pid": 7, "hostname": "orders-7d9f", "msg": msg}
    elif style == 3:  # logrus
        rec = {"level": lvl, "time": ts, "msg": msg}
    elif style == 4:  # structlog
        rec = {"event": msg, "level": lvl, "timestamp": ts, "logger": "orders.worker"}
    else:  # logstash-logback / ECS
        rec = {"@timestamp": ts, "log.level": lvl.upper(), "message": msg,
               "logger_name": "com.shop.Orders", "thread_name": "http-nio-8080-exec-3"}
    keys = rng.randrange(3, 10)
    extras: list[tuple[str, object]] = [
        (rng.choice(["customerId", "customer_id", "custId"]), f"C-{rng.randrange(1000, 1200)}"),
        (rng.choice(["durationMs", "duration_ms", "latency"]), round(rng.random() * 300, 2)),
        (rng.choice(["httpStatus", "status", "status_code"]), rng.choice([200, 201, 404, 503])),
        (rng.choice(["httpRoute", "route"]), rng.choice(_ROUTES)),
        ("requestId", f"{rng.getrandbits(64):016x}"),
        ("traceId", f"{rng.getrandbits(128):032x}"),
        ("http", {"method": rng.choice(["GET", "POST"]), "user_agent": "curl/8.5.0"}),
        ("orderId", f"O-{i:08d}"),
        ("userAgent", "Mozilla/5.0 (X11; Linux x86_64)"),
        ("attempt", rng.randrange(1, 4)),
    ]
    for k, v in extras[:keys]:
        rec[k] = v
    return rec


def generate(path: Path, lines: int = 500_000, seed: int = 42) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            r = rng.random()
            if r < 0.05:
                f.write(f"{_ts(rng, i)} plain text line {i}: GC pause {rng.randrange(50)}ms\n")
                continue
            rec = _record(rng, i)
            if r < 0.06:
                rec["stack_trace"] = _STACK
            line = json.dumps(rec, separators=(",", ":"))
            if r > 0.95:
                line = f"[pod/orders-7d9f8c6b5-x2kqp/app] {line}"
            f.write(line + "\n")
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--lines", type=int, default=500_000)
    ns = ap.parse_args()
    generate(ns.out, ns.lines)
    print(ns.out)
