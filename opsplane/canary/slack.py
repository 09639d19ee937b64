"""Slack's request signing (v0): ``X-Slack-Signature: v0=HMAC-SHA256(secret,
"v0:" + X-Slack-Request-Timestamp + ":" + body)``, hex. Stale (more than five minutes
off) or already-seen requests are refused (https://api.slack.com/authentication/verifying-requests-from-slack).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

MAX_AGE_S = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack sends for this request."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Verifier:
    """Checks signatures and remembers the ones seen within the age window (replays)."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self.clock = clock
        self._seen: dict[str, float] = {}

    def check(self, timestamp: str | None, sig: str | None, body: bytes) -> str | None:
        """None when the request is Slack's and fresh; else why it is refused."""
        if not timestamp or not sig:
            return "missing X-Slack-Signature or X-Slack-Request-Timestamp"
        try:
            ts = int(timestamp)
        except ValueError:
            return "X-Slack-Request-Timestamp is not a number"
        now = self.clock()
        if abs(now - ts) > MAX_AGE_S:
            return "stale request (timestamp more than 5 minutes off)"
        if not hmac.compare_digest(signature(self._secret, timestamp, body), sig):
            return "signature does not match"
        for old in [s for s, t in self._seen.items() if now - t > MAX_AGE_S]:
            del self._seen[old]
        if sig in self._seen:
            return "replayed request (signature already used)"
        self._seen[sig] = now
        return None
