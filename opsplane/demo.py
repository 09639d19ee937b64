"""``opsplane demo``: the operational plane shown end to end on the reference service.

Stage one (the logging standard): the same records written in JSON mode, as the log
aggregator receives them, and in local mode, as a developer reads them.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import IO, Any

import logstd


def _scenario() -> None:
    log = logging.getLogger("orders.api")
    with logstd.bound_keys(requestId="7f3c9a1e-2d4b-4c8e-9f1a-0b2c3d4e5f60", custId="C-1001"):
        log.info("order created", extra={"order_id": "O-20261128-0001", "httpMethod": "POST",
                                         "httpRoute": "/orders", "httpStatus": 201,
                                         "durationMs": 12.5})
        log.info("payment requested", extra={"dependency": "payments", "dependencyStatus": 201,
                                             "dependencyDurationMs": 35.2,
                                             "authorization": "Bearer eyJhbGciOi.secret"})
        log.warning("payment declined", extra={"errorCode": "CARD_DECLINED",
                                               "card_number": "4111111111111111"})
        try:
            raise TimeoutError("payments did not answer within 1000 ms")
        except TimeoutError:
            log.exception("order failed", extra={"outcome": "failure"})


def logging_stage(out: IO[str] | None = None) -> dict[str, Any]:
    """Write the scenario in both modes; returns the JSON lines for callers to check."""
    out = out or sys.stdout
    json_buf = io.StringIO()
    logstd.configure(service="orders", mode="json", stream=json_buf, version="1.4.2")
    _scenario()
    out.write("== JSON mode: what the log aggregator receives\n")
    out.write(json_buf.getvalue())
    out.write("\n== local mode: the same records on a developer's terminal\n")
    logstd.configure(service="orders", mode="local", stream=out, version="1.4.2",
                     color=logstd_color(out))
    _scenario()
    out.write("\nNote: authorization was masked and the card number dropped; custId and "
              "order_id were written as customerId and orderId.\n")
    out.flush()
    logstd.reset()
    return {"json_lines": json_buf.getvalue().splitlines()}


def logstd_color(stream: IO[str]) -> bool:
    from logstd._render import want_color

    return want_color(stream)


def run() -> int:
    logging_stage()
    return 0
