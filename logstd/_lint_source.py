"""Lint Python source with the AST: the linted code is parsed, never imported.

Looks at logging calls on stdlib loggers (``log.info(...)``, ``logging.warning(...)``),
structlog-style keyword calls (``log.info("event", customer_id=...)``), ``logstd.bind(...)``
and ``.bind(...)`` / ``bind_contextvars(...)``, and ``print(...)``.
"""

from __future__ import annotations

import ast
import logging
import re

from logstd._dictionary import Dictionary
from logstd._finding import Finding

LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical",
                         "fatal", "log", "msg"})
BIND_FUNCS = frozenset({"bind", "bind_contextvars", "new", "try_unbind"})
# keyword arguments of the stdlib logging methods: not keys
STDLIB_KWARGS = frozenset({"exc_info", "stack_info", "stacklevel", "extra"})
# the attributes a LogRecord already has: extra={...} with one of them raises KeyError
RESERVED = frozenset(logging.LogRecord("x", logging.INFO, "x", 1, "x", None, None).__dict__) \
    | {"message", "asctime"}
_LOGGER_NAME = re.compile(r"(?i)(^|_)(log|logger|logging|structlog|logstd)$|log$|logger$")
_IGNORE = re.compile(r"#\s*logstd:\s*ignore(?:\[([A-Za-z0-9,\s]+)\])?")
_LOGGER_FACTORIES = frozenset({"getLogger", "get_logger", "getChild", "bind", "new"})


def _name(node: ast.expr) -> str | None:
    """The last identifier of ``a.b.c`` or ``c``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_main_check(test: ast.expr) -> bool:
    """``__name__ == "__main__"``"""
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def ignores(source: str) -> dict[int, frozenset[str] | None]:
    """line -> codes silenced there by ``# logstd: ignore[...]`` (None: all codes)."""
    out: dict[int, frozenset[str] | None] = {}
    if "logstd:" not in source:
        return out
    for n, line in enumerate(source.splitlines(), 1):
        m = _IGNORE.search(line)
        if m:
            codes = m.group(1)
            out[n] = None if codes is None else frozenset(
                c.strip().upper() for c in codes.split(",") if c.strip())
    return out


