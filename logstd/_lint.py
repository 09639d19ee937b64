"""``logstd lint`` as a library: find the files, lint each, apply ignores.

    from logstd._lint import lint_paths
    findings = lint_paths(["logs/", "src/"], dictionary=d, settings=s)

Python files (``*.py``) are linted as source (AST only, the code is never imported);
everything else as captured logs (JSON lines, ``kubectl logs`` output with or
without ``--prefix`` and ``--timestamps``).
"""

from __future__ import annotations

import fnmatch
import functools
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from logstd._dictionary import Dictionary
from logstd._finding import Finding
from logstd._lint_rules import default_codes
from logstd.errors import UsageError

if TYPE_CHECKING:
    from logstd._lint_logs import LogLinter
    from logstd._lint_stream import Buffer, Job

LOG_SUFFIXES = (".log", ".jsonl", ".ndjson", ".json", ".txt", ".out")
SKIP_DIRS = frozenset({".git", ".hg", ".venv", "venv", "node_modules", "__pycache__",
                       ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox", "build", "dist"})


@dataclass(frozen=True)
class LintSettings:
    """Which rules run where. Built by ``logstd._config.lint_settings``."""

    codes: frozenset[str] = field(default_factory=lambda: frozenset(default_codes()))
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    exclude: tuple[str, ...] = ()
    root: Path = field(default_factory=Path.cwd)

    def codes_for(self, path: str) -> frozenset[str]:
        if not self.per_file_ignores:
            return self.codes
        rel = _relative(path, self.root)
        off: set[str] = set()
        for glob, codes in self.per_file_ignores:
            if _glob_match(rel, glob):
                off |= codes
        return self.codes - off

    def excluded(self, path: str) -> bool:
        rel = _relative(path, self.root)
        return any(_glob_match(rel, g) for g in self.exclude)


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _glob_match(rel: str, glob: str) -> bool:
    """fnmatch where a glob without a slash matches the file name, and ``dir/`` its contents."""
    if glob.endswith("/"):
        return rel.startswith(glob) or f"/{glob}" in f"/{rel}"
    if "/" not in glob:
        return fnmatch.fnmatch(rel.rsplit("/", 1)[-1], glob) or fnmatch.fnmatch(rel, glob)
    return fnmatch.fnmatch(rel, glob)


def _utf8_name(path: str) -> str:
    """The path, when findings can name it (every output format is UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError(f"{shown}: the file name is not valid UTF-8, so findings cannot "
                         "name it; rename it to lint it") from None
    return path


def discover(paths: Sequence[str], settings: LintSettings) -> Iterator[str]:
    """Files to lint: given files as they are, directories walked (sorted) for .py and logs."""
    for p in map(_utf8_name, paths):
        if p == "-":
            yield p
            continue
        path = Path(p)
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for name in sorted(files):
                    full = os.path.join(folder, name)
                    if (name.endswith(".py") or name.endswith(LOG_SUFFIXES)) and \
                            not settings.excluded(full):
                        yield _utf8_name(full)
        elif path.exists():  # a file, or a pipe (mkfifo, <(kubectl logs ...)) read as a log
            yield p
        else:
            raise UsageError(f"{p}: no such file or directory")


def lint_file(path: str, dictionary: Dictionary, settings: LintSettings,
              stdin: IO[bytes] | None = None) -> list[Finding]:
    """Findings for one file (``-`` reads logs from ``stdin``), sorted, ignores applied."""
    codes = settings.codes_for(path)
    if path.endswith(".py"):
        from logstd._lint_source import lint_source

        try:
            text = Path(path).read_bytes()
        except OSError as e:
            raise UsageError(f"{path}: cannot read: {e.strerror or e}") from e
        return [f for f in lint_source(text, path, dictionary) if f.code in codes]
    from logstd._lint_logs import LogLinter

    linter = LogLinter(dictionary, codes)
    if path == "-":
        import sys

        stream = stdin if stdin is not None else sys.stdin.buffer
        return list(linter.lint_lines(stream, "-"))
    try:
        with open(path, "rb") as f:
            return list(linter.lint_lines(f, path))
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from e


def lint_paths(paths: Sequence[str], dictionary: Dictionary,
               settings: LintSettings | None = None) -> Iterator[Finding]:
    """Findings for every file under ``paths``, file by file."""
    settings = settings or LintSettings()
    for path in discover(paths, settings):
        yield from lint_file(path, dictionary, settings)


def lint_to(paths: Sequence[str], dictionary: Dictionary, fmt: str, out: IO[bytes], *,
            settings: LintSettings | None = None, jobs: int = 0, group: bool = False) -> int:
    """Lint ``paths`` and write the findings to ``out`` in ``fmt`` as they come (big logs
    in chunks, by ``jobs`` processes; 0: every core for a big file). Returns how many.

    The bytes are those of ``_lint_output.write(lint_paths(...), fmt, out)``. ``group``
    (text only) writes one line per rule and key of each file instead (``_lint_group``).
    """
    from logstd._lint_output import Writer

    settings = settings or LintSettings()
    writer = Writer(fmt, out)
    if group:
        for path in discover(paths, settings):
            writer.rendered(*_grouped(path, dictionary, settings, jobs))
        return writer.close()
    found = list(discover(paths, settings))
    sources = _SourceLinter(found, dictionary, settings, jobs)
    try:
        for path in found:
            if path.endswith(".py"):
                writer.findings(sources.findings(path))
                continue
            if fmt == "sarif":
                writer.findings(lint_file(path, dictionary, settings))
                continue
            linter = _log_linter(path, dictionary, settings)
            _stream_log(path, linter, _render_job(fmt, path), writer.rendered, jobs)
            writer.findings(linter.variable_findings(path))
    finally:
        sources.close()
    return writer.close()


# a forked source-lint worker's arguments (set before the fork: nothing to pickle)
_SOURCE_ARGS: tuple[Dictionary, LintSettings] | None = None
# below this many Python files one process is quicker than starting workers
_PARALLEL_SOURCES = 32


def _lint_source_file(path: str) -> list[Finding]:  # pragma: no cover - in the workers
    assert _SOURCE_ARGS is not None
    return lint_file(path, *_SOURCE_ARGS)


class _SourceLinter:
    """Findings of the Python files among ``paths``, in their order: by ``jobs`` forked
    processes (0: every core) when there are many, else here. Each file is parsed on its
    own, so files are shared out in order and their findings come back in order."""

    def __init__(self, paths: Sequence[str], dictionary: Dictionary, settings: LintSettings,
                 jobs: int) -> None:
        global _SOURCE_ARGS
        from logstd._forked import cpu_count

        self.args = (dictionary, settings)
        py = [p for p in paths if p.endswith(".py")]
        n = cpu_count() if jobs == 0 else jobs
        self.pool: Any = None
        self.results: Iterator[list[Finding]] | None = None
        if n > 1 and len(py) >= _PARALLEL_SOURCES:
            import multiprocessing

            _SOURCE_ARGS = self.args
            self.pool = multiprocessing.get_context("fork").Pool(n)
            self.results = self.pool.imap(_lint_source_file, py, chunksize=8)

    def findings(self, path: str) -> list[Finding]:
        if self.results is None:
            return lint_file(path, *self.args)
        return next(self.results)

    def close(self) -> None:
        global _SOURCE_ARGS
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
        _SOURCE_ARGS = None


def statistics(paths: Sequence[str], dictionary: Dictionary,
               settings: LintSettings | None = None, jobs: int = 0) -> Statistics:
    """Counts of findings by rule and key; logs take a fast path that makes no findings."""
    settings = settings or LintSettings()
    stats = Statistics()
    for path in discover(paths, settings):
        if path.endswith(".py"):
            stats.add(lint_file(path, dictionary, settings))
            continue
        linter = _log_linter(path, dictionary, settings)

        def add(counts: Buffer, _n: int, stats: Statistics = stats) -> None:
            import orjson

            by_rule, by_key = orjson.loads(counts)
            stats.by_rule.update(by_rule)
            stats.by_key.update(by_key)

        n = _stream_log(path, linter, _count_job, add, jobs)
        for f in linter.variable_findings(path):
            stats.by_rule[f.code] += 1
            n += 1
        if n:
            stats.files.add(path)
    return stats


def _grouped(path: str, dictionary: Dictionary, settings: LintSettings,
             jobs: int) -> tuple[bytes, int]:
    from logstd import _lint_group

    if path.endswith(".py"):
        found = _lint_group.group_findings(lint_file(path, dictionary, settings))
        return _lint_group.render(found, path)
    linter = _log_linter(path, dictionary, settings)
    groups: _lint_group.Groups = {}

    def job(linter: LogLinter, lines: list[bytes], first: int) -> tuple[bytes, int]:
        found, n = _lint_group.group_lines(linter, lines, path, first)
        return _lint_group.dumps(found), n

    _stream_log(path, linter, job, lambda data, _n: _lint_group.merge(groups, data), jobs)
    return _lint_group.render(groups, path, linter.variable_findings(path))


def _log_linter(path: str, dictionary: Dictionary, settings: LintSettings) -> LogLinter:
    from logstd._lint_logs import LogLinter

    return LogLinter(dictionary, settings.codes_for(path))


def _stream_log(path: str, linter: LogLinter, job: Job, write: Callable[[Buffer, int], object],
                jobs: int) -> int:
    """Run ``job`` over the log at ``path`` (``-``: stdin) chunk by chunk."""
    from logstd._forked import cpu_count
    from logstd._lint_stream import is_big_file, lint_fd, lint_stream

    def reading(read: Callable[[int], bytes]) -> Callable[[int], bytes]:
        # a read error names the file; a write error (a closed pipe) is not this file's
        def checked(n: int) -> bytes:
            try:
                return read(n)
            except OSError as e:
                raise UsageError(f"{path}: cannot read: {e.strerror or e}") from e
        return checked

    if path == "-":
        import sys

        return lint_stream(reading(sys.stdin.buffer.read), linter, job, write)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        if not _is_file(fd):
            jobs = 1  # workers read their chunks at offsets: a pipe (fifo) has none
        elif jobs == 0:
            jobs = cpu_count() if is_big_file(fd) else 1
        return lint_fd(fd, linter, job, write, jobs=jobs,
                       read=reading(functools.partial(os.read, fd)))
    finally:
        os.close(fd)


def _is_file(fd: int) -> bool:
    import stat

    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


def _render_job(fmt: str, path: str) -> Job:
    """What a chunk of log lines becomes in ``fmt`` (run in the workers)."""
    if fmt == "text":
        def text(linter: LogLinter, lines: list[bytes], first: int) -> tuple[bytes, int]:
            return linter.text(lines, path, first)
        return text
    from logstd._lint_output import render

    def other(linter: LogLinter, lines: list[bytes], first: int) -> tuple[bytes, int]:
        return render(linter.lint_lines(lines, path, first, final=False), fmt)
    return other


def _count_job(linter: LogLinter, lines: list[bytes], first: int) -> tuple[bytes, int]:
    """--statistics: a chunk's counts by rule and by key, as JSON."""
    import orjson

    by_rule: Counter[str] = Counter()
    by_key: Counter[str] = Counter()
    n = linter.count_lines(lines, "", by_rule, by_key, final=False)
    return orjson.dumps([by_rule, by_key]), n


@dataclass
class Statistics:
    by_rule: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)
    files: set[str] = field(default_factory=set)

    def add(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.by_rule[f.code] += 1
            if f.key:
                self.by_key[f.key] += 1
            self.files.add(f.path)

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())

    def render(self, top: int = 10) -> str:
        from logstd._lint_rules import RULES

        lines = [f"{self.total} findings in {len(self.files)} files", "", "by rule:"]
        for code, n in sorted(self.by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {n:>8}  {code}  {RULES[code].name}")
        if self.by_key:
            lines += ["", f"most frequent offending keys (top {top}):"]
            for key, n in sorted(self.by_key.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
                lines.append(f"  {n:>8}  {key}")
        return "\n".join(lines)
