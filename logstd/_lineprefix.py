"""What collectors put in front of a JSON record, peeled the same way by pretty, lint and query.

``[pod/NAME/CONTAINER] `` (kubectl ``--prefix``), then an RFC 3339 time and a space
(kubectl ``--timestamps``, docker), then CRI's stream and tag (``stdout F ``); each optional.
Compiled on first use: ``echo '{}' | logstd pretty`` never needs it.
"""

from __future__ import annotations

import re

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


PREFIX_SRC = (
    rb"(?:\[([^\]\s]{1,253})\] )?"
    rb"(?:(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:[Zz]|[+-]\d\d:?\d\d)?) "
    rb"(?:(?:stdout|stderr) [FP] )?)?")
_compiled: list[Any] = []


def prefix_regex() -> Any:
    """The compiled prefix pattern: group 1 the kubectl source, group 2 the time."""
    if not _compiled:
        _compiled.append(re.compile(PREFIX_SRC))
    return _compiled[0]


def json_start(line: bytes) -> int:
    """Offset of the JSON object in a log line after any prefix, or -1 when it holds none."""
    if line[:1] == b"{":
        return 0
    m = prefix_regex().match(line)
    off = m.end() if m is not None else 0
    return off if off and line[off:off + 1] == b"{" else -1
