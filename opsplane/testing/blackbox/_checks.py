"""Assertions on one response: each failing check becomes a :class:`Failure` line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from opsplane.testing.blackbox.collection import Expect, JsonCheck, Length

_NOTHING = object()


@dataclass(frozen=True)
class Failure:
    """One failed check: what was checked, what was expected, what came back."""

    check: str
    expected: str
    actual: str

    def line(self) -> str:
        return f"{self.check}: expected {self.expected}, got {self.actual}"

    def masked(self, mask: Any) -> Failure:
        return Failure(mask(self.check), mask(self.expected), mask(self.actual))


def show(value: Any, width: int = 120) -> str:
    """A JSON value as the user wrote it, shortened."""
    if value is _NOTHING:
        return "nothing (the path matched no value)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, want: str) -> bool:
    have = json_type(value)
    return have == want or (want == "number" and have == "integer") or (
        want == "integer" and isinstance(value, float) and value.is_integer())


def json_equal(a: Any, b: Any) -> bool:
    """Equality with JSON semantics: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def find(doc: Any, path: str) -> Any:
    """The value at a JSONPath: one match -> it, several -> the list, none -> _NOTHING."""
    import jsonpath

    matches = jsonpath.findall(path, doc)
    if not matches:
        return _NOTHING
    return matches[0] if len(matches) == 1 else list(matches)


def _length_text(want: int | Length) -> str:
    if isinstance(want, int):
        return str(want)
    if want.eq is not None:
        return str(want.eq)
    parts = []
    if want.min is not None:
        parts.append(f">= {want.min}")
    if want.max is not None:
        parts.append(f"<= {want.max}")
    return " and ".join(parts) or "any"


def _length_ok(n: int, want: int | Length) -> bool:
    if isinstance(want, int):
        return n == want
    return ((want.eq is None or n == want.eq) and (want.min is None or n >= want.min)
            and (want.max is None or n <= want.max))


def check_json(doc: Any, c: JsonCheck) -> list[Failure]:
    value = find(doc, c.path)
    out: list[Failure] = []
    if c.exists is False:
        if value is not _NOTHING:
            out.append(Failure(c.path, "no value", show(value)))
        return out
    if value is _NOTHING:
        want = (show(c.equals) if c.has_equals else
                f"a {c.type}" if c.type else "a value")
        return [Failure(c.path, want, show(value))]
    if c.has_equals and not json_equal(value, c.equals):
        out.append(Failure(c.path, show(c.equals), show(value)))
    if c.type is not None and not _type_ok(value, c.type):
        out.append(Failure(f"{c.path} type", c.type, f"{json_type(value)} {show(value, 60)}"))
    if c.regex is not None:
        text = value if isinstance(value, str) else json.dumps(value)
        if not re.search(c.regex, text):
            out.append(Failure(f"{c.path}", f"to match /{c.regex}/", show(value)))
    if c.length is not None:
        if not isinstance(value, str | list | dict):
            out.append(Failure(f"{c.path} length", _length_text(c.length),
                               f"{json_type(value)} {show(value, 60)} (no length)"))
        elif not _length_ok(len(value), c.length):
            out.append(Failure(f"{c.path} length", _length_text(c.length), str(len(value))))
    return out


def parse_json(body: bytes) -> Any:
    """The JSON body or _NOTHING."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _NOTHING


def check_response(expect: Expect, status: int, headers: Any, body: bytes,
                   elapsed_ms: float) -> tuple[list[Failure], Any]:
    """Every failed check, and the parsed JSON body (or None when it is not JSON)."""
    out: list[Failure] = []
    if expect.status is None:
        if not 200 <= status < 300:
            out.append(Failure("status", "2xx", str(status)))
    elif status not in expect.status:
        want = (str(expect.status[0]) if len(expect.status) == 1
                else "one of " + ", ".join(map(str, expect.status)))
        out.append(Failure("status", want, str(status)))
    for name, hc in expect.headers.items():
        got = headers.get(name)
        label = f"header {name}"
        if hc.exists is not None and (got is not None) != hc.exists:
            out.append(Failure(label, "present" if hc.exists else "absent",
                               "absent" if got is None else repr(got)))
            continue
        if got is None and (hc.equals is not None or hc.contains is not None or hc.regex):
            want = (repr(hc.equals) if hc.equals is not None else
                    f"to contain {hc.contains!r}" if hc.contains is not None else
                    f"to match /{hc.regex}/")
            out.append(Failure(label, want, "absent"))
            continue
        if got is None:
            continue
        if hc.equals is not None and got.strip() != hc.equals.strip():
            out.append(Failure(label, repr(hc.equals), repr(got)))
        if hc.contains is not None and hc.contains.lower() not in got.lower():
            out.append(Failure(label, f"to contain {hc.contains!r}", repr(got)))
        if hc.regex is not None and not re.search(hc.regex, got):
            out.append(Failure(label, f"to match /{hc.regex}/", repr(got)))
    doc = parse_json(body) if (expect.json_ or expect.health or body) else _NOTHING
    if (expect.json_ or expect.health) and doc is _NOTHING:
        ctype = (headers.get("content-type") or "no content-type").split(";")[0]
        out.append(Failure("body", "JSON", f"a non-JSON body ({ctype})" if body
                           else "an empty body"))
    else:
        for c in expect.json_:
            out.extend(check_json(doc, c))
        if expect.health is not None:
            got_status = doc.get("status") if isinstance(doc, dict) else _NOTHING
            if got_status is _NOTHING or got_status is None:
                out.append(Failure("health", f"a health+json status {expect.health!r}",
                                   "no status field"))
            elif str(got_status).lower() != expect.health:
                out.append(Failure("health", show(expect.health), show(got_status)))
    if expect.max_ms is not None and elapsed_ms > expect.max_ms:
        out.append(Failure("time", f"<= {expect.max_ms:g} ms", f"{elapsed_ms:.0f} ms"))
    return out, (None if doc is _NOTHING else doc)


NOTHING = _NOTHING
