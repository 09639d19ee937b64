"""CRI partial lines: a container line longer than the runtime's buffer (16 KiB in the
kubelet's files under /var/log/pods) is written as ``<time> stdout P <piece>`` lines ended
by one ``<time> stdout F <last piece>``. ``logstd pretty`` shows such a run as the one line
it was: the pieces joined, under the first piece's time, in the place of the first piece.

A run still open at the end of a chunk is held back by the reader (``open_run_start``) so
that no run is ever split between chunks, or between parallel workers. A run never
finished (the input ended) is shown as the lines it came as: nothing is lost.
``logstd lint`` joins them the same way, keeping every line's number: a joined record stands
in its first piece's line (its columns are that line's as far as the first piece goes), the
lines of the other pieces are left empty. The pattern is compiled on first use: inputs without
partial lines never need it.
"""

from __future__ import annotations

import re

# typing is not imported at run time (start-up of the streaming CLIs: pretty imports this)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_LINE = rb"(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:[Zz]|[+-]\d\d:?\d\d)?) " \
    rb"(stdout|stderr) ([FP]) "
_compiled: list[Any] = []
# a run of partial lines longer than this is not held back: it is read as it comes
RUN_LIMIT = 4 << 20


def _cri() -> Any:
    if not _compiled:
        _compiled.append(re.compile(_LINE))
    return _compiled[0]


def has_cri_partials(data: bytes) -> bool:
    """Whether ``data`` holds a CRI partial line (`` stdout P `` or `` stderr P ``)."""
    return b" stdout P " in data or b" stderr P " in data


def partials_finder(c_ok: bool = True) -> Callable[[bytes], bool]:
    """``has_cri_partials``, in C where logstd._speedups is built and ``c_ok`` (every chunk
    of the input is looked at)."""
    from logstd._native import pure_python

    if c_ok and not pure_python():
        try:
            from logstd._speedups import cri_partials
        except ImportError:
            pass
        else:
            return cri_partials
    return has_cri_partials


def join_partials(lines: list[bytes], keep_places: bool = False) -> list[bytes]:
    """``lines`` with each finished run of partial lines joined into one full line, in the
    place of its first piece; ``keep_places``: the other pieces' lines stay, empty (so that
    every line keeps its number), instead of being taken out."""
    match = _cri().match
    out: list[Any] = []
    # stream -> (the time, the pieces, the original lines, their places in out)
    open_runs: dict[bytes, tuple[bytes, list[bytes], list[bytes], list[int]]] = {}
    for line in lines:
        m = match(line)
        if m is None:
            out.append(line)
            continue
        stream, tag, body = m.group(2), m.group(3), line[m.end():]
        run = open_runs.get(stream)
        if run is None and tag == b"F":
            out.append(line)
            continue
        if run is None:
            run = open_runs[stream] = (m.group(1), [], [], [])
            run[3].append(len(out))
            out.append(None)  # the run's place, filled when it ends
        elif keep_places:
            run[3].append(len(out))
            out.append(b"")
        run[1].append(body)
        run[2].append(line)
        if tag == b"F":
            del open_runs[stream]
            out[run[3][0]] = b"%s %s F %s" % (run[0], stream, b"".join(run[1]))
    for _, _, originals, places in open_runs.values():  # never finished: as they came
        if keep_places:
            for place, line in zip(places, originals, strict=True):
                out[place] = line
        else:
            out[places[0]] = originals
    if keep_places or not open_runs:
        return out
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
