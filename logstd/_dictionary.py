"""The key-name dictionary: model, validation, overlays and a fast cached load.

The base dictionary is ``logstd/keys.yaml``. Overlays (an organisation's or a
service's file of the same shape) add keys and aliases on top. A validated,
merged dictionary is cached as JSON keyed by the source files' sizes and
mtimes, so that streaming tools start without importing pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from logstd import _cache, _json
from logstd.errors import DictionaryError

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BASE_PATH = Path(__file__).with_name("keys.yaml")
SENSITIVE_MODES = ("mask", "drop")
MASK = "[REDACTED]"
_CACHE_FORMAT = 1
# fields an overlay may not change on a key the base already defines
_FIXED_FIELDS = ("type", "format")
# fields that an overlay extends rather than replaces
_LIST_FIELDS = ("aliases", "examples")


_SPEC_DEFAULTS: dict[str, Any] = {
    "format": None, "group": "other", "allowed": None, "pattern": None, "minimum": None,
    "maximum": None, "aliases": (), "sensitive": None, "required": False,
    "deprecated": None, "ecs": None, "otel": None, "source": "",
}


class KeySpec:
    """One dictionary entry, as the runtime and the tools see it; immutable.

    A plain class rather than a dataclass: importing dataclasses (and inspect with it)
    cost ``logstd pretty`` a tenth of its start-up. ``source`` (where the entry was
    defined) takes no part in equality.
    """

    __slots__ = ("name", "type", "description", "examples", *_SPEC_DEFAULTS)

    name: str
    type: str
    description: str
    examples: tuple[Any, ...]
    format: str | None
    group: str
    allowed: tuple[Any, ...] | None
    pattern: str | None
    minimum: float | None
    maximum: float | None
    aliases: tuple[str, ...]
    sensitive: str | None
    required: bool
    deprecated: str | None
    ecs: str | None
    otel: str | None
    source: str

    def __init__(self, name: str, type: str, description: str, examples: tuple[Any, ...],
                 **options: Any) -> None:
        unknown = options.keys() - _SPEC_DEFAULTS.keys()
        if unknown:
            raise TypeError(f"KeySpec() got unexpected fields: {', '.join(sorted(unknown))}")
        put = object.__setattr__
        put(self, "name", name)
        put(self, "type", type)
        put(self, "description", description)
        put(self, "examples", examples)
        for field_name, default in _SPEC_DEFAULTS.items():
            put(self, field_name, options.get(field_name, default))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"KeySpec is immutable: cannot set {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle go through __init__
        return (_spec_from_dict, (self.as_dict(),))

    def _compared(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.__slots__ if f != "source")

    def __eq__(self, other: object) -> bool:
        if type(other) is not KeySpec:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"KeySpec({fields})"


def _spec_from_dict(fields: dict[str, Any]) -> KeySpec:
    return KeySpec(**fields)


def normalize(name: str) -> str:
    """Spelling-insensitive form of a key: lower case, no separators."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list | tuple),
}
_JSON_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean",
              dict: "object", list: "array", tuple: "array", type(None): "null"}


def json_type(value: Any) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _format_problem(fmt: str, value: str) -> str | None:
    # imported here: streaming tools load the dictionary but never check formats
    import ipaddress
    import uuid
    from datetime import datetime

    try:
        if fmt == "iso8601":
            datetime.fromisoformat(value)
        elif fmt == "uuid":
            uuid.UUID(value)
        elif fmt == "ip":
            ipaddress.ip_address(value)
        elif fmt == "hex":
            int(value, 16)
        elif fmt == "uri" and "://" not in value:
            return f"{value!r} is not a URI"
    except ValueError:
        return f"{value!r} is not a valid {fmt}"
    return None


def _shown(value: Any) -> str:
    """The value after its type in a message: a string quoted, a scalar as JSON writes it
    (``true``, ``2.5``), nothing for an object or array."""
    if isinstance(value, str):
        return f" {value!r}"
    if value is None or isinstance(value, bool):
        return f" {_JSON_SCALARS[value]}"
    if isinstance(value, int | float):
        return f" {value!r}"
    return ""


_JSON_SCALARS = {None: "null", True: "true", False: "false"}


