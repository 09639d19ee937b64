"""Environments (``env.<name>.yaml``): base URL, variables, and secrets by reference only.

A secret is ``{env: NAME}`` (an environment variable) or ``{file: PATH}`` (a mounted file,
relative paths from the environment file's folder); a literal value is refused. Resolved
secret values are kept in :attr:`Environment.secret_values` so every output can mask them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsplane.testing.blackbox.errors import CollectionError

_SECRETISH = re.compile(r"(pass(word)?|secret|token|api[-_]?key|credential|private)", re.I)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a secret lives: exactly one of ``env`` or ``file``."""

    env: str | None = Field(None, description="environment variable holding the value")
    file: str | None = Field(None, description="file holding the value (trailing newline dropped)")
    optional: bool = Field(False, description="an unset variable or missing file gives ''")

    @model_validator(mode="before")
    @classmethod
    def _ref_only(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError("a secret is never written inline; give a reference instead: "
                             "{env: VARIABLE} or {file: PATH}")
        return v

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self


class EnvironmentFile(_Model):
    """``env.<name>.yaml``, version 1."""

    version: Literal[1] = 1
    name: str | None = Field(None, description="defaults to <name> of env.<name>.yaml")
    baseUrl: str = Field(  # the file's field name (camelCase like the log keys)
        description="service address, e.g. http://127.0.0.1:8080; ${VAR} reads the environment")
    readiness: str = Field("/healthz/readiness", description="path polled by --wait")
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every request")
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict, description="name -> {env: VAR} or {file: PATH}; never a value")

    @field_validator("readiness")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"readiness path {v!r} must start with /")
        return v


@dataclass(frozen=True)
class Environment:
    """A loaded environment with its secrets resolved (values never printed)."""

    name: str
    base_url: str
    readiness: str = "/healthz/readiness"
    variables: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    source: str = "environment"

    @property
    def secret_values(self) -> list[str]:
        """Resolved secret values, longest first (so masking never leaves a tail)."""
        return sorted({v for v in self.secrets.values() if v}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for value in self.secret_values:
            text = text.replace(value, MASK)
        return text

    def __repr__(self) -> str:  # secrets stay out of reprs and tracebacks
        return f"Environment(name={self.name!r}, base_url={self.base_url!r})"


def _resolve(name: str, ref: SecretRef, folder: Path, source: str) -> str:
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            if ref.optional:
                return ""
            raise CollectionError(
                f"{source}: secrets.{name}: environment variable {ref.env} is not set")
        return value
    assert ref.file is not None
    path = Path(ref.file)
    path = path if path.is_absolute() else folder / path
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError as e:
        if ref.optional:
            return ""
        raise CollectionError(f"{source}: secrets.{name}: file {path} does not exist") from e
    except (OSError, UnicodeDecodeError) as e:
        raise CollectionError(f"{source}: secrets.{name}: cannot read {path}: {e}") from e


def _where(source: str, data: Any, loc: tuple[str, ...]) -> str:
    from opsplane.testing.blackbox._yaml import line_of

    line = line_of(data, loc)
    return f"{source}:{line}" if line else source


def _expand(value: str, source: str) -> str:
    def sub(m: re.Match[str]) -> str:
        var = m.group(1)
        if var not in os.environ:
            raise CollectionError(f"{source}: baseUrl: environment variable {var} is not set")
        return os.environ[var]

    return _ENV_REF.sub(sub, value)


def parse_environment(data: Any, source: str = "environment", *, name: str | None = None,
                      folder: Path | None = None) -> Environment:
    """Validate loaded YAML and resolve the secret references."""
    from opsplane.testing.blackbox._yaml import validation_message

    if not isinstance(data, dict):
        raise CollectionError(f"{source}: an environment is a mapping (baseUrl, variables, ...)")
    variables = data.get("variables")
    if isinstance(variables, dict):
        for k, val in variables.items():
            if _SECRETISH.search(str(k)) and isinstance(val, str) and val:
                raise CollectionError(
                    f"{_where(source, data, ('variables', k))}: variables.{k}: looks like a "
                    "secret written inline; move it to secrets as a reference "
                    "({env: VARIABLE} or {file: PATH})")
    try:
        model = EnvironmentFile.model_validate(data)
    except ValidationError as e:
        raise CollectionError(
            validation_message(source, data, [dict(x) for x in e.errors()])) from e
    base = _expand(model.baseUrl, _where(source, data, ("baseUrl",))).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base):
        raise CollectionError(f"{_where(source, data, ('baseUrl',))}: baseUrl: {base!r} is not "
                              "an http(s) URL")
    if re.match(r"^https?://[^/@\s]+:[^/@\s]+@", base):
        raise CollectionError(f"{source}: baseUrl: carries credentials; use secrets instead")
    secrets = {k: _resolve(k, ref, folder or Path.cwd(), _where(source, data, ("secrets", k)))
               for k, ref in model.secrets.items()}
    clash = sorted(set(secrets) & set(model.variables))
    if clash:
        raise CollectionError(f"{source}: secrets.{clash[0]}: also defined in variables")
    return Environment(name=model.name or name or "environment", base_url=base,
                       readiness=model.readiness, variables=dict(model.variables),
                       headers=dict(model.headers), secrets=secrets, source=source)


def load_environment(path: str | Path) -> Environment:
    """Read ``env.<name>.yaml``, validate it and resolve its secrets."""
    from opsplane.testing.blackbox._yaml import load_yaml

    p = Path(path)
    stem = p.name.removeprefix("env.").removesuffix(".yaml").removesuffix(".yml")
    return parse_environment(load_yaml(p), str(p), name=stem, folder=p.parent)


def ad_hoc(base_url: str) -> Environment:
    """An environment given only by its base URL (``--base-url``)."""
    return parse_environment({"baseUrl": base_url}, "--base-url", name="ad hoc")
