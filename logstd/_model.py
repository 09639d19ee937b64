"""Pydantic model of one dictionary entry: used only when a dictionary is (re)validated."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TYPES = ("string", "integer", "number", "boolean", "object", "array")
FORMATS = ("iso8601", "uuid", "milliseconds", "bytes", "ip", "uri", "hex", "level", "duration")


class KeyModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-zA-Z0-9]*$")
    type: Literal[TYPES]  # type: ignore[valid-type]
    description: str = Field(min_length=1)
    examples: list[Any] = Field(min_length=1)
    format: Literal[FORMATS] | None = None  # type: ignore[valid-type]
    group: str = "other"
    allowed: list[Any] | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    aliases: list[str] = []
    sensitive: Literal[False, "mask", "drop"] = False
    required: bool = False
    deprecated: str | None = None
    ecs: str | None = None
    otel: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a regular expression: {e}") from e
        return v

    @field_validator("sensitive", mode="before")
    @classmethod
    def _true_is_mask(cls, v: Any) -> Any:
        return "mask" if v is True else v

    @field_validator("aliases")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        seen = set()
        for a in v:
            if a in seen:
                raise ValueError(f"alias {a!r} listed twice")
            seen.add(a)
        return v


def model_error(err: Exception) -> tuple[str, str]:
    """(field, message) of the first problem in a pydantic ValidationError."""
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        loc = first.get("loc", ())
        field_name = str(loc[0]) if loc else ""
        msg = first.get("msg", "invalid")
        if first.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif first.get("type") == "missing":
            msg = "is required"
        return field_name, f"field {field_name!r}: {msg}" if field_name else msg
    return "", str(err)