class _Visitor:
    def __init__(self, d: Dictionary, path: str) -> None:
        self.d = d
        self.path = path
        self.found: list[Finding] = []
        self.loggers: set[str] = set()  # names assigned from getLogger()/get_logger()
        self.main_blocks: list[tuple[int, int]] = []

    def add(self, node: ast.AST, code: str, message: str, key: str | None = None) -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        self.found.append(Finding(self.path, line, col, code, message, key))

    def run(self, tree: ast.AST) -> None:
        """One walk collects assignments and calls; loggers are known before calls are read."""
        calls: list[ast.Call] = []
        assign, call = ast.Assign, ast.Call
        if isinstance(tree, ast.Module):  # a script's own output is not service logging
            self.main_blocks = [(n.lineno, n.end_lineno or n.lineno) for n in tree.body
                                if isinstance(n, ast.If) and _is_main_check(n.test)]
        for node in ast.walk(tree):
            t = type(node)
            if t is call:
                calls.append(node)  # type: ignore[arg-type]
            elif t is assign:
                self.assign(node)  # type: ignore[arg-type]
        for c in calls:
            self.call(c)

    # which names are loggers
    def assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call) and _name(node.value.func) in _LOGGER_FACTORIES:
            for t in node.targets:
                n = _name(t)
                if n:
                    self.loggers.add(n)

    def _is_logger(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Call):  # logging.getLogger(__name__).info(...)
            return _name(node.func) in _LOGGER_FACTORIES
        n = _name(node)
        return n is not None and (n in self.loggers or bool(_LOGGER_NAME.search(n)))

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            if not any(a <= node.lineno <= b for a, b in self.main_blocks):
                self.add(node, "LS204", "print() in service code: log with a message and keys")
        elif isinstance(func, ast.Attribute) and self._is_logger(func.value):
            if func.attr in LOG_METHODS:
                self._log_call(node, func.attr)
            elif func.attr in BIND_FUNCS:
                self._keywords(node, "bind")
        elif isinstance(func, ast.Name) and func.id in ("bind", "bind_contextvars"):
            self._keywords(node, func.id)

    def _log_call(self, node: ast.Call, method: str) -> None:
        args = node.args[1:] if method == "log" else node.args
        if args:
            self._message(args[0], args[1:])
        for kw in node.keywords:
            if kw.arg == "extra":
                self._extra(kw.value)
        self._keywords(node, method)

    def _message(self, msg: ast.expr, rest: list[ast.expr]) -> None:
        how = None
        values: list[ast.expr] = []
        if isinstance(msg, ast.JoinedStr) and any(
                isinstance(v, ast.FormattedValue) for v in msg.values):
            how = "an f-string"
            values = [v.value for v in msg.values if isinstance(v, ast.FormattedValue)]
        elif isinstance(msg, ast.BinOp) and isinstance(msg.op, ast.Mod):
            how = "% formatting"
            right = msg.right
            values = list(right.elts) if isinstance(right, ast.Tuple) else [right]
        elif isinstance(msg, ast.BinOp) and isinstance(msg.op, ast.Add):
            how = "string concatenation"
            values = [msg.left, msg.right]
        elif isinstance(msg, ast.Call) and isinstance(msg.func, ast.Attribute) and \
                msg.func.attr == "format":
            how = ".format()"
            values = [*msg.args, *(k.value for k in msg.keywords)]
        elif rest and isinstance(msg, ast.Constant) and isinstance(msg.value, str) \
                and "%" in msg.value:
            how = "%-arguments"
            values = list(rest)
        if how:
            self.add(msg, "LS203", f"message built with {how}: put the values in keys "
                     "(extra={...}) and keep the message constant")
        for v in [*values, *rest] if how != "%-arguments" else values:
            self._secret_value(v)

    def _secret_value(self, node: ast.expr) -> None:
        n = _name(node)
        if n is None and isinstance(node, ast.Subscript) and \
                isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            n = node.slice.value
        if n is not None and self.d.sensitivity(n) is not None:
            self.add(node, "LS205", f"secret {n!r} passed to a logging call", n)

    def _check_key(self, node: ast.AST, key: str, where: str) -> None:
        if self.d.sensitivity(key) is not None:
            self.add(node, "LS205", f"secret {key!r} logged by name in {where}", key)
            return
        canon = self.d.canonical(key)
        if canon is None:
            guesses = _suggest(self.d, key)
            hint = f"; did you mean {' or '.join(guesses)}?" if guesses else ""
            self.add(node, "LS201", f"unknown key {key!r} in {where}{hint}", key)
        elif canon != key:
            self.add(node, "LS202", f"key {key!r} in {where} is an alias: write {canon!r}", key)

    def _extra(self, value: ast.expr) -> None:
        pairs: list[tuple[ast.AST, str, ast.expr]] = []
        if isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    pairs.append((k, k.value, v))
        elif isinstance(value, ast.Call) and _name(value.func) == "dict":
            pairs = [(kw, kw.arg, kw.value) for kw in value.keywords if kw.arg]
        for node, key, v in pairs:
            if key in RESERVED:
                self.add(node, "LS206", f"extra key {key!r} clashes with a LogRecord attribute",
                         key)
                continue
            self._check_key(node, key, "extra")
            if self.d.sensitivity(key) is None:
                self._secret_value(v)

    def _keywords(self, node: ast.Call, method: str) -> None:
        for kw in node.keywords:
            if kw.arg is None or kw.arg in STDLIB_KWARGS:
                continue
            self._check_key(kw, kw.arg, f"{method}()")
            if self.d.sensitivity(kw.arg) is None:
                self._secret_value(kw.value)


_SUGGESTIONS: dict[tuple[int, str], list[str]] = {}


def _suggest(d: Dictionary, key: str) -> list[str]:
    """Dictionary.suggest, remembered per dictionary and key (a tree repeats its mistakes)."""
    hit = _SUGGESTIONS.get((id(d), key))
    if hit is None:
        hit = d.suggest(key)
        if len(_SUGGESTIONS) < 4096:
            _SUGGESTIONS[(id(d), key)] = hit
    return hit


def lint_source(source: bytes | str, path: str, dictionary: Dictionary) -> list[Finding]:
    """Findings for one Python file, inline ignores applied, sorted by position."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as e:
        # not ours to report: the compiler will; say it once so nothing is silently skipped
        return [Finding(path, e.lineno or 1, (e.offset or 0) + 1, "LS200",
                        f"cannot parse: {e.msg}")]
    v = _Visitor(dictionary, path)
    v.run(tree)
    silenced = ignores(text)
    out = []
    for f in v.found:
        if f.line in silenced:
            codes = silenced[f.line]
            if codes is None or f.code in codes:
                continue
        out.append(f)
    out.sort(key=lambda f: (f.line, f.col, f.code))
    return _dedupe(out)


def _dedupe(found: list[Finding]) -> list[Finding]:
    out: list[Finding] = []
    for f in found:
        if not out or out[-1] != f:
            out.append(f)
    return out


