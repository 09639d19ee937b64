"""Findings out: text, json, github (workflow commands) and sarif (code scanning)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

import orjson

from logstd._lint import Finding
from logstd._lint_rules import RULES

FORMATS = ("text", "json", "github", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return s.replace(":", "%3A").replace(",", "%2C") if prop else s


def write(findings: Iterable[Finding], fmt: str, out: IO[bytes]) -> int:
    """Write ``findings`` to a binary stream; returns how many there were."""
    n = 0
    if fmt == "text":
        buf: list[str] = []
        for f in findings:
            buf.append(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n")
            n += 1
            if len(buf) >= 4096:
                out.write("".join(buf).encode())
                buf.clear()
        out.write("".join(buf).encode())
        return n
    if fmt == "github":
        for f in findings:
            title = f"logstd {f.code} {RULES[f.code].name}"
            out.write((f"::error file={_gh_escape(f.path, True)},line={f.line},col={f.col},"
                       f"title={_gh_escape(title, True)}::{_gh_escape(f.message)}\n").encode())
            n += 1
        return n
    items = list(findings)
    if fmt == "json":
        out.write(orjson.dumps([_as_dict(f) for f in items], option=orjson.OPT_INDENT_2))
        out.write(b"\n")
    elif fmt == "sarif":
        out.write(orjson.dumps(sarif(items), option=orjson.OPT_INDENT_2))
        out.write(b"\n")
    else:  # pragma: no cover - argparse restricts the choice
        raise ValueError(fmt)
    return len(items)


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
