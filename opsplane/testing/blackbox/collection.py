"""The collection format (``test.<name>.yaml``): ordered requests with captures and assertions.

A versioned pydantic model; :func:`load_collection` validates a file and names
``file:line: field.path: what`` on any mistake; :func:`json_schema` is for editors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from opsplane.testing.blackbox.errors import CollectionError

VAR = re.compile(r"\{\{\s*([$A-Za-z_][\w.-]*)\s*\}\}")
NAME = r"^[A-Za-z_][\w-]*$"
JsonType = Literal["string", "number", "integer", "boolean", "array", "object", "null"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Length(_Model):
    """A length bound: exactly ``eq``, or between ``min`` and ``max`` (inclusive)."""

    eq: int | None = Field(None, ge=0)
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class JsonCheck(_Model):
    """One check on the JSON response body at a JSONPath (``$.items[0].sku``)."""

    path: str = Field(description="JSONPath into the response body, e.g. $.items[0].sku")
    equals: Any = Field(None, description="the value must equal this (any JSON value, null too)")
    type: JsonType | None = Field(None, description="JSON type of the value")
    regex: str | None = Field(None, description="the value (as text) must match this regex")
    length: int | Length | None = Field(
        None, description="length of a string, array or object: a number or {min, max}")
    exists: bool | None = Field(None, description="the path must (true) or must not (false) match")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        import jsonpath

        if not v.startswith("$"):
            raise ValueError(f"JSONPath {v!r} must start with $")
        try:
            jsonpath.compile(v)
        except jsonpath.JSONPathError as e:
            raise ValueError(f"JSONPath {v!r} is invalid: {str(e).splitlines()[0]}") from e
        return v

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"regex {v!r} is invalid: {e}") from e
        return v

    @model_validator(mode="after")
    def _something(self) -> JsonCheck:
        if not ({"equals", "type", "regex", "length", "exists"} & self.model_fields_set):
            raise ValueError("give at least one of equals, type, regex, length, exists")
        return self

    @property
    def has_equals(self) -> bool:
        return "equals" in self.model_fields_set


class HeaderCheck(_Model):
    """A response header check; a plain string in ``headers`` means ``equals``."""

    equals: str | None = None
    contains: str | None = None
    regex: str | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> HeaderCheck:
        if not self.model_fields_set:
            raise ValueError("give one of equals, contains, regex, exists")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} is invalid: {e}") from e
        return self


class Expect(_Model):
    """What the response must look like. Every check that fails is reported."""

    status: list[int] | None = Field(
        None, description="expected status code, or a list of acceptable ones")
    headers: dict[str, HeaderCheck] = Field(
        default_factory=dict, description="response headers (name is case-insensitive)")
    json_: list[JsonCheck] = Field(
        default_factory=list, alias="json",
        description="checks on the JSON body: a list of checks, or a mapping JSONPath -> value")
    max_ms: float | None = Field(None, gt=0, description="response time bound in milliseconds")
    health: Literal["pass", "warn", "fail"] | None = Field(
        None, description="body is health+json and its status is this (pass, warn, fail)")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: Any) -> Any:
        items = v if isinstance(v, list) else [v]
        for s in items:
            if isinstance(s, bool) or not isinstance(s, int) or not 100 <= s <= 599:
                raise ValueError(f"status {s!r} is not an HTTP status code (100..599)")
        return items

    @field_validator("headers", mode="before")
    @classmethod
    def _headers(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: ({"equals": str(c)} if isinstance(c, str | int | float) else c)
                    for k, c in v.items()}
        return v

    @field_validator("json_", mode="before")
    @classmethod
    def _json(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return [{"path": k, "equals": val} for k, val in v.items()]
        return v


class Request(_Model):
    """One request of the collection, run in order; later ones may use earlier captures."""

    name: str = Field(min_length=1, description="shown in results and reports; unique")
    tags: list[str] = Field(default_factory=list, description="e.g. smoke, integration")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    url: str = Field(description="a path under the environment's baseUrl (/orders/{{orderId}}) "
                                 "or an absolute URL; {{variables}} are substituted")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json", description="request body sent as JSON")
    body: str | None = Field(None, description="request body sent as text")
    capture: dict[str, str] = Field(
        default_factory=dict, description="variable name -> JSONPath into the response body")
    expect: Expect = Field(default_factory=Expect)
    timeout_ms: float | None = Field(None, gt=0, description="overrides the collection timeout")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("/", "http://", "https://", "{{")):
            raise ValueError(f"url {v!r} is neither a path (/...) nor an http(s) URL")
        return v

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for t in v:
            if not re.match(NAME, t):
                raise ValueError(f"tag {t!r} must be a word (letters, digits, _ or -)")
        return v

    @field_validator("capture")
    @classmethod
    def _capture(cls, v: dict[str, str]) -> dict[str, str]:
        import jsonpath

        for name, path in v.items():
            if not re.match(NAME, name):
                raise ValueError(f"capture name {name!r} must be a word")
            if not path.startswith("$"):
                raise ValueError(f"capture {name}: JSONPath {path!r} must start with $")
            try:
                jsonpath.compile(path)
            except jsonpath.JSONPathError as e:
                raise ValueError(f"capture {name}: JSONPath {path!r} is invalid: "
                                 f"{str(e).splitlines()[0]}") from e
        return v

    @model_validator(mode="after")
    def _one_body(self) -> Request:
        if "json_" in self.model_fields_set and self.body is not None:
            raise ValueError("give json or body, not both")
        return self

    @property
    def has_json(self) -> bool:
        return "json_" in self.model_fields_set


class Collection(_Model):
    """``test.<name>.yaml``, version 1."""

    version: Literal[1] = 1
    name: str = Field(min_length=1, description="what this collection proves")
    description: str = ""
    variables: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="defaults; the environment's variables win")
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every request")
    timeout_ms: float = Field(10_000, gt=0, description="per-request timeout")
    requests: list[Request] = Field(min_length=1)
    _data: Any = PrivateAttr(None)

    def line_of(self, *loc: int | str) -> int | None:
        """The source line of a field (when loaded from a file), e.g. ``("requests", 2, "url")``."""
        from opsplane.testing.blackbox._yaml import line_of

        return line_of(self._data, loc) if self._data is not None else None

    @field_validator("requests")
    @classmethod
    def _unique(cls, v: list[Request]) -> list[Request]:
        from logstd._yamlsrc import first_repeat

        if (name := first_repeat(r.name for r in v)) is not None:
            raise ValueError(f"request name {name!r} is used twice")
        return v


def parse_collection(data: Any, source: str = "collection") -> Collection:
    """Validate loaded YAML; errors read ``file:line: field.path: what``."""
    from opsplane.testing.blackbox._yaml import validation_message

    if not isinstance(data, dict):
        raise CollectionError(f"{source}: a collection is a mapping (name, requests, ...)")
    try:
        collection = Collection.model_validate(data)
    except ValidationError as e:
        raise CollectionError(
            validation_message(source, data, [dict(x) for x in e.errors()])) from e
    collection._data = data
    return collection


def load_collection(path: str | Path) -> Collection:
    """Read and validate a collection file."""
    from opsplane.testing.blackbox._yaml import load_yaml

    p = Path(path)
    return parse_collection(load_yaml(p), str(p))


def variables_used(value: Any) -> list[str]:
    """Names of the ``{{variables}}`` in a string or any nested JSON value, in order."""
    out: list[str] = []
    if isinstance(value, str):
        out.extend(VAR.findall(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            out.extend(variables_used(k))
            out.extend(variables_used(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(variables_used(v))
    return out


def json_schema() -> dict[str, Any]:
    """JSON Schema of the collection format, for editors."""
    schema = Collection.model_json_schema(by_alias=True)
    # The short forms the validators accept, spelled out for editors.
    expect = schema["$defs"]["Expect"]["properties"]
    expect["status"] = {
        "anyOf": [{"type": "integer", "minimum": 100, "maximum": 599},
                  {"type": "array", "items": {"type": "integer", "minimum": 100,
                                              "maximum": 599}}, {"type": "null"}],
        "default": None, "title": "Status", "description": expect["status"]["description"]}
    expect["json"]["anyOf"] = [
        {"type": "array", "items": {"$ref": "#/$defs/JsonCheck"}},
        {"type": "object", "description": "short form: JSONPath -> expected value"}]
    expect["json"].pop("items", None)
    expect["json"].pop("type", None)
    expect["headers"]["additionalProperties"] = {
        "anyOf": [{"type": "string"}, {"$ref": "#/$defs/HeaderCheck"}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "opsplane test collection (test.<name>.yaml)"
    return schema
