"""Checks a spec must pass before dashboards are generated from it."""

from __future__ import annotations

from collections.abc import Sequence

from opsplane.errors import SpecError
from opsplane.slo import validate as validate_slos
from opsplane.spec import ServiceSpec


def validate(specs: Sequence[ServiceSpec], sources: Sequence[str] | None = None) -> None:
    """Raise SpecError (naming file and field) for a spec the generator cannot honour."""
    if not specs:
        raise SpecError("no service.yaml given")
    names = sources or [f"{s.name}/service.yaml" for s in specs]
    seen: dict[str, str] = {}
    for spec, source in zip(specs, names, strict=True):
        if spec.name in seen:
            raise SpecError(f"{source}: name: service {spec.name!r} is also defined in "
                            f"{seen[spec.name]}")
        seen[spec.name] = source
        validate_slos(spec, source)
