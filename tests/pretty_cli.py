"""Running ``logstd pretty`` as the user does: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

ENV = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}


def pretty(*args: str, data: bytes = b"", env: dict[str, str] | None = None,
           **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "logstd._cli", "pretty", *args], input=data,
                          capture_output=True, env={**ENV, **(env or {})}, timeout=120,
                          check=False, **kw)
