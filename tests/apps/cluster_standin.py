"""Stand-ins for ``minikube``, ``kubectl``, ``helm`` and ``make``: no cluster can run here.

Each call's argv is appended to ``$STANDIN_ROOT/calls.jsonl`` (one JSON list a line). What each
does besides, only what ``deploy/minikube.sh`` needs:

    minikube status | start | image load IMAGE        exit 0
    make ... image                                    exit 0 (the image is not built)
    helm upgrade --install RELEASE CHART [-f FILE]... [--namespace NS] ...
        renders the chart for real with the same values files (`opsplane chart render`, the
        Helm v4 engine) into ``$STANDIN_ROOT/helm-RELEASE.yaml``: what helm would apply
    kubectl -n NS port-forward svc/NAME LOCAL:80
        forwards 127.0.0.1:LOCAL to 127.0.0.1:$STANDIN_SVC_<NAME> (a real service the test
        runs) until it is stopped, as kubectl does for a Service's pod

Anything else is refused (exit 2, as the real tools do for an unknown command), so a command
the script should not run fails the test. Installed by ``tests/test_minikube_script.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def helm(root: Path, argv: list[str]) -> int:
    if argv[:2] != ["upgrade", "--install"] or len(argv) < 4:
        sys.stderr.write(f"Error: unknown command {argv[:2]!r} for helm stand-in\n")
        return 2
    release, chart = argv[2], argv[3]
    files = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-f", "--values")]
    cmd = [str(Path(sys.executable).with_name("opsplane")), "chart", "render", "--chart", chart,
           "--release", release, "--namespace", _flag(argv, "--namespace") or "default"]
    for f in files:
        cmd += ["-f", f]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        return 1
    (root / f"helm-{release}.yaml").write_text(r.stdout)
    sys.stdout.write(f'Release "{release}" has been upgraded. Happy Helming!\n')
    return 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def _forward(local: int, target: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", local)
    async with server:
        await server.serve_forever()


def kubectl(argv: list[str]) -> int:
    if "port-forward" not in argv:
        sys.stderr.write(f"error: unknown command {argv!r} for kubectl stand-in\n")
        return 2
    rest = argv[argv.index("port-forward") + 1:]
    svc, ports = rest[0], rest[1]
    local, _, remote = ports.partition(":")
    target = os.environ.get(f"STANDIN_SVC_{svc.removeprefix('svc/').upper()}")
    if not svc.startswith("svc/") or remote != "80" or target is None:
        sys.stderr.write(f'error: services "{svc}" not found\n')
        return 1
    asyncio.run(_forward(int(local), int(target)))
    return 0


def main(tool: str, argv: list[str]) -> int:
    root = Path(os.environ["STANDIN_ROOT"])
    with (root / "calls.jsonl").open("a") as log:
        log.write(json.dumps([tool, *argv]) + "\n")
    if tool == "minikube":
        ok = argv in (["status"], ["start"]) or (argv[:2] == ["image", "load"] and len(argv) == 3)
        return 0 if ok else 2
    if tool == "make":
        return 0 if argv[-1:] == ["image"] else 2
    if tool == "helm":
        return helm(root, argv)
    if tool == "kubectl":
        return kubectl(argv)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2:]))
