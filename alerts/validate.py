"""Checks a spec must pass before alerts are generated from it."""

from __future__ import annotations

from collections.abc import Sequence

from opsplane.errors import SpecError
from opsplane.slo import validate_all
from opsplane.spec import ServiceSpec


def validate(specs: Sequence[ServiceSpec], sources: Sequence[str] | None = None) -> None:
    """Raise SpecError (file and field) for a spec whose alerts cannot be generated."""
    validate_all(specs, sources)
    names = sources or [f"{s.name}/service.yaml" for s in specs]
    for spec, source in zip(specs, names, strict=True):
        a = spec.alerting
        for field, ref in (("alerting.chat.webhook", a.chat.webhook if a.chat else None),
                           ("alerting.ticket.webhook", a.ticket.webhook if a.ticket else None),
                           ("alerting.pager.routing_key",
                            a.pager.routing_key if a.pager else None)):
            if ref is not None and ref.env:
                raise SpecError(f"{source}: {field}: Alertmanager reads credentials from "
                                f"files; reference a file or a Kubernetes secret instead of "
                                f"env {ref.env}")
