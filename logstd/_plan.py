"""The one processor that enforces the dictionary on a record's keys.

``KeyPlan`` precomputes, for every spelling the dictionary knows, what to do with
a key: write it under its canonical name, mask its value, or drop it. Values that
are containers are walked so that a sensitive key is redacted at any depth.
The JSON formatter, the local renderer and bind() all go through it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

from logstd._dictionary import MASK, Dictionary, normalize

KEEP, MASKED, DROPPED = 0, 1, 2
_MODE = {None: KEEP, "mask": MASKED, "drop": DROPPED}
_UNKNOWN_CACHE_LIMIT = 4096


class KeyPlan:
    def __init__(self, dictionary: Dictionary,
                 on_unknown: Callable[[str], None] | None = None) -> None:
        self.dictionary = dictionary
        self.on_unknown = on_unknown
        # spelling -> (canonical name, action)
        self.plan: dict[str, tuple[str, int]] = {}
        for spelling, canon in dictionary.lookup.items():
            self.plan[spelling] = (canon, _MODE[dictionary.keys[canon].sensitive])
        self._nested: dict[str, int] = {}

    def canonical(self, name: str) -> str:
        hit = self.plan.get(name)
        return hit[0] if hit else name

    def unknown(self, name: str) -> tuple[str, int]:
        """Action for a key the dictionary does not know (sensitive by spelling, or kept)."""
        action = _MODE[self.dictionary.sensitive_spellings.get(normalize(name))]
        entry = (name, action)
        if len(self.plan) < len(self.dictionary.lookup) + _UNKNOWN_CACHE_LIMIT:
            self.plan[name] = entry
            if action == KEEP and self.on_unknown is not None:
                self.on_unknown(name)
        return entry

    def nested_action(self, name: Any) -> int:
        if not isinstance(name, str):
            return KEEP
        action = self._nested.get(name)
        if action is None:
            hit = self.plan.get(name)
            action = hit[1] if hit else _MODE[self.dictionary.sensitive_spellings.get(
                normalize(name))]
            if len(self._nested) < _UNKNOWN_CACHE_LIMIT:
                self._nested[name] = action
        return action

    def redact(self, value: Any, depth: int = 0) -> Any:
        """A copy of a value with sensitive keys masked or dropped at any depth.

        Scalars come back as they are; dicts (and subclasses), lists, tuples, sets and
        dataclass instances are walked.
        """
        if type(value) in SCALARS:
            return value
        if depth > 32:
            return "[TOO DEEP]"
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                action = self.nested_action(k)
                if action == KEEP:
                    out[k] = self.redact(v, depth + 1)
                elif action == MASKED:
                    out[k] = MASK
            return out
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(v, depth + 1) for v in value]
        if is_dataclass(value) and not isinstance(value, type):
            return self.redact({f.name: getattr(value, f.name) for f in fields(value)}, depth)
        return value

    def put(self, out: dict[str, Any], name: str, value: Any) -> None:
        """Write one key into ``out`` the way the dictionary says."""
        hit = self.plan.get(name) or self.unknown(name)
        action = hit[1]
        if action == KEEP:
            out[hit[0]] = value if type(value) in SCALARS else self.redact(value)
        elif action == MASKED:
            out[hit[0]] = MASK

    def apply(self, keys: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in keys.items():
            self.put(out, k, v)
        return out


SCALARS = frozenset({str, int, float, bool, type(None)})


_lock = threading.Lock()
_plan: KeyPlan | None = None


def current_plan() -> KeyPlan:
    """The KeyPlan of the configured dictionary (base plus configured overlays by default)."""
    global _plan
    if _plan is None:
        with _lock:
            if _plan is None:
                from logstd._config import load_configured_dictionary

                _plan = KeyPlan(load_configured_dictionary())
    return _plan


def loaded_plan() -> KeyPlan | None:
    """The plan if one was built already (never loads the dictionary)."""
    return _plan


def set_plan(plan: KeyPlan | None) -> None:
    """Install the plan configure() built (None: forget it, and load again when asked)."""
    global _plan
    with _lock:
        _plan = plan
