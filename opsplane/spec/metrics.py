"""The metric-name dictionary (``opsplane/spec/metrics.yaml``): names, types, units and labels.

Instruments, dashboards and alerts read names from here; a name is spelled in one place.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from opsplane.errors import SpecError

PATH = Path(__file__).with_name("metrics.yaml")
_NAME = r"^[a-z_][a-z0-9_]*$"


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["counter", "gauge", "histogram", "summary", "info"]
    unit: str
    description: str = Field(min_length=1)
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    otel: str | None = None


class MetricDictionary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    labels: dict[str, Label]
    metrics: dict[str, Metric]

    @model_validator(mode="after")
    def _consistent(self) -> MetricDictionary:
        import re

        for name, m in self.metrics.items():
            if not re.match(_NAME, name):
                raise ValueError(f"metric {name!r} is not a Prometheus name")
            if m.type == "counter" and not name.endswith("_total"):
                raise ValueError(f"counter {name!r} must end in _total")
            if m.unit == "seconds" and not name.endswith(("_seconds", "_seconds_total")):
                raise ValueError(f"metric {name!r} in seconds must end in _seconds")
            for label in m.labels:
                if label not in self.labels:
                    raise ValueError(f"metric {name!r} uses undeclared label {label!r}")
            if m.type == "histogram" and not m.buckets:
                raise ValueError(f"histogram {name!r} needs buckets")
        return self

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def name(self, name: str) -> str:
        """``name`` itself, after checking the dictionary has it (use in generators)."""
        if name not in self.metrics:
            raise KeyError(f"{name!r} is not in the metric dictionary")
        return name


def load_metrics(path: str | Path = PATH) -> MetricDictionary:
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        return MetricDictionary.model_validate(data)
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"{p}: cannot load the metric dictionary: {e}") from e
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise SpecError(f"{p}: {loc}: {err['msg'].removeprefix('Value error, ')}") from e


@functools.cache
def metrics() -> MetricDictionary:
    """The packaged metric dictionary, loaded once."""
    return load_metrics()
