"""Checks a spec must pass before alerts are generated from it."""

from __future__ import annotations

from collections.abc import Sequence

from opsplane.errors import SpecError
from opsplane.spec.service import ServiceSpec
from opsplane.spec.slo import validate_all


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
        unreached(spec, source)


#: who each severity reaches (alerts.generate.alertmanager routes it so)
REACHES = {"page": ("pager", "chat"), "ticket": ("ticket", "chat")}


def unreached(spec: ServiceSpec, source: str) -> None:
    """Raise SpecError for the first page or ticket alert no receiver of the spec gets."""
    from alerts.generate import rules

    a = spec.alerting
    for group in rules(spec)["groups"]:
        for rule in group["rules"]:
            severity = rule.get("labels", {}).get("severity")
            kinds = REACHES.get(severity or "")
            if "alert" not in rule or kinds is None or any(getattr(a, k) for k in kinds):
                continue
            raise SpecError(
                f"{source}: alert {rule['alert']} (severity {severity}) would reach no one: "
                f"set alerting.{kinds[0]} or alerting.{kinds[1]}, or team {spec.team}'s "
                f"defaults in opsplane.yaml")
