#!/usr/bin/env bash
# Deploy a service to Minikube with the standard chart, then run its smoke collection.
#   deploy/minikube.sh [SERVICE_DIR]       (default: examples/orders)
# Needs minikube, kubectl, helm, make and opsplane on PATH.
#  1. the image: `make image` (opsplane/orders:local, built on the host; it holds the payments
#     stub too), loaded into the cluster by `minikube image load` (no registry, pullPolicy Never).
#     IMAGE=repo:tag loads an image built some other way instead of running `make image`.
#  2. helm upgrade --install --atomic --wait: the payments stub (chart/values-payments.yaml),
#     then the service with its values from service.yaml and chart/values-{resources,local}.yaml.
#  3. kubectl port-forward to the Service, then `opsplane test -t smoke -e minikube`: the
#     collection's variables and secrets come from tests/env.minikube.yaml, whose baseUrl is
#     ${<NAME>_URL} (ORDERS_URL for orders), set here to the forwarded port.
# Environment: NAMESPACE (default local), IMAGE (see 1), SMOKE_WAIT (readiness wait, 60s).
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
env_file=$svc_dir/tests/env.minikube.yaml
[ -f "$env_file" ] || { echo "minikube.sh: $env_file not found (the smoke test's environment)" >&2; exit 2; }
work=$(mktemp -d)
pf_pid=""
cleanup() { if [ -n "$pf_pid" ]; then kill "$pf_pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

minikube status >/dev/null || minikube start

if [ -n "${IMAGE:-}" ]; then
  image=$IMAGE
else
  echo "==> make image"
  make -s -C "$root" image >/dev/null
  image=opsplane/orders:local
fi
repository=${image%:*}
tag=${image##*:}
[ "$repository" != "$image" ] || tag=latest
echo "==> minikube image load $image"
minikube image load "$image"
# a values file, not --set: the same files give `opsplane chart render` what helm applies
printf 'image:\n  repository: %s\n  tag: "%s"\n  pullPolicy: Never\n' "$repository" "$tag" \
  > "$work/values-image.yaml"

if [ -f "$svc_dir/chart/values-payments.yaml" ]; then
  echo "==> helm upgrade --install payments (stub dependency)"
  helm upgrade --install payments "$root/helm/service" --namespace "$namespace" --create-namespace \
    --atomic --wait --timeout 5m -f "$svc_dir/chart/values-payments.yaml" -f "$work/values-image.yaml"
fi

echo "==> values from service.yaml"
opsplane chart values --spec "$svc_dir/service.yaml" --environment local -o "$work/values-service.yaml"
values=(-f "$work/values-service.yaml")
for extra in values-resources.yaml values-local.yaml; do
  if [ -f "$svc_dir/chart/$extra" ]; then values+=(-f "$svc_dir/chart/$extra"); fi
done
values+=(-f "$work/values-image.yaml")

echo "==> helm upgrade --install $name ($namespace)"
helm upgrade --install "$name" "$root/helm/service" --namespace "$namespace" --create-namespace \
  --atomic --wait --timeout 5m "${values[@]}"

echo "==> smoke test"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
kubectl -n "$namespace" port-forward "svc/$name" "$port:80" >/dev/null 2>&1 &
pf_pid=$!
url_var=$(printf '%s_URL' "$name" | tr 'a-z-' 'A-Z_')
export "$url_var=http://127.0.0.1:$port"
opsplane test -t smoke -e "$env_file" --dir "$svc_dir/tests" --wait "${SMOKE_WAIT:-60s}"
echo "==> $name is up in minikube ($namespace)"
