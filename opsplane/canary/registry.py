"""The registry (``canary.yaml``, version 1): which collections run against which
environments, how often, and where results go.

    version: 1
    concurrency: 16            # runs at once
    jitter: 0.1                # each next start moves by up to +-10% of the interval
    store: {url: sqlite:///canary.db, retention: 14d}   # or urlFile: for PostgreSQL
    slack: {signingSecret: {file: /etc/canary/slack-signing-secret}}
    api: {token: {file: /etc/canary/api-token}}          # bearer token of POST /runs
    targets:
      - service: orders
        environment: prod
        baseUrl: http://orders.prod.svc:8080             # or env: env.prod.yaml
        collections: [tests/test.smoke.yaml]
        interval: 30s
        timeout: 10s
        credentials: {token: {file: /etc/canary/orders-token}}

Credentials are file references only (a mounted Secret); their values are masked in every
result. Relative paths are read from the registry file's folder. Collections and
environment files are read at each run, so a broken one breaks its target only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsplane.canary.errors import RegistryError

DNS_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def seconds(value: Any) -> float:
    """``30s``, ``500ms``, ``2m``, ``14d``, ``30`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("give a duration like 30s, 2m or 14d")
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration (e.g. 30s, 500ms, 2m, 14d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRef(_Model):
    """A credential: the path of a file holding it (a mounted Secret). Never a value."""

    file: str = Field(min_length=1, description="file holding the value (trailing newline "
                                                "dropped); relative to canary.yaml")

    @model_validator(mode="before")
    @classmethod
    def _ref_only(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError("a credential is never written inline; give {file: PATH}")
        return v


class Store(_Model):
    url: str | None = Field(None, description="sqlite:///PATH or postgresql://host/db "
                                              "(no password: use urlFile)")
    urlFile: str | None = Field(None, description="file holding the store URL (PostgreSQL "
                                                  "with its password)")
    retention: float = Field(14 * 86400.0, gt=0, description="runs older than this are "
                                                             "deleted (e.g. 14d)")

    _dur = field_validator("retention", mode="before")(lambda cls, v: seconds(v))

    @model_validator(mode="after")
    def _url(self) -> Store:
        if self.url and self.urlFile:
            raise ValueError("give url or urlFile, not both")
        if self.url:
            if re.match(r"^[a-z+]+://[^/@\s]+:[^/@\s]+@", self.url):
                raise ValueError("url carries a password; put the URL in a file and give "
                                 "urlFile instead")
            if not re.match(r"^(sqlite|postgres|postgresql)://", self.url):
                raise ValueError(f"url {self.url!r}: give sqlite:///PATH or postgresql://...")
        return self


class Slack(_Model):
    signingSecret: FileRef


class Api(_Model):
    token: FileRef


class Target(_Model):
    service: str = Field(pattern=DNS_LABEL, description="service name as in service.yaml")
    environment: str = Field(pattern=DNS_LABEL, description="environment name (prod, ...)")
    baseUrl: str | None = Field(None, description="the service's address")
    env: str | None = Field(None, description="an env.<name>.yaml to use instead of baseUrl")
    collections: list[str] = Field(min_length=1, description="test.<name>.yaml files")
    tags: list[str] = Field(default_factory=list, description="only requests with these tags")
    interval: float = Field(30.0, ge=1, description="time between runs (e.g. 30s, 5m)")
    timeout: float | None = Field(None, gt=0, description="a run is cut after this long "
                                                          "(default: the interval, at most 60s)")
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)
    credentials: dict[str, FileRef] = Field(default_factory=dict,
                                            description="name -> {file: PATH}; masked")

    _dur = field_validator("interval", "timeout", mode="before")(
        lambda cls, v: None if v is None else seconds(v))

    @field_validator("baseUrl")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        if re.match(r"^https?://[^/@\s]+:[^/@\s]+@", v):
            raise ValueError("baseUrl carries credentials; use credentials: {file: PATH}")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _where(self) -> Target:
        if (self.baseUrl is None) == (self.env is None):
            raise ValueError("give exactly one of baseUrl or env")
        return self

    @property
    def key(self) -> str:
        return f"{self.service}/{self.environment}"

    @property
    def run_timeout(self) -> float:
        return self.timeout if self.timeout is not None else min(self.interval, 60.0)


class RegistryFile(_Model):
    """canary.yaml, version 1."""

    version: Literal[1] = 1
    concurrency: int = Field(16, ge=1, le=1024, description="runs at once")
    jitter: float = Field(0.1, ge=0, le=0.5, description="fraction of the interval")
    store: Store = Store()
    slack: Slack | None = None
    api: Api | None = None
    targets: list[Target] = Field(default_factory=list)

    @field_validator("targets")
    @classmethod
    def _unique(cls, v: list[Target]) -> list[Target]:
        from logstd._yamlsrc import first_repeat

        if (key := first_repeat(t.key for t in v)) is not None:
            raise ValueError(f"target {key} is listed twice")
        return v


@dataclass(frozen=True)
class Registry:
    """A loaded registry: the model plus the folder relative paths are read from."""

    model: RegistryFile
    source: str
    folder: Path

    @property
    def targets(self) -> list[Target]:
        return list(self.model.targets)

    def path(self, name: str) -> Path:
        p = Path(name)
        return p if p.is_absolute() else self.folder / p

    def target(self, service: str, environment: str | None = None) -> list[Target]:
        return [t for t in self.model.targets
                if t.service == service and environment in (None, t.environment)]

    def read_ref(self, ref: FileRef, what: str) -> str:
        p = self.path(ref.file)
        try:
            return p.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise RegistryError(f"{self.source}: {what}: cannot read {p}: "
                                f"{getattr(e, 'strerror', None) or e}") from e

    def store_url(self) -> str:
        st = self.model.store
        if st.urlFile:
            return self.read_ref(FileRef(file=st.urlFile), "store.urlFile")
        if st.url:
            if st.url.startswith("sqlite:///") and not st.url.startswith("sqlite:////"):
                return f"sqlite:///{self.folder / st.url.removeprefix('sqlite:///')}"
            return st.url
        return f"sqlite:///{self.folder / 'canary.db'}"


def parse_registry(data: Any, source: str = "canary.yaml", folder: Path | None = None,
                   *, section: str | None = None) -> Registry:
    """Validate loaded YAML; errors are one line: ``file:line: key.path: what``.

    ``section``: the registry is that key of ``data`` (``canary`` of opsplane.yaml)."""
    from logstd._yamlsrc import validation_message

    whole = data
    if section is not None:
        data = data.get(section) if isinstance(data, dict) else None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        where = f"{section}: " if section else ""
        raise RegistryError(f"{source}: {where}a registry is a mapping (version, targets, ...)")
    try:
        model = RegistryFile.model_validate(data)
    except ValidationError as e:
        errors: list[dict[str, Any]] = [dict(x) for x in e.errors()]
        if section is not None:
            errors = [{**x, "loc": (section, *tuple(x.get("loc", ())))} for x in errors]
        raise RegistryError(validation_message(source, whole, errors)) from e
    return Registry(model, source, folder or Path.cwd())


ORG_FILE = "opsplane.yaml"


def load_registry(path: str | Path) -> Registry:
    """Read and validate ``canary.yaml``, or the ``canary:`` section of the organisation
    file (``opsplane.yaml``, issue 21's), named so or holding ``teams`` / ``endpoints``."""
    from logstd._yamlsrc import load_yaml

    p = Path(path)
    if not p.is_file():
        raise RegistryError(f"{p}: no such registry file (write one: see opsplane canary --help)")
    data = load_yaml(p, RegistryError)
    org = p.name == ORG_FILE or (isinstance(data, dict) and "canary" in data
                                 and not {"targets", "store"} & set(data))
    if org and (not isinstance(data, dict) or data.get("canary") is None):
        raise RegistryError(f"{p}: no canary: section (the canary's targets, store, ...)")
    return parse_registry(data, str(p), p.resolve().parent, section="canary" if org else None)


def find_registry(given: str | Path | None, cwd: Path | None = None) -> Path:
    """``-c FILE`` when given; else ./canary.yaml; else ./opsplane.yaml when it has a
    ``canary:`` section; else ./canary.yaml (which then does not exist: said so)."""
    if given is not None:
        return Path(given)
    here = cwd or Path()
    if (here / "canary.yaml").is_file():
        return here / "canary.yaml"
    org = here / ORG_FILE
    if org.is_file():
        import re

        if re.search(r"(?m)^canary:", org.read_text(encoding="utf-8", errors="replace")):
            return org
    return here / "canary.yaml"
