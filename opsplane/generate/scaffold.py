"""``opsplane init``: a new service folder from the standard, ready to lint, test and deploy.

Everything is rendered from the templates below with the service's name, team and port;
the chart values come from :mod:`helm.values` so that they match service.yaml.
Nothing here holds a secret: secrets are wired by reference (see docs/helm.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from string import Template

from opsplane.errors import UsageError
from opsplane.spec.service import Alerting

_DNS = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")

_SERVICE_YAML = """\
# $name: the service spec. Every generator reads it (opsplane spec check service.yaml).
version: 1
name: $name
team: $team
description: A new service created with opsplane init.
app: app:app
port: $port
slos:
  availability: 99.9
  latency: {threshold_ms: 300, target: 99.0}
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: 500m, memory: 256Mi}
shutdown: {drain_delay: 5, grace: 20, max_in_flight: 256}
tracing: true
"""

_APP = '''\
"""$name: an HTTP service on the opsplane service kit.

``opsplane.instrument`` gives it /healthz/ping, /healthz/liveness, /healthz/readiness,
/metrics, request logs, JSON errors and its settings; ``opsplane serve`` adds the graceful
shutdown. service.yaml beside this file describes it. Run it: ``opsplane serve``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import opsplane
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SPEC = Path(__file__).resolve().parent / "service.yaml"
log = logging.getLogger("$module")


async def hello(request: Request) -> JSONResponse:
    log.info("hello answered", extra={"event": "hello"})
    return JSONResponse({"service": "$name", "message": "hello"})


routes = [Route("/hello", hello, methods=["GET"])]

app = opsplane.instrument(Starlette(routes=routes), SPEC)
'''

_UNIT_TEST = '''\
"""Unit tests of $name (the black-box ones are test.*.yaml: opsplane test -t smoke -e local)."""

from starlette.testclient import TestClient

from app import app


def test_hello() -> None:
    with TestClient(app) as client:
        r = client.get("/hello")
    assert r.status_code == 200
    assert r.json()["service"] == "$name"


def test_ready() -> None:
    with TestClient(app) as client:
        assert client.get("/healthz/readiness").status_code == 200