def check_value(spec: KeySpec, value: Any) -> str | None:
    """Why ``value`` does not fit ``spec``, or None. Shared by the loader and the linter."""
    if not _TYPE_CHECKS[spec.type](value):
        return f"expected {spec.type}, got {json_type(value)}{_shown(value)}"
    if spec.allowed is not None and value not in spec.allowed:
        return f"{value!r} is not one of {', '.join(map(str, spec.allowed))}"
    if isinstance(value, str):
        if spec.format is not None:
            problem = _format_problem(spec.format, value)
            if problem:
                return problem
        if spec.pattern is not None and not re.search(spec.pattern, value):
            return f"{value!r} does not match {spec.pattern}"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            return f"{value} is below the minimum {spec.minimum:g}"
        if spec.maximum is not None and value > spec.maximum:
            return f"{value} is above the maximum {spec.maximum:g}"
    return None


class Dictionary:
    """Canonical keys, their aliases, and the lookups every tool needs."""

    def __init__(self, keys: Iterable[KeySpec], sources: Sequence[str] = ()) -> None:
        self.keys: dict[str, KeySpec] = {k.name: k for k in keys}
        self.sources = tuple(sources)
        self.aliases: dict[str, str] = {}
        for spec in self.keys.values():
            for alias in spec.aliases:
                self.aliases[alias] = spec.name
        # name or alias -> canonical name
        self.lookup: dict[str, str] = {**self.aliases, **{n: n for n in self.keys}}
        # normalised spelling (case and separators ignored) -> sensitive mode
        self.sensitive_spellings: dict[str, str] = {}
        for spec in self.keys.values():
            if spec.sensitive:
                for spelling in (spec.name, *spec.aliases):
                    self.sensitive_spellings[normalize(spelling)] = spec.sensitive
        self.required = tuple(k.name for k in self.keys.values() if k.required)

    def __contains__(self, name: object) -> bool:
        return name in self.lookup

    def __len__(self) -> int:
        return len(self.keys)

    def canonical(self, name: str) -> str | None:
        return self.lookup.get(name)

    def get(self, name: str) -> KeySpec | None:
        canon = self.lookup.get(name)
        return self.keys[canon] if canon else None

    def __getitem__(self, name: str) -> KeySpec:
        spec = self.get(name)
        if spec is None:
            raise KeyError(name)
        return spec

    def sensitivity(self, name: str) -> str | None:
        """'mask', 'drop' or None for a key spelled any way (canonical, alias, case)."""
        canon = self.lookup.get(name)
        if canon is not None:
            return self.keys[canon].sensitive
        return self.sensitive_spellings.get(normalize(name))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Canonical keys a misspelt ``name`` probably meant (aliases, case, edit distance)."""
        canon = self.lookup.get(name)
        if canon is not None:
            return [canon]
        by_norm = {normalize(s): c for s, c in self.lookup.items()}
        hit = by_norm.get(normalize(name))
        if hit is not None:
            return [hit]
        import difflib

        close = difflib.get_close_matches(name, list(self.lookup), n=n * 2, cutoff=0.75)
        out: list[str] = []
        for c in close:
            canon = self.lookup[c]
            if canon not in out:
                out.append(canon)
        return out[:n]

    def check(self, name: str, value: Any) -> str | None:
        spec = self.get(name)
        return None if spec is None else check_value(spec, value)


# --- loading ------------------------------------------------------------------------------


def _cache_key(paths: Sequence[Path]) -> str:
    """Which files, as of which size and time: two 32-bit checksums (hashlib costs start-up)."""
    text = f"v{_CACHE_FORMAT}\0"
    for p in (Path(__file__), *paths):
        st = p.stat()
        text += f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0"
    return _cache.checksum(text.encode())


def load_dictionary(overlays: Sequence[str | Path] = (), *, cache: bool = True) -> Dictionary:
    """The base dictionary with ``overlays`` merged on top, in order.

    Raises DictionaryError with ``file:line: what`` for any problem.
    """
    paths = [BASE_PATH, *(Path(p) for p in overlays)]
    for p in paths:
        if not p.is_file():
            raise DictionaryError(f"{p}: dictionary file not found")
    cache_file = None
    if cache and _cache.enabled():
        try:
            cache_file = _cache.cache_dir() / f"dict-{_cache_key(paths)}.json"
            raw = _json.loads(cache_file.read_bytes())
            return _from_cache(raw, paths)
        except (OSError, ValueError, TypeError, KeyError):
            pass
    specs = _load_and_merge(paths)
    if cache_file is not None:
        _write_cache(cache_file, specs)
    return Dictionary(specs, [str(p) for p in paths])


def _from_cache(raw: dict[str, Any], paths: Sequence[Path]) -> Dictionary:
    specs = []
    for d in raw["keys"]:
        for k in ("examples", "aliases", "allowed"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        specs.append(KeySpec(**d))
    return Dictionary(specs, [str(p) for p in paths])


def _write_cache(cache_file: Path, specs: Sequence[KeySpec]) -> None:
    _cache.store(cache_file, _json.dumps({"keys": [s.as_dict() for s in specs]}))


def _load_and_merge(paths: Sequence[Path]) -> list[KeySpec]:
    from logstd._yamlsrc import LineDict, load_yaml

    merged: dict[str, dict[str, Any]] = {}
    where: dict[str, dict[str, str]] = {}  # key -> field -> "file:line"
    for path in paths:
        doc = load_yaml(path)
        if not isinstance(doc, LineDict) or "keys" not in doc:
            raise DictionaryError(f"{path}:1: a dictionary needs a top-level 'keys:' mapping")
        unknown_top = set(doc) - {"version", "keys"}
        if unknown_top:
            name = sorted(unknown_top)[0]
            raise DictionaryError(f"{path}:{doc.lines[name]}: unknown top-level field {name!r}")
        if doc.get("version", 1) != 1:
            raise DictionaryError(f"{path}:{doc.lines['version']}: unsupported version "
                                  f"{doc['version']!r} (this logstd reads version 1)")
        entries = doc["keys"]
        if not isinstance(entries, LineDict):
            raise DictionaryError(f"{path}:{doc.lines['keys']}: 'keys' must be a mapping of "
                                  "key name to its entry")
        for name, entry in entries.items():
            line = entries.lines[name]
            if not isinstance(entry, LineDict):
                raise DictionaryError(f"{path}:{line}: key {name!r}: entry must be a mapping")
            flines = {f: f"{path}:{entry.lines[f]}" for f in entry}
            if name not in merged:
                merged[name] = dict(entry)
                where[name] = {"": f"{path}:{line}", **flines}
                continue
            base = merged[name]
            for f, value in entry.items():
                if f in _FIXED_FIELDS and f in base and base[f] != value:
                    raise DictionaryError(
                        f"{flines[f]}: key {name!r} redefines {f} as {value!r}; "
                        f"{where[name][f]} defines it as {base[f]!r}")
                if f in _LIST_FIELDS and isinstance(value, list):
                    base[f] = [*base.get(f, []), *(v for v in value if v not in base.get(f, []))]
                else:
                    base[f] = value
                where[name].setdefault(f, flines[f])
                if f not in _LIST_FIELDS:
                    where[name][f] = flines[f]
    specs = [_validate(name, entry, where[name]) for name, entry in merged.items()]
    _check_aliases(specs, where)
    return specs


def _validate(name: str, entry: dict[str, Any], where: dict[str, str]) -> KeySpec:
    from logstd._model import KeyModel, model_error

    try:
        model = KeyModel.model_validate({"name": name, **entry})
    except Exception as e:  # pydantic.ValidationError, kept lazy
        field_name, what = model_error(e)
        loc = where.get(field_name, where[""])
        raise DictionaryError(f"{loc}: key {name!r}: {what}") from e
    spec = KeySpec(
        name=name, type=model.type, description=model.description,
        examples=tuple(model.examples), format=model.format, group=model.group,
        allowed=tuple(model.allowed) if model.allowed is not None else None,
        pattern=model.pattern, minimum=model.minimum, maximum=model.maximum,
        aliases=tuple(model.aliases), sensitive=model.sensitive or None,
        required=model.required, deprecated=model.deprecated, ecs=model.ecs, otel=model.otel,
        source=where[""],
    )
    for example in spec.examples:
        problem = check_value(spec, example)
        if problem:
            raise DictionaryError(f"{where.get('examples', where[''])}: key {name!r}: "
                                  f"example {problem}")
    return spec


def _check_aliases(specs: Sequence[KeySpec], where: dict[str, dict[str, str]]) -> None:
    names = {s.name for s in specs}
    owner: dict[str, str] = {}
    for spec in specs:
        loc = where[spec.name].get("aliases", where[spec.name][""])
        if spec.deprecated is not None and spec.deprecated not in names:
            raise DictionaryError(f"{where[spec.name].get('deprecated')}: key {spec.name!r}: "
                                  f"replacement {spec.deprecated!r} is not a key")
        for alias in spec.aliases:
            if alias in names:
                other = where[alias][""]
                raise DictionaryError(f"{loc}: alias {alias!r} of key {spec.name!r} is the "
                                      f"name of key {alias!r} defined at {other}")
            if alias in owner and owner[alias] != spec.name:
                first = owner[alias]
                other = where[first].get("aliases", where[first][""])
                raise DictionaryError(f"{loc}: alias {alias!r} is claimed by key {spec.name!r} "
                                      f"and by key {first!r} at {other}")
            owner[alias] = spec.name
