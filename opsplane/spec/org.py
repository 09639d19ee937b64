"""The organisation file (``opsplane.yaml``): team alerting defaults and receiver endpoints.

Versioned pydantic model, read by ``opsplane generate alerts --org FILE`` (default:
``./opsplane.yaml`` when present) and ``opsplane init``::

    version: 1
    teams:
      commerce:
        chat: {channel: "#commerce-alerts", webhook: {secret: commerce-alerting, key: slack}}
        ticket: {project: COM}
        pager: {service: commerce-oncall, routing_key: {secret: commerce-alerting, key: pd}}
    endpoints:            # optional: where the receivers send (vendors' public APIs if unset)
      chat: https://slack.com/api/chat.postMessage
      ticket: http://ticket-bridge.monitoring.svc:9095
      pager: https://events.pagerduty.com

A service's own ``alerting.chat`` / ``ticket`` / ``pager`` replaces its team's default of
the same kind. An endpoints file (``--endpoints FILE``) is the ``endpoints:`` mapping alone,
one per environment. Credentials stay references (files or Kubernetes Secrets), never values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from opsplane.errors import SpecError
from opsplane.spec.service import Alerting, ChatRoute, PagerRoute, ServiceSpec, TicketRoute

ORG_FILE = "opsplane.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoints(_Model):
    """Base URLs the receivers post to, replacing the vendors' public endpoints."""

    chat: str | None = Field(None, description="Slack-compatible chat API URL")
    ticket: str | None = Field(None, description="ticket bridge (or Jira, Alertmanager >= 0.28)")
    pager: str | None = Field(None, description="PagerDuty Events API base URL")

    @field_validator("chat", "ticket", "pager")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.startswith(("http://", "https://")) or len(v.split("://", 1)[1]) == 0:
            raise ValueError(f"{v!r} is not an http(s) URL")
        if "@" in v.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("the URL carries credentials; reference them by file instead")
        return v.rstrip("/")


class TeamDefaults(_Model):
    chat: ChatRoute | None = None
    ticket: TicketRoute | None = None
    pager: PagerRoute | None = None


class OrgSpec(_Model):
    """opsplane.yaml, version 1."""

    version: Literal[1] = 1
    teams: dict[str, TeamDefaults] = Field(default_factory=dict)
    endpoints: Endpoints = Endpoints()
    canary: dict[str, Any] | None = Field(
        None, description="the production canary's registry (canary.yaml's fields: targets, "
                          "store, ...); validated by opsplane canary")


def _load(path: Path, model: type[BaseModel], what: str) -> Any:
    from logstd._yamlsrc import load_yaml, validation_message

    data = load_yaml(path, SpecError)
    if data is None:  # an empty file named on purpose is a mistake, not "no defaults"
        raise SpecError(f"{path}:1: (top): empty; {what} is a mapping")
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: (top): {what} is a mapping")
    try:
        return model.model_validate(dict(data))
    except ValidationError as e:
        raise SpecError(validation_message(str(path), data, e.errors())) from e  # type: ignore[arg-type]


def load_org(path: str | Path) -> OrgSpec:
    """Read and validate an organisation file; errors name ``file:line: key: what``."""
    org: OrgSpec = _load(Path(path), OrgSpec, "an organisation file (version, teams, endpoints)")
    return org


def load_endpoints(path: str | Path) -> Endpoints:
    """Read an endpoints file: a mapping of chat, ticket and pager to base URLs."""
    ends: Endpoints = _load(Path(path), Endpoints, "an endpoints file (chat, ticket, pager)")
    return ends


def find_org(given: str | Path | None, cwd: Path | None = None) -> OrgSpec | None:
    """``--org FILE`` when given, else ``./opsplane.yaml`` when present, else None."""
    if given is not None:
        return load_org(given)
    default = (cwd or Path.cwd()) / ORG_FILE
    return load_org(default) if default.is_file() else None


def team_alerting(org: OrgSpec | None, team: str) -> Alerting:
    """The team's defaults (empty when the org file has none for it)."""
    d = org.teams.get(team) if org is not None else None
    if d is None:
        return Alerting()
    return Alerting(chat=d.chat, ticket=d.ticket, pager=d.pager)


def apply_org(spec: ServiceSpec, org: OrgSpec | None) -> ServiceSpec:
    """The spec with each missing alerting route taken from its team's defaults."""
    team = team_alerting(org, spec.team)
    a = spec.alerting
    merged = Alerting(chat=a.chat or team.chat, ticket=a.ticket or team.ticket,
                      pager=a.pager or team.pager)
    return spec if merged == a else spec.model_copy(update={"alerting": merged})


def alerting_yaml(alerting: Alerting) -> str:
    """The ``alerting:`` block of a service.yaml (empty string when there is nothing)."""
    import yaml

    data = alerting.model_dump(exclude_none=True)
    if not data:
        return ""
    return yaml.safe_dump({"alerting": data}, sort_keys=False, default_flow_style=None,
                          width=1 << 16)


__all__ = ["ORG_FILE", "ChatRoute", "Endpoints", "OrgSpec", "PagerRoute", "TeamDefaults",
           "TicketRoute", "alerting_yaml", "apply_org", "find_org", "load_endpoints",
           "load_org", "team_alerting"]
