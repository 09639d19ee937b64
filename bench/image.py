"""The orders image on each Python base: size, layers over the base, start to ready, idle RSS.

    .venv/bin/python bench/image.py [--runs 5]

Bases: the one scripts/docker.sh builds from Debian packages (debootstrap minbase + python3),
and the registry's python:3.11-slim-bookworm where it can be pulled (else a row says so).
"start to ready" is `docker run` to the first readiness 200 (payments running in its own
container), the median of --runs starts; "idle RSS" is the service's (PID 1) resident memory
a second after it was ready, median too. Goals (issue 19): layers over the base <= 60 MB,
start to ready <= 2 s. A table, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opsplane.testing.container import (  # noqa: E402
    ContainerApp,
    DockerUnavailable,
    base_image,
    build_image,
    docker,
    ensure_docker,
    stop_docker,
)
from opsplane.testing.procs import free_port  # noqa: E402

SLIM = "python:3.11-slim-bookworm"
MB = 1_000_000


def _image_facts(tag: str) -> tuple[int, int]:
    """(size in bytes, number of layers)."""
    info = json.loads(docker("image", "inspect", tag))[0]
    return int(info["Size"]), len(info["RootFS"]["Layers"])


def _pullable() -> bool:
    if subprocess.run(["docker", "image", "inspect", SLIM], capture_output=True,
                      check=False).returncode == 0:
        return True
    return subprocess.run(["docker", "pull", "-q", SLIM], capture_output=True, check=False,
                          timeout=600).returncode == 0


def measure(image: str, base: str, runs: int) -> dict[str, str]:
    size, layers = _image_facts(image)
    base_size, base_layers = _image_facts(base)
    starts: list[float] = []
    rss: list[int] = []
    with ContainerApp(image, port=free_port(), args=["payments_stub:app"], drain_delay=0,
                      grace=1) as payments:
        payments.wait_ready()
        for _ in range(runs):
            with ContainerApp(image, port=free_port(), env={"PAYMENTS_URL": payments.url},
                              drain_delay=0, grace=1) as orders:
                starts.append(orders.wait_ready())
                time.sleep(1.0)  # idle: what it holds once the start-up work is done
                rss.append(orders.rss_bytes())
    return {"base": base, "image MB": f"{size / MB:.1f}", "base MB": f"{base_size / MB:.1f}",
            "added MB": f"{(size - base_size) / MB:.1f}",
            "layers added": str(layers - base_layers),
            "run->ready s (median)": f"{statistics.median(starts):.2f}",
            "run->ready s (min-max)": f"{min(starts):.2f}-{max(starts):.2f}",
            "idle RSS MB": f"{statistics.median(rss) / MB:.1f}"}


def table(rows: list[dict[str, str]]) -> str:
    cols = list(dict.fromkeys(k for row in rows for k in row))
    widths = {c: max(len(c), *(len(r.get(c, "")) for r in rows)) for c in cols}
    lines = [" | ".join(c.ljust(widths[c]) for c in cols),
             "-+-".join("-" * widths[c] for c in cols)]
    lines += [" | ".join(r.get(c, "").ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="starts measured per base")
    args = parser.parse_args()
    try:
        started = ensure_docker()
    except DockerUnavailable as e:
        sys.stderr.write(f"bench/image.py: {e}\n")
        return 2
    try:
        rows = []
        debian = base_image(debian=True)
        rows.append(measure(build_image("opsplane/orders:bench-debian", base="debian"), debian,
                            args.runs))
        if _pullable():
            rows.append(measure(build_image("opsplane/orders:bench-slim"), SLIM, args.runs))
        else:
            rows.append({"base": SLIM, "image MB": "not pullable here"})
        sys.stdout.write(table(rows) + "\n")
    finally:
        if started:
            stop_docker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