'''

_DOCKERFILE = """\
# syntax=docker/dockerfile:1.7
# The standard opsplane service image (multi-stage, slim, non-root).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM $${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$$PATH
WORKDIR /src
COPY requirements.txt ./
RUN pip install --no-compile -r requirements.txt

FROM $${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \\
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY service.yaml app.py logkeys.yaml ./
ENV PATH=/opt/venv/bin:$$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 LOGSTD_MODE=json \\
    LOGSTD_DICTIONARY=/app/logkeys.yaml PORT=$port
USER 10001:10001
EXPOSE $port
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \\
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/healthz/ping')"]
ENTRYPOINT ["opsplane", "serve"]
CMD ["--port", "$port"]
"""

_COMPOSE = """\
# $name with a local observability stack: docker compose up --build
name: $name
services:
  $name:
    build: .
    image: $name:local
    ports: ["$port:$port"]
    read_only: true
    tmpfs: [/tmp]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    stop_grace_period: 35s
    environment:
      OTEL_SERVICE_NAME: $name
      OTEL_EXPORTER_OTLP_ENDPOINT: http://jaeger:4317
  prometheus:
    image: prom/prometheus:v2.53.0
    ports: ["9090:9090"]
    volumes:
      - ./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro
  jaeger:
    image: jaegertracing/all-in-one:1.57
    environment:
      COLLECTOR_OTLP_ENABLED: "true"
    ports: ["16686:16686", "4317:4317"]
"""

_PROMETHEUS = """\
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: $name
    metrics_path: /metrics
    static_configs:
      - targets: ["$name:$port"]
"""

_SMOKE = """\
# Smoke test of $name: proves a deploy (the pipeline runs it after each helm upgrade).
#   opsplane test -t smoke -e local          (from tests/)
version: 1
name: $name smoke
description: health and one request, each under 2 s
requests:
  - name: readiness
    tags: [smoke]
    url: /healthz/readiness
    expect:
      status: 200
      health: pass
      max_ms: 2000

  - name: hello
    tags: [smoke]
    url: /hello
    expect:
      status: 200
      max_ms: 2000
      json:
        - {path: $$.service, equals: $name}
"""

_ENV = """\
# $name $env: $note
version: 1
name: $env
baseUrl: $url
"""

_VALUES_ENV = """\
# $env overrides for the standard chart (helm/service). Facts only; never a secret.
replicaCount: $replicas
facts:
  LOG_LEVEL: info
"""

_RESOURCES = """\
# Placeholder until `loadtest recommend-limits` measures $name (it rewrites this file).
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: 500m, memory: 256Mi}
"""

_WORKFLOW = """\
# The standard pipeline (opsplane's reusable workflow), configured for $name.
name: deploy
on:
  push:
    branches: [main]
permissions: {}
jobs:
  pipeline:
    uses: opsplane/opsplane/.github/workflows/service.yml@v1
    permissions:
      contents: read
      packages: write
      id-token: write
      attestations: write
    with:
      service: $name
      image: ghcr.io/$team/$name
      staging-url: https://$name.staging.example
      production-url: https://$name.example
    secrets:
      staging-kubeconfig: $${{ secrets.STAGING_KUBECONFIG }}
      production-kubeconfig: $${{ secrets.PRODUCTION_KUBECONFIG }}
"""

_LOGKEYS = """\
# $name's log keys on top of the organisation's dictionary (logstd keys shows them all).
version: 1
keys: {}
"""

_PYPROJECT = """\
[project]
name = "$name"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["opsplane", "starlette"]

[tool.logstd]
dictionary = ["logkeys.yaml"]

[tool.ruff]
line-length = 100

[tool.pytest.ini_options]
pythonpath = ["."]
"""

_README = """\
# $name

Created with `opsplane init`. Owned by $team.

```sh
opsplane spec check service.yaml          # the spec every generator reads
opsplane serve                            # run it on :$port
cd tests && opsplane test -t smoke -e local
opsplane secrets scan .                   # CI fails on a committed secret
docker compose up --build                 # with Prometheus and Jaeger
```

Deploys with the standard chart: `chart/values.yaml` (generated from service.yaml by
`opsplane chart values -o chart/values.yaml`), `chart/values-resources.yaml` (from
`loadtest recommend-limits`) and one file per environment.
"""


_NO_ALERTING = """\
# alerting: team $team has no defaults in opsplane.yaml, and page and ticket alerts must
# reach someone (opsplane generate alerts refuses otherwise). Fill in, e.g.:
# alerting:
#   chat: {channel: "#$name-alerts", webhook: {secret: $name-alerting, key: chat-webhook}}
#   ticket: {project: TEAM}
#   pager: {service: $team-oncall, routing_key: {secret: $name-alerting, key: pager-key}}
"""


def _files(name: str, team: str, port: int, alerting: Alerting | None = None) -> dict[str, str]:
    from helm import values as helmvalues
    from opsplane.spec.org import alerting_yaml
    from opsplane.spec.service import parse_spec

    sub = {"name": name, "team": team, "port": str(port), "module": name.replace("-", "_")}

    def t(text: str, **extra: str) -> str:
        return Template(text).substitute({**sub, **extra})

    import yaml

    block = alerting_yaml(alerting) if alerting is not None else ""
    service_yaml = t(_SERVICE_YAML) + (
        f"# alerting: team {team}'s defaults from opsplane.yaml\n{block}" if block
        else t(_NO_ALERTING))
    spec = parse_spec(yaml.safe_load(service_yaml), f"{name}/service.yaml")
    return {
        "service.yaml": service_yaml,
        "app.py": t(_APP),
        "requirements.txt": "opsplane\nstarlette\n",
        "pyproject.toml": t(_PYPROJECT),
        "logkeys.yaml": t(_LOGKEYS),
        "Dockerfile": t(_DOCKERFILE),
        "docker-compose.yaml": t(_COMPOSE),
        "deploy/prometheus.yml": t(_PROMETHEUS),
        "tests/test.smoke.yaml": t(_SMOKE),
        "tests/env.local.yaml": t(_ENV, env="local", note="opsplane serve on loopback",
                                  url=f"http://127.0.0.1:{port}"),
        "tests/env.compose.yaml": t(_ENV, env="compose", note="docker compose up",
                                    url=f"http://localhost:{port}"),
        "tests/env.minikube.yaml": t(_ENV, env="minikube",
                                     note="export SERVICE_URL=$(minikube service NAME --url)",
                                     url="${SERVICE_URL}"),
        "tests/env.staging.yaml": t(_ENV, env="staging", note="the pipeline sets SERVICE_URL",
                                    url="${SERVICE_URL}"),
        "tests/env.production.yaml": t(_ENV, env="production",
                                       note="the pipeline sets SERVICE_URL",
                                       url="${SERVICE_URL}"),
        "tests/test_app.py": t(_UNIT_TEST),
        "chart/values.yaml": helmvalues.render(helmvalues.generate(spec), "service.yaml"),
        "chart/values-resources.yaml": t(_RESOURCES),
        "chart/values-staging.yaml": t(_VALUES_ENV, env="staging", replicas="2"),
        "chart/values-production.yaml": t(_VALUES_ENV, env="production", replicas="3"),
        ".github/workflows/deploy.yml": t(_WORKFLOW),
        ".gitignore": ".venv/\n__pycache__/\n",
        "README.md": t(_README),
    }


def init_service(name: str, directory: str | Path, *, team: str = "platform",
                 port: int = 8080, alerting: Alerting | None = None) -> list[Path]:
    """Create ``directory`` with a new service; refuses an existing path. Returns the files.

    ``alerting``: the team's defaults (:func:`opsplane.spec.org.team_alerting`) written into
    service.yaml's ``alerting:`` block."""
    if not _DNS.match(name):
        raise UsageError(f"service name {name!r} must be a DNS label "
                         "(lowercase letters, digits, -)")
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port (1-65535)")
    root = Path(directory)
    if root.exists():
        raise UsageError(f"{root} already exists; opsplane init never overwrites")
    files = _files(name, team, port, alerting)
    import shutil
    import tempfile

    from opsplane.errors import OpsplaneError

    # all or nothing: the folder is filled beside its place, then lands by one rename
    stage: Path | None = None
    where = root
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.init-"))
        for rel, text in files.items():
            where = root / rel
            p = stage / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        stage.chmod(0o755)
        os.rename(stage, root)
    except OSError as e:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        raise OpsplaneError(f"{where}: cannot write: {e.strerror or e}; nothing written") \
            from e
    return [root / rel for rel in files]
