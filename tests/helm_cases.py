"""Value sets the chart tests render (shared by the chart and init tests)."""

from __future__ import annotations

from typing import Any

IMAGE = {"repository": "registry.example/orders", "tag": "1.4.2"}

MINIMAL: dict[str, Any] = {"name": "orders", "image": IMAGE}

RULE_GROUPS = [{"name": "orders-slo", "rules": [{
    "alert": "OrdersHighErrorRate",
    "expr": 'sum(rate(http_server_request_duration_seconds_count{service="orders",'
            'http_response_status_code=~"5.."}[5m])) > 1',
    "for": "5m", "labels": {"severity": "page"},
    "annotations": {"summary": "orders is failing"}}]}]

FULL: dict[str, Any] = {
    "name": "orders", "team": "shop", "environment": "staging", "image": IMAGE,
    "replicaCount": 3,
    "env": {"LOG_LEVEL": "info"},
    "facts": {"PAYMENTS_URL": "http://payments", "FEATURE_CANCEL": True, "MAX_ITEMS": 50},
    "secrets": {
        "existingSecret": "orders-env",
        "env": [{"name": "DATABASE_PASSWORD", "secret": "orders-db", "key": "password"}],
        "files": [{"name": "db", "secret": "orders-db", "mountPath": "/var/run/secrets/db"}],
        "externalSecret": {"enabled": True,
                           "secretStoreRef": {"name": "vault-backend",
                                              "kind": "ClusterSecretStore"},
                           "data": [{"secretKey": "PAYMENTS_API_KEY",
                                     "remoteRef": {"key": "shop/orders", "property": "payments"}}]},
        "vault": {"enabled": True, "role": "orders",
                  "secrets": [{"name": "db", "path": "database/creds/orders"}]},
    },
    "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12,
                    "targetMemoryUtilizationPercentage": 80},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}}},
    "prometheusRule": {"enabled": True, "groups": RULE_GROUPS},
    "dashboards": {"enabled": True, "files": {
        "orders.json": '{"title": "orders", "uid": "orders", "panels": []}'}},
    "tracing": {"enabled": True, "resourceAttributes": {"team": "shop"}},
    "shutdown": {"preStopSeconds": 10, "drainDelaySeconds": 5, "graceSeconds": 30.5},
}

MESH: dict[str, Any] = {**MINIMAL, "mesh": {"enabled": True, "hosts": ["orders.shop.example"],
                                            "gateways": ["istio-system/public"]}}

CANARY: dict[str, Any] = {**MINIMAL, "mesh": {"enabled": True, "canary": {"enabled": True,
                                                                          "weight": 20}}}

CANARY_TRACK: dict[str, Any] = {**MINIMAL, "track": "canary", "replicaCount": 1,
                                "image": {**IMAGE, "tag": "1.5.0-rc1"}}

VALUE_SETS: dict[str, dict[str, Any]] = {
    "minimal": MINIMAL, "full": FULL, "mesh": MESH, "canary": CANARY,
    "canary-track": CANARY_TRACK,
}
