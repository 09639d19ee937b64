"""CRI partial lines: a container line longer than the runtime's buffer (16 KiB in the
kubelet's files under /var/log/pods) is written as ``<time> stdout P <piece>`` lines ended
by one ``<time> stdout F <last piece>``. ``logstd pretty`` shows such a run as the one line
it was: the pieces joined, under the first piece's time, in the place of the first piece.

A run still open at the end of a chunk is held back by the reader (``open_run_start``) so
that no run is ever split between chunks, or between parallel workers. A run never
finished (the input ended) is shown as the lines it came as: nothing is lost.
Imported only when a chunk holds `` stdout P `` or `` stderr P ``: other inputs never need it.
"""

from __future__ import annotations

import re

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_LINE = rb"(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:[Zz]|[+-]\d\d:?\d\d)?) " \
    rb"(stdout|stderr) ([FP]) "
_compiled: list[Any] = []


def _cri() -> Any:
    if not _compiled:
        _compiled.append(re.compile(_LINE))
    return _compiled[0]


def join_partials(lines: list[bytes]) -> list[bytes]:
    """``lines`` with each finished run of partial lines joined into one full line."""
    match = _cri().match
    out: list[Any] = []
    # stream -> (place in out, the time, the pieces, the original lines)
    open_runs: dict[bytes, tuple[int, bytes, list[bytes], list[bytes]]] = {}
    for line in lines:
        m = match(line)
        if m is None:
            out.append(line)
            continue
        stream, tag, body = m.group(2), m.group(3), line[m.end():]
        run = open_runs.get(stream)
        if tag == b"P":
            if run is None:
                open_runs[stream] = (len(out), m.group(1), [body], [line])
                out.append(None)  # the run's place, filled when it ends
            else:
                run[2].append(body)
                run[3].append(line)
        elif run is None:
            out.append(line)
        else:
            del open_runs[stream]
            run[2].append(body)
            out[run[0]] = b"%s %s F %s" % (run[1], stream, b"".join(run[2]))
    if not open_runs:
        return out
    for place, _, _, originals in open_runs.values():
        out[place] = originals  # never finished: the lines as they came
    flat: list[bytes] = []
    for item in out:
        if type(item) is list:
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def open_run_start(whole: bytes) -> int:
    """Offset of the first line of the earliest run of partial lines ``whole`` (complete
    lines) leaves open at its end, or -1 when every run in it is finished."""
    match = _cri().match
    open_at: dict[bytes, int] = {}
    pos = 0
    n = len(whole)
    while pos < n:
        end = whole.find(b"\n", pos)
        end = n if end < 0 else end + 1
        m = match(whole, pos, end)
        if m is not None:
            stream = m.group(2)
            if m.group(3) == b"P":
                open_at.setdefault(stream, pos)
            else:
                open_at.pop(stream, None)
        pos = end
    return min(open_at.values()) if open_at else -1
