"""Render and lint the standard chart with the real Helm v4 engine (helm-python-sdk).

No cluster and no ``helm`` binary: ``helm_python`` binds Helm's Go SDK. Used by
``opsplane chart render|lint``, the Minikube script's dry run and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsplane.errors import OpsplaneError

#: the chart every service deploys with
CHART_DIR = Path(__file__).resolve().parent / "service"


class ChartError(OpsplaneError):
    """The chart did not render or lint, or its values were refused by values.schema.json."""


class ValuesError(ChartError):
    """A values file cannot be read, is not YAML, or its values are refused: bad input."""

    exit_code = 2


@dataclass(frozen=True)
class Manifest:
    template: str
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.doc.get("metadata", {}).get("name", ""))


def load_values(paths: list[str | Path]) -> dict[str, Any]:
    """Merge values files left to right (later wins, maps merged deeply), like ``helm -f``."""
    import yaml

    merged: dict[str, Any] = {}
    for path in paths:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ValuesError(f"{p}: cannot read: {e.strerror or e}") from e
        except UnicodeDecodeError as e:
            line = e.object[:e.start].count(b"\n") + 1
            raise ValuesError(f"{p}:{line}: not UTF-8 text ({e.reason} at byte {e.start})") \
                from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            what = _clean(getattr(e, "problem", None) or str(e))
            raise ValuesError(f"{p}{where}: YAML syntax error: {what}") from e
        if not isinstance(data, dict):
            raise ValuesError(f"{p}: a values file is a mapping")
        merged = merge(merged, data)
    return merged


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def _engine() -> Any:
    # missing, the CLI says which extra installs it (pip install 'opsplane[chart]'), exit 2
    import helm_python

    return helm_python


def _clean(msg: str) -> str:
    return " ".join(str(msg).split())


def _schema_msg(msg: str) -> str:
    """Helm's ``<chart>: - at '/b': y - at '/a': x`` as ``at '/a': x; at '/b': y``."""
    import re

    parts = re.split(r"\s-\s(?=at ')", " " + _clean(msg))
    # Helm reports schema errors in map order; sorted, the same values give the same message
    return "; ".join(sorted(p.strip() for p in parts[1:])) or _clean(msg)


def _refuse_credentials_as_facts(values: dict[str, Any]) -> None:
    """facts and env are plain text in the cluster; a credential there is refused by name."""
    from opsplane.secretscan import is_sensitive_key

    for block in ("facts", "env"):
        items = values.get(block)
        if not isinstance(items, dict):
            continue
        for key in items:
            if is_sensitive_key(str(key)):
                raise ChartError(f"values: {block}.{key}: looks like a credential; reference it "
                                 "under secrets (secrets.env, secrets.files, "
                                 "secrets.externalSecret)")


def render(values: dict[str, Any], *, chart: str | Path = CHART_DIR, release: str = "release",
           namespace: str = "default") -> list[Manifest]:
    """Render the chart offline; manifests in template order then document order."""
    import yaml

    _refuse_credentials_as_facts(values)
    helm_python = _engine()
    try:
        c = helm_python.Chart.load(str(chart))
        c.validate_schema(values)
        out = c.render(values, name=release, namespace=namespace, is_install=True)
    except helm_python.HelmValuesError as e:
        raise ValuesError(f"{chart}/values.schema.json: values rejected: "
                          f"{_schema_msg(str(e))}") from e
    except helm_python.HelmError as e:
        raise ChartError(f"{chart}: render failed: {_clean(str(e))}") from e
    manifests: list[Manifest] = []
    for template in sorted(out):
        if not template.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(out[template]):
            if doc:
                manifests.append(Manifest(template, doc))
    return manifests


def render_text(values: dict[str, Any], *, chart: str | Path = CHART_DIR,
                release: str = "release", namespace: str = "default") -> str:
    """The rendered manifests as one YAML stream (``# Source:`` lines like ``helm template``)."""
    import yaml

    parts = []
    for m in render(values, chart=chart, release=release, namespace=namespace):
        parts.append(f"---\n# Source: {m.template}\n"
                     + yaml.safe_dump(m.doc, sort_keys=True, default_flow_style=False, width=100))
    return "".join(parts)


def lint(values: dict[str, Any], *, chart: str | Path = CHART_DIR, strict: bool = True,
         kube_version: str | None = None) -> list[str]:
    """Helm's lint plus everything :func:`render` refuses, as ``path: message`` lines.

    Helm's lint reports a template's ``fail`` (e.g. ``prometheusRule.enabled`` with no rules)
    only as information, and knows nothing of opsplane's own refusals (credentials as
    facts); the render is run too, so the lint gate refuses exactly what deploy would.
    """
    helm_python = _engine()
    try:
        report = helm_python.lint(str(chart), values, strict=strict, kube_version=kube_version)
    except helm_python.HelmError as e:
        raise ChartError(f"{chart}: lint failed: {_clean(str(e))}") from e
    found = [f"{m.get('path', '')}: {_clean(m.get('error', ''))}"
             for m in report.get("messages", []) if int(m.get("severity", 0)) >= 2]
    found += [_clean(e) for e in report.get("errors", []) if e]
    try:
        render(values, chart=chart)
    except ChartError as e:
        found.append(str(e))
    return sorted(set(found))
