#!/usr/bin/env bash
# Deploy a service to Minikube with the standard chart, then run its smoke collection.
#   deploy/minikube.sh [SERVICE_DIR]       (default: examples/orders)
# Needs minikube, kubectl, helm and opsplane on PATH. Builds the image inside minikube
# (no registry), generates the chart values from service.yaml, helm upgrade --install --wait,
# port-forwards the Service and runs `opsplane test` against it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
svc_dir=${1:-examples/orders}
cd "$root"
[ -f "$svc_dir/service.yaml" ] || { echo "minikube.sh: $svc_dir/service.yaml not found" >&2; exit 2; }
for tool in minikube kubectl helm opsplane; do
  command -v "$tool" >/dev/null || { echo "minikube.sh: $tool is not installed" >&2; exit 2; }
done

name=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "$svc_dir/service.yaml")
namespace=${NAMESPACE:-local}
tag=local-$(git rev-parse --short HEAD 2>/dev/null || date +%s)
work=$(mktemp -d)
pf_pid=""
cleanup() { [ -n "$pf_pid" ] && kill "$pf_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

minikube status >/dev/null || minikube start
echo "==> building $name:$tag inside minikube"
minikube image build -t "$name:$tag" -f "$svc_dir/Dockerfile" .

if [ -f "$svc_dir/chart/values-payments.yaml" ]; then
  echo "==> helm upgrade --install payments (stub dependency)"
  helm upgrade --install payments "$root/helm/service" --namespace "$namespace" --create-namespace \
    --atomic --wait --timeout 5m -f "$svc_dir/chart/values-payments.yaml" \
    --set image.repository="$name" --set image.tag="$tag" --set image.pullPolicy=Never
fi

echo "==> values from service.yaml"
opsplane chart values --spec "$svc_dir/service.yaml" --environment local -o "$work/values-service.yaml"
values=(-f "$work/values-service.yaml")
for extra in values-resources.yaml values-local.yaml; do
  [ -f "$svc_dir/chart/$extra" ] && values+=(-f "$svc_dir/chart/$extra")
done

echo "==> helm upgrade --install $name ($namespace)"
helm upgrade --install "$name" "$root/helm/service" --namespace "$namespace" --create-namespace \
  --atomic --wait --timeout 5m "${values[@]}" \
  --set image.repository="$name" --set image.tag="$tag" --set image.pullPolicy=Never

echo "==> smoke test"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
kubectl -n "$namespace" port-forward "svc/$name" "$port:80" >/dev/null 2>&1 &
pf_pid=$!
opsplane test -t smoke --dir "$svc_dir/tests" --base-url "http://127.0.0.1:$port" --wait 60s
echo "==> $name is up in minikube ($namespace)"
