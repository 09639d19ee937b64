"""Bad input, the ticket bridge's webhook (the stream it reads is an HTTP body): each bad body
gets a 4xx with a one-line JSON error, never a 500 or a hang, and nothing reaches the ticket
system (the Jira stand-in records every request it gets). The bridge is the real process."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.test_alerts_bridge import bridge  # noqa: F401 - the fixture, shared

BODIES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "application/json"),
    "random-bytes": (random.Random(7).randbytes(4096), "application/json"),
    "invalid-utf8": (b'{"status": "firing", "groupKey": "caf\xe9\xff"}', "application/json"),
    "truncated": (b'{"version": "4", "status": "firing", "alerts": [{"labels": {"a',
                  "application/json"),
    "wrong-types": (b'{"version": 4, "status": ["firing"], "alerts": "x", "groupKey": 1}',
                    "application/json"),
    "not-json-type": (b"status=firing", "application/x-www-form-urlencoded"),
    "50mb": (b'{"x": "' + b"a" * (50 * 1024 * 1024) + b'"}', "application/json"),
}


@pytest.mark.slow
def test_bad_webhook_bodies_are_refused_in_one_line(
        bridge: Callable[[str], tuple[Any, Any]]) -> None:  # noqa: F811
    b, sink = bridge("jira")
    token = (b.tmp / "token").read_text().strip()
    seen: dict[str, int] = {}
    with httpx.Client(timeout=30) as c:
        for name, (body, ctype) in BODIES.items():
            r = c.post(f"{b.url}/alerts/ORD", content=body,
                       headers={"content-type": ctype, "authorization": f"Bearer {token}"})
            seen[name] = r.status_code
            assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
            err = r.json()["error"]
            assert err["code"]
            assert "\n" not in err["message"]
        assert c.get(f"{b.url}/healthz/readiness").status_code == 200  # still serving
    assert sink.log == []  # nothing reached the ticket system
    assert 401 not in seen.values(), seen  # refused for the body, not the token
    assert seen["50mb"] == 413
    assert b.proc is not None
    assert b.proc.poll() is None
