"""Import Postman v2.1 collections and environments into the opsplane format.

Requests (folders flattened, names made unique), headers, raw/JSON bodies, collection
variables and environments convert. Secrets in a Postman environment (type ``secret``
or a secret-looking name) become references to environment variables -- their values are
never written. Postman's JavaScript (tests and pre-request scripts) does not convert: each
script is reported by request and test name, so a person can port the checks to ``expect``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsplane.testing.blackbox.errors import CollectionError

_TEST_NAME = re.compile(r"""pm\.test\(\s*(["'`])(.+?)\1""")
_STATUS = re.compile(r"pm\.response\.to\.have\.status\(\s*(\d{3})\s*\)")
_SECRETISH = re.compile(r"(pass(word)?|secret|token|api[-_]?key|credential|private)", re.I)
_DYNAMIC = {"$guid": "$uuid", "$randomUUID": "$uuid", "$timestamp": "$timestamp"}
_V21 = "v2.1"


@dataclass
class Imported:
    """The converted collection and environment (as plain data) and what did not convert."""

    collection: dict[str, Any]
    environment: dict[str, Any] | None
    not_converted: list[str] = field(default_factory=list)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CollectionError(f"{path}: cannot read: {e.strerror or e}") from e
    except ValueError as e:
        raise CollectionError(f"{path}: not a JSON {what}: {e}") from e


def _env_name(key: str) -> str:
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).upper()
    return re.sub(r"[^A-Z0-9]+", "_", snake).strip("_")


def _dynamic(text: str, notes: list[str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in _DYNAMIC:
            return "{{" + _DYNAMIC[name] + "}}"
        notes.append(f"{where}: Postman dynamic variable {{{{{name}}}}} not converted")
        return m.group(0)

    return re.sub(r"\{\{\s*(\$\w+)\s*\}\}", sub, text)


def _url(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        if isinstance(raw.get("raw"), str):
            return str(raw["raw"])
        host = raw.get("host", [])
        host = ".".join(host) if isinstance(host, list) else str(host)
        path = raw.get("path", [])
        path = "/".join(path) if isinstance(path, list) else str(path)
        proto = f"{raw['protocol']}://" if raw.get("protocol") else ""
        query = "&".join(f"{q.get('key')}={q.get('value', '')}" for q in raw.get("query", [])
                         if isinstance(q, dict) and not q.get("disabled"))
        return f"{proto}{host}/{path}" + (f"?{query}" if query else "")
    return ""


def _walk(items: list[Any], prefix: str, out: list[tuple[str, dict[str, Any]]]) -> None:
    for item in items:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or "request")
        if isinstance(item.get("item"), list):
            _walk(item["item"], f"{prefix}{name} / ", out)
        elif isinstance(item.get("request"), dict | str):
            out.append((prefix + name, item))


def _scripts(item: dict[str, Any], name: str, notes: list[str]) -> int | None:
    """Report the item's scripts by name; return a status code when a test asserts one."""
    status = None
    for event in item.get("event", []) or []:
        if not isinstance(event, dict):
            continue
        script = event.get("script") or {}
        lines = script.get("exec", [])
        text = "\n".join(lines) if isinstance(lines, list) else str(lines)
        if not text.strip():
            continue
        kind = event.get("listen", "script")
        if kind == "test":
            starts = list(_TEST_NAME.finditer(text))
            if not starts:
                notes.append(f"request {name!r}: Postman test script not converted")
            for i, m in enumerate(starts):
                end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
                code = _STATUS.search(text, m.end(), end)
                if code and status is None:
                    status = int(code.group(1))
                    notes.append(f"request {name!r}: Postman test {m.group(2)!r} converted to "
                                 f"expect.status {status}")
                else:
                    notes.append(f"request {name!r}: Postman test {m.group(2)!r} not converted")
            rest = _TEST_NAME.sub("", text)
            if "pm.collectionVariables.set" in rest or "pm.environment.set" in rest:
                notes.append(f"request {name!r}: variables set by the test script not converted "
                             "(use capture)")
        else:
            notes.append(f"request {name!r}: Postman {kind} script not converted")
    return status


def convert(data: Any, env_data: Any = None, *, source: str = "postman collection",
            env_source: str = "postman environment") -> Imported:
    """Convert loaded Postman v2.1 JSON (collection, optional environment)."""
    if not isinstance(data, dict) or not isinstance(data.get("item"), list):
        raise CollectionError(f"{source}: not a Postman collection (no 'item' list)")
    schema = str((data.get("info") or {}).get("schema", ""))
    if schema and _V21 not in schema:
        raise CollectionError(f"{source}: Postman schema {schema} is not v2.1 "
                              "(export it again as Collection v2.1)")
    notes: list[str] = []
    env_vars: dict[str, Any] = {}
    secrets: dict[str, dict[str, str]] = {}
    base_url = None
    base_key = None
    if env_data is not None:
        if not isinstance(env_data, dict) or not isinstance(env_data.get("values"), list):
            raise CollectionError(f"{env_source}: not a Postman environment (no 'values' list)")
        for v in env_data["values"]:
            if not isinstance(v, dict) or v.get("enabled") is False or not v.get("key"):
                continue
            key, value = str(v["key"]), v.get("value", "")
            if v.get("type") == "secret" or _SECRETISH.search(key):
                secrets[key] = {"env": _env_name(key)}
                notes.append(f"environment: secret {key!r} is now a reference to the environment "
                             f"variable {_env_name(key)} (its value was not copied)")
            elif base_url is None and isinstance(value, str) and re.match(r"^https?://", value):
                base_url, base_key = value.rstrip("/"), key
            else:
                env_vars[key] = value
    col_vars = {str(v["key"]): v.get("value", "") for v in data.get("variable", []) or []
                if isinstance(v, dict) and v.get("key") and not v.get("disabled")}
    for key in list(col_vars):
        if _SECRETISH.search(key):
            col_vars.pop(key)
            secrets.setdefault(key, {"env": _env_name(key)})
            notes.append(f"collection: variable {key!r} looks like a secret; now a reference to "
                         f"the environment variable {_env_name(key)} (value not copied)")
        elif base_key is None and isinstance(col_vars[key], str) and re.match(
                r"^https?://", col_vars[key]):
            base_url, base_key = col_vars.pop(key).rstrip("/"), key
    items: list[tuple[str, dict[str, Any]]] = []
    _walk(data["item"], "", items)
    if not items:
        raise CollectionError(f"{source}: the collection has no requests")
    requests: list[dict[str, Any]] = []
    used: set[str] = set()
    for name, item in items:
        unique, n = name, 2
        while unique in used:
            unique, n = f"{name} ({n})", n + 1
        used.add(unique)
        req = item["request"]
        req = {"url": req} if isinstance(req, str) else req
        url = _dynamic(_url(req.get("url")), notes, f"request {unique!r}")
        if base_key:
            url = re.sub(r"^\{\{\s*" + re.escape(base_key) + r"\s*\}\}", "", url)
        if base_url and url.startswith(base_url):
            url = url[len(base_url):]
        out: dict[str, Any] = {"name": unique, "method": str(req.get("method", "GET")).upper(),
                               "url": url or "/"}
        headers = {str(h["key"]): _dynamic(str(h.get("value", "")), notes, f"request {unique!r}")
                   for h in req.get("header", []) or []
                   if isinstance(h, dict) and h.get("key") and not h.get("disabled")}
        body = req.get("body") or {}
        if isinstance(body, dict) and body.get("mode") == "raw" and body.get("raw"):
            raw = _dynamic(str(body["raw"]), notes, f"request {unique!r}")
            try:
                out["json"] = json.loads(raw)
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            except ValueError:
                out["body"] = raw
        elif isinstance(body, dict) and body.get("mode") and body.get("mode") != "raw":
            notes.append(f"request {unique!r}: {body['mode']} body not converted")
        if headers:
            out["headers"] = headers
        status = _scripts(item, unique, notes)
        if status is not None:
            out["expect"] = {"status": status}
        requests.append(out)
    collection: dict[str, Any] = {"version": 1,
                                  "name": str((data.get("info") or {}).get("name") or "imported")}
    if col_vars:
        collection["variables"] = col_vars
    collection["requests"] = requests
    environment = None
    if env_data is not None or base_url:
        environment = {"version": 1, "baseUrl": base_url or "http://127.0.0.1:8080"}
        if env_data is not None and env_data.get("name"):
            environment["name"] = str(env_data["name"])
        if env_vars:
            environment["variables"] = env_vars
        if secrets:
            environment["secrets"] = secrets
    elif secrets:
        notes.append("secrets need an environment file: pass the Postman environment too")
    return Imported(collection, environment, notes)


def _yaml(data: dict[str, Any], header: list[str]) -> str:
    import yaml

    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"# {line}\n".replace("# \n", "#\n") for line in header) + body


def import_postman(collection: str | Path, environment: str | Path | None = None, *,
                   name: str, folder: str | Path = ".", env_name: str | None = None,
                   force: bool = False) -> tuple[list[Path], list[str]]:
    """Write ``test.<name>.yaml`` (and ``env.<env_name>.yaml``) from Postman v2.1 files.

    Returns the files written and the not-converted notes. The written files are
    validated by loading them back (collection; the environment without resolving secrets).
    """
    from opsplane.testing.blackbox.collection import load_collection

    cpath = Path(collection)
    epath = Path(environment) if environment else None
    imported = convert(_read_json(cpath, "Postman collection"),
                       _read_json(epath, "Postman environment") if epath else None,
                       source=str(cpath), env_source=str(epath))
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [(out_dir / f"test.{name}.yaml", imported.collection)]
    if imported.environment is not None:
        targets.append((out_dir / f"env.{env_name or name}.yaml", imported.environment))
    for path, _ in targets:
        if path.exists() and not force:
            raise CollectionError(f"{path} exists; pass --force to overwrite it")
    header = [f"Generated by opsplane test --from-postman from {cpath.name}: a one-time import,",
              "yours to edit from here on (it is not regenerated)."]
    if imported.not_converted:
        header += ["", "Import notes (port what did not convert to expect/capture by hand):",
                   *(f"- {n}" for n in imported.not_converted)]
    written = []
    for path, data in targets:
        path.write_text(_yaml(data, header if path == targets[0][0] else header[:2]),
                        encoding="utf-8")
        written.append(path)
    load_collection(targets[0][0])
    if imported.environment is not None:
        from opsplane.testing.blackbox._yaml import load_yaml
        from opsplane.testing.blackbox.environment import EnvironmentFile

        EnvironmentFile.model_validate(load_yaml(targets[1][0]))
    return written, imported.not_converted
