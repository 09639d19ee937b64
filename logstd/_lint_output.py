"""Findings out: text, json, github (workflow commands) and sarif (code scanning)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import IO, Any

import orjson

from logstd._finding import Finding
from logstd._lint_rules import RULES

FORMATS = ("text", "json", "github", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return s.replace(":", "%3A").replace(",", "%2C") if prop else s


def write(findings: Iterable[Finding], fmt: str, out: IO[bytes]) -> int:
    """Write ``findings`` to a binary stream; returns how many there were."""
    w = Writer(fmt, out)
    w.findings(findings)
    return w.close()


def render(findings: Iterable[Finding], fmt: str) -> tuple[bytes, int]:
    """Text or github lines, or json list items joined by ``,\n``, and how many."""
    if fmt == "text":
        lines = [f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n" for f in findings]
        return "".join(lines).encode(), len(lines)
    if fmt == "github":
        lines = []
        for f in findings:
            title = f"logstd {f.code} {RULES[f.code].name}"
            lines.append(f"::error file={_gh_escape(f.path, True)},line={f.line},col={f.col},"
                         f"title={_gh_escape(title, True)}::{_gh_escape(f.message)}\n")
        return "".join(lines).encode(), len(lines)
    if fmt == "json":
        items = [_json_item(f) for f in findings]
        return b",\n".join(items), len(items)
    raise ValueError(fmt)  # pragma: no cover - sarif is one document, not streamed


def _json_item(f: Finding) -> bytes:
    """One finding as ``orjson.dumps([...], option=OPT_INDENT_2)`` writes a list item."""
    return b"  " + orjson.dumps(_as_dict(f), option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")


class Writer:
    """Findings out in one format as they come, also pre-rendered chunks (``render``).

    json is written as one list, item by item: the same bytes as ``orjson.dumps`` of the
    whole list with ``OPT_INDENT_2``. sarif is one document: it is built at ``close``.
    """

    def __init__(self, fmt: str, out: IO[bytes]) -> None:
        if fmt not in FORMATS:  # pragma: no cover - argparse and the config check it
            raise ValueError(fmt)
        self.fmt = fmt
        self.out = out
        self.n = 0
        self._held: list[Finding] = []  # sarif

    def findings(self, findings: Iterable[Finding]) -> None:
        if self.fmt == "sarif":
            before = len(self._held)
            self._held.extend(findings)
            self.n += len(self._held) - before
            return
        it = iter(findings)
        while True:
            batch = list(islice(it, 4096))
            if not batch:
                return
            self.rendered(*render(batch, self.fmt))

    def rendered(self, data: bytes | bytearray, n: int) -> None:
        """A chunk from ``render`` (or an equivalent) holding ``n`` findings."""
        if not n:
            return
        if self.fmt == "json":
            self.out.write(b",\n" if self.n else b"[\n")
        self.out.write(data)
        self.n += n

    def close(self) -> int:
        """Finish the document; returns how many findings were written."""
        if self.fmt == "json":
            self.out.write(b"\n]\n" if self.n else b"[]\n")
        elif self.fmt == "sarif":
            self.out.write(orjson.dumps(sarif(self._held), option=orjson.OPT_INDENT_2))
            self.out.write(b"\n")
        return self.n


def _as_dict(f: Finding) -> dict[str, Any]:
    return {"path": f.path, "line": f.line, "column": f.col, "code": f.code,
            "rule": RULES[f.code].name, "message": f.message, "key": f.key}


def sarif(findings: list[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of logstd (rules listed, results in order)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("opsplane")
    except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        ver = "0"
    codes = sorted(RULES)
    index = {c: i for i, c in enumerate(codes)}
    rules = [{"id": c, "name": RULES[c].name,
              "shortDescription": {"text": RULES[c].description},
              "defaultConfiguration": {"level": "error" if RULES[c].default else "none"}}
             for c in codes]
    results = [{
        "ruleId": f.code, "ruleIndex": index[f.code], "level": "error",
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": _uri(f.path)},
            "region": {"startLine": f.line, "startColumn": f.col}}}],
    } for f in findings]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "logstd", "version": ver,
                            "informationUri": "https://github.com/opsplane/opsplane",
                            "rules": rules}},
        "results": results}]}


def _uri(path: str) -> str:
    p = path.replace("\\", "/")
    return p[2:] if p.startswith("./") else p
