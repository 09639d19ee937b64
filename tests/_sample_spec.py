"""The sample service spec the dashboard and alert tests generate from (tests/data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SAMPLE = Path(__file__).parent / "data" / "dash-sample.yaml"


def sample_raw(**over: Any) -> dict[str, Any]:
    """The sample spec as data, with some top-level fields replaced."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data.update(over)
    return data
