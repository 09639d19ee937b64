"""Stand-in for ``kubectl`` and ``docker``: this machine has no cluster and no Docker engine.

Only what the samplers use::

    kubectl exec POD [-c C] [-n NS] -- CMD ARGS...
    docker exec NAME CMD ARGS...

The "container" is the directory ``$STANDIN_ROOT/<POD or NAME>``: ``/sys/fs/cgroup`` in the
arguments is rewritten to it (and back in CMD's output) and CMD (the real ``head``) runs on
the real files the test writes. Every call is appended to ``$STANDIN_ROOT/calls.log``.
A missing directory answers as the real tools do for a pod or container that does not
exist (their messages, exit 1).
Installed by ``tests/test_loadtest_containers.py`` as ``kubectl`` and ``docker`` scripts
first on PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main(tool: str, argv: list[str]) -> int:
    root = Path(os.environ["STANDIN_ROOT"])
    with (root / "calls.log").open("a") as log:
        log.write(" ".join([tool, *argv]) + "\n")
    if tool == "kubectl":
        if argv[:1] != ["exec"] or "--" not in argv:
            sys.stderr.write("error: stand-in kubectl knows only `exec POD ... -- CMD`\n")
            return 2
        name, cmd = argv[1], argv[argv.index("--") + 1:]
        missing = f'Error from server (NotFound): pods "{name}" not found'
    else:
        if argv[:1] != ["exec"] or len(argv) < 3:
            sys.stderr.write("error: stand-in docker knows only `exec NAME CMD`\n")
            return 2
        name, cmd = argv[1], argv[2:]
        missing = f"Error response from daemon: No such container: {name}"
    box = root / name
    if not box.is_dir():
        sys.stderr.write(missing + "\n")
        return 1
    cmd = [a.replace("/sys/fs/cgroup", str(box)) for a in cmd]
    p = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if not box.is_dir():  # went away during the exec: the server says so, as for a new one
        sys.stderr.write(missing + "\n")
        return 1
    # inside the container the files are at /sys/fs/cgroup: so say the outputs
    sys.stdout.write(p.stdout.replace(str(box), "/sys/fs/cgroup"))
    sys.stderr.write(p.stderr.replace(str(box), "/sys/fs/cgroup"))
    code = p.returncode
    if code and tool == "kubectl":
        sys.stderr.write(f"command terminated with exit code {code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
