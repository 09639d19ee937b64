"""Facts and secrets (pydantic-settings): one class per service, loaded once at startup.

A field typed ``SecretStr`` (or ``SecretBytes``) is a *secret*; every other field is a
*fact*. Where each comes from, highest precedence first:

- facts: environment variable (``NAME``, with the class's ``env_prefix``), then a file
  ``name`` in the mounted ConfigMap directory (``OPSPLANE_CONFIG_DIR``, default
  ``/etc/opsplane/config``), then the field default;
- secrets: environment variable, then the file named by ``NAME_FILE`` (e.g. a Vault agent
  file), then a file ``name`` in the mounted Secret directory (``OPSPLANE_SECRETS_DIR``,
  default ``/etc/opsplane/secrets``), then the default.

A secret's value never appears in ``repr``, in errors or in health output. A missing
required setting raises ``SettingsError`` with one line naming it and where it may come
from; ``opsplane.instrument(..., settings=Cls)`` turns that into a failed startup
(readiness never answers 200).

    class OrdersSettings(Settings):
        database_url: str = "sqlite:///orders.db"
        payments_api_key: SecretStr
"""

from __future__ import annotations

import os
import typing
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretBytes, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from opsplane.errors import SettingsError

__all__ = ["Settings", "is_secret", "load_settings"]

DEFAULT_CONFIG_DIR = "/etc/opsplane/config"
DEFAULT_SECRETS_DIR = "/etc/opsplane/secrets"
S = TypeVar("S", bound="Settings")


@dataclass(frozen=True)
class _Where:
    config_dir: Path
    secrets_dir: Path


_where: ContextVar[_Where | None] = ContextVar("opsplane_settings_where", default=None)


def _current_where() -> _Where:
    where = _where.get()
    if where is not None:
        return where
    return _Where(Path(os.environ.get("OPSPLANE_CONFIG_DIR") or DEFAULT_CONFIG_DIR),
                  Path(os.environ.get("OPSPLANE_SECRETS_DIR") or DEFAULT_SECRETS_DIR))


def is_secret(field: FieldInfo) -> bool:
    """True when the field's type is SecretStr/SecretBytes (or optional of one)."""
    ann = field.annotation
    if ann in (SecretStr, SecretBytes):
        return True
    return any(a in (SecretStr, SecretBytes) for a in typing.get_args(ann))


def _env_name(cls: type[BaseSettings], name: str) -> str:
    return f"{cls.model_config.get('env_prefix', '')}{name}".upper()


def _read(path: Path) -> str | None:
    try:
        if path.is_file():
            return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError:
        return None
    return None


class _DirSource(PydanticBaseSettingsSource):
    """One file per key in a mounted directory (ConfigMap or Secret volume)."""

    def __init__(self, settings_cls: type[BaseSettings], secrets: bool) -> None:
        super().__init__(settings_cls)
        self.secrets = secrets

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        where = _current_where()
        directory = where.secrets_dir if self.secrets else where.config_dir
        for name in (field_name, field_name.upper(), field_name.replace("_", "-")):
            value = _read(directory / name)
            if value is not None:
                return value, field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if is_secret(field) != self.secrets:
                continue
            value, key, complex_ = self.get_field_value(field, name)
            if value is not None:
                out[key] = self.prepare_field_value(name, field, value, complex_)
        return out


class _FileEnvSource(PydanticBaseSettingsSource):
    """``NAME_FILE=/vault/secrets/name``: the secret is that file's content."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(_env_name(self.settings_cls, field_name) + "_FILE")
        if not path:
            return None, field_name, False
        value = _read(Path(path))
        if value is None:
            raise SettingsError(f"secret {field_name}: {_env_name(self.settings_cls, field_name)}"
                                f"_FILE names {path}, which cannot be read")
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if not is_secret(field):
                continue
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                out[key] = value
        return out


class Settings(BaseSettings):
    """Base class of a service's settings: facts (plain fields) and secrets (SecretStr)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileEnvSource(settings_cls),
                _DirSource(settings_cls, secrets=True), _DirSource(settings_cls, secrets=False))

    def facts(self) -> dict[str, Any]:
        """The non-secret settings (safe to log or show)."""
        return {name: getattr(self, name) for name, f in type(self).model_fields.items()
                if not is_secret(f)}


def _where_from(cls: type[Settings], name: str, secret: bool, where: _Where) -> str:
    env = _env_name(cls, name)
    if secret:
        return (f"set {env} or {env}_FILE, or mount a file {name} in {where.secrets_dir}")
    return f"set {env} or put a file {name} in {where.config_dir}"


def load_settings(cls: type[S], *, config_dir: str | Path | None = None,
                  secrets_dir: str | Path | None = None) -> S:
    """Load ``cls`` from its sources; SettingsError (one line, no values) when it cannot."""
    from pydantic_settings import SettingsError as PydanticSettingsError

    base = _current_where()
    where = _Where(Path(config_dir) if config_dir else base.config_dir,
                   Path(secrets_dir) if secrets_dir else base.secrets_dir)
    token = _where.set(where)
    try:
        return cls()
    except ValidationError as e:
        errors = e.errors(include_input=False, include_url=False)
        err = errors[0]
        loc = err.get("loc", ())
        name = str(loc[0]) if loc else "?"
        field = cls.model_fields.get(name)
        secret = field is not None and is_secret(field)
        what = "secret" if secret else "setting"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        if err.get("type") == "missing":
            raise SettingsError(f"missing required {what} {name}: "
                                f"{_where_from(cls, name, secret, where)}{more}") from None
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        sub = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
        raise SettingsError(f"{what} {name}{sub}: {msg}{more}") from None
    except PydanticSettingsError as e:
        raise SettingsError(f"settings {cls.__name__}: {str(e).splitlines()[0]}") from None
    finally:
        _where.reset(token)
