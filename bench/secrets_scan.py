"""Secret scanning: opsplane secrets scan vs detect-secrets (all default plugins) on one tree.

    .venv/bin/python bench/secrets_scan.py [PATH]      (default: this repository)

Prints files scanned, findings and wall time of each, best of 3. Never asserted in tests.
opsplane applies the tree's .opsplane-secrets-allow; detect-secrets has no such list here
(its extra findings on this repository are keyword hits on secret references such as
`secret: orders-db` and on code, the documented Stripe example and a doc's sample URL).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def opsplane_scan(root: Path) -> int:
    from opsplane.secretscan import scan

    return len(scan([root], root=root))


def detect_secrets_scan(root: Path) -> int:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    from opsplane.secretscan import iter_files

    secrets = SecretsCollection()
    with default_settings():
        for f in iter_files([root]):
            secrets.scan_file(str(f))
    return sum(len(v) for _, v in secrets.data.items())


def best_of(fn, root: Path, n: int = 3) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    best = float("inf")
    found = 0
    for _ in range(n):
        t = time.perf_counter()
        found = fn(root)
        best = min(best, time.perf_counter() - t)
    return found, best


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    from opsplane.secretscan import iter_files

    files = sum(1 for _ in iter_files([root]))
    print(f"tree: {root} ({files} files); machine: 2 shared cores, numbers are indicative")
    print(f"{'scanner':<32} {'findings':>9} {'seconds':>9}")
    for name, fn in (("opsplane secrets scan", opsplane_scan),
                     ("detect-secrets (default plugins)", detect_secrets_scan)):
        found, secs = best_of(fn, root)
        print(f"{name:<32} {found:>9} {secs:>9.3f}")


if __name__ == "__main__":
    main()
