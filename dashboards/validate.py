"""Checks a spec must pass before dashboards are generated from it."""

from __future__ import annotations

from collections.abc import Sequence

from opsplane.spec.service import ServiceSpec
from opsplane.spec.slo import validate_all


def validate(specs: Sequence[ServiceSpec], sources: Sequence[str] | None = None) -> None:
    """Raise SpecError (naming file and field) for a spec the generator cannot honour:
    SLOs whose burn-rate alerts could never fire, latency thresholds below every bucket,
    malformed dependency checks, a service named twice."""
    validate_all(specs, sources)
