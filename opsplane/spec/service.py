"""The service spec (``service.yaml``): one file drives every generator.

Versioned pydantic model. Credentials are never values here, only references
(a mounted file path, a Kubernetes Secret name and key, or an environment variable).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsplane.errors import SpecError

DNS_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEM = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a credential lives. Exactly one of file, secret (+ key) or env."""

    file: str | None = Field(None, description="path of a mounted file holding the value")
    secret: str | None = Field(None, description="Kubernetes Secret name")
    key: str | None = Field(None, description="key inside the Secret")
    env: str | None = Field(None, description="environment variable holding the value")

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        sources = [s for s in (self.file, self.secret, self.env) if s]
        if len(sources) != 1:
            raise ValueError("give exactly one of file, secret or env")
        if self.key and not self.secret:
            raise ValueError("key only goes with secret")
        return self


class LatencySLO(_Model):
    threshold_ms: float = Field(gt=0, description="a request slower than this is 'slow'")
    target: float = Field(99.0, gt=0, lt=100, description="percent of requests faster than it")


class SLOs(_Model):
    availability: float = Field(99.9, gt=0, lt=100, description="percent of non-5xx requests")
    latency: LatencySLO = LatencySLO(threshold_ms=300, target=99.0)
    routes: dict[str, LatencySLO] = Field(default_factory=dict,
                                          description="latency per route template")
    window_days: int = Field(30, ge=1, le=90, description="SLO window for the error budget")

    @field_validator("routes")
    @classmethod
    def _templates(cls, v: dict[str, LatencySLO]) -> dict[str, LatencySLO]:
        for route in v:
            if not route.startswith("/"):
                raise ValueError(f"route {route!r} must start with /")
        return v


class Dependency(_Model):
    name: str = Field(pattern=DNS_LABEL)
    kind: Literal["http", "sql", "tcp", "redis", "nats"]
    url: str | None = Field(None, description="address; may use ${ENV} placeholders")
    url_env: str | None = Field(None, description="environment variable holding the address")
    check: str | None = Field(None, description="path for http checks (default /healthz/ping)")
    critical: bool = Field(True, description="readiness fails when this one is down")
    timeout_ms: int = Field(1000, gt=0, le=30_000)

    @model_validator(mode="after")
    def _address(self) -> Dependency:
        if not self.url and not self.url_env:
            raise ValueError("give url or url_env")
        if self.url and re.search(r"//[^/@\s]+:[^/@\s]+@", self.url):
            raise ValueError("url carries credentials; reference them with url_env instead")
        return self


class ChatRoute(_Model):
    channel: str
    webhook: SecretRef | None = None


class TicketRoute(_Model):
    project: str
    webhook: SecretRef | None = None


class PagerRoute(_Model):
    service: str
    routing_key: SecretRef | None = None


class Alerting(_Model):
    chat: ChatRoute | None = None
    ticket: TicketRoute | None = None
    pager: PagerRoute | None = None


class ResourceAmounts(_Model):
    cpu: str | None = None
    memory: str | None = None

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: str | None) -> str | None:
        if v is not None and not _CPU.match(v):
            raise ValueError(f"{v!r} is not a Kubernetes CPU quantity (e.g. 250m, 1)")
        return v

    @field_validator("memory")
    @classmethod
    def _mem(cls, v: str | None) -> str | None:
        if v is not None and not _MEM.match(v):
            raise ValueError(f"{v!r} is not a Kubernetes memory quantity (e.g. 256Mi)")
        return v


class Resources(_Model):
    requests: ResourceAmounts = ResourceAmounts(cpu="100m", memory="128Mi")
    limits: ResourceAmounts = ResourceAmounts(cpu="500m", memory="256Mi")


class LoadMix(_Model):
    """Weights of the mixed load profile: task name -> relative weight."""

    weights: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


class Shutdown(_Model):
    drain_delay: float = Field(5.0, ge=0, le=120)
    grace: float = Field(20.0, gt=0, le=600)
    max_in_flight: int = Field(256, ge=1)


# the samplers OTEL_TRACES_SAMPLER may name (OpenTelemetry's built-in ones)
Sampler = Literal["always_on", "always_off", "traceidratio", "parentbased_always_on",
                  "parentbased_always_off", "parentbased_traceidratio"]


class Tracing(_Model):
    """``tracing:``. Each field set here wins over the OTEL_* environment; ``tracing: true``
    (or ``false``) alone is ``enabled``."""

    enabled: bool | None = Field(
        None, description="spans on or off whatever OTEL_* says (unset: on where "
                          "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set and OTEL_SDK_DISABLED "
                          "is not true)")
    sampler: Sampler | None = Field(None, description="instead of OTEL_TRACES_SAMPLER")
    ratio: float | None = Field(None, ge=0, le=1,
                                description="instead of OTEL_TRACES_SAMPLER_ARG")


class ServiceSpec(_Model):
    """service.yaml, version 1."""

    version: Literal[1] = 1
    name: str = Field(pattern=DNS_LABEL, description="service name (a DNS label)")
    team: str = Field(min_length=1)
    description: str = ""
    app: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
                     description="the ASGI app, module:attribute")
    port: int = Field(8080, ge=1, le=65535)
    slos: SLOs = SLOs()
    dependencies: list[Dependency] = Field(default_factory=list)
    callers: list[str] = Field(default_factory=list,
                               description="services that call this one (names): the chart's "
                               "NetworkPolicy lets their pods in")
    alerting: Alerting = Alerting()
    resources: Resources = Resources()
    load: LoadMix = LoadMix()
    shutdown: Shutdown = Shutdown()
    tracing: Tracing = Tracing()

    @field_validator("tracing", mode="before")
    @classmethod
    def _tracing_switch(cls, v: Any) -> Any:
        return {"enabled": v} if isinstance(v, bool) else v

    @field_validator("callers")
    @classmethod
    def _callers(cls, v: list[str]) -> list[str]:
        for name in v:
            if not re.fullmatch(DNS_LABEL, name):
                raise ValueError(f"caller {name!r} is not a service name (a DNS label)")
        return sorted(set(v))

    @field_validator("dependencies")
    @classmethod
    def _unique_names(cls, v: list[Dependency]) -> list[Dependency]:
        from logstd._yamlsrc import first_repeat

        if (name := first_repeat(d.name for d in v)) is not None:
            raise ValueError(f"dependency {name!r} listed twice")
        return v


def parse_spec(data: Any, source: str = "service.yaml") -> ServiceSpec:
    """Validate a loaded mapping; errors name the source and the field path."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a service spec is a mapping (name, team, app, ...)")
    try:
        return ServiceSpec.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err.get("loc", ()) if not str(p).startswith("function-"))
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "field required"
        more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        from logstd._yamlsrc import field_path

        raise SpecError(f"{source}: {field_path(loc)}: {msg}{more}") from e


def load_spec(path: str | Path) -> ServiceSpec:
    """Read and validate service.yaml."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"{p}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1
        raise SpecError(f"{p}:{line}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        what = " ".join(str(getattr(e, "problem", None) or e).split())
        raise SpecError(f"{p}{where}: YAML syntax error: {what}") from e
    return parse_spec(data, str(p))


def json_schema() -> dict[str, Any]:
    """JSON Schema of service.yaml for editors."""
    schema = ServiceSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "opsplane service.yaml"
    return schema
