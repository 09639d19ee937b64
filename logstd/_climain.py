"""The one ``main`` of the three command-line tools (logstd, opsplane, loadtest).

Each tool names its commands (``name -> module``); each module has ``add_parser(sub)`` and
``run(args) -> int``, and keeps its heavy imports inside ``run``. Only the named command's
module is imported before the arguments are parsed (``logstd pretty`` starts without
loading lint or query); ``--help`` and a mistyped command build the whole parser.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence

Setup = Callable[[argparse.ArgumentParser], None]

# A tool's heavy dependency -> the extra that installs it (pyproject's optional-dependencies).
# A command that imports one that is missing ends with one line naming the install, exit 2.
EXTRAS = {
    "locust": "loadtest",
    "gevent": "loadtest",
    "psutil": "loadtest",
    "pandas": "loadtest",
    "grafana_foundation_sdk": "dashboards",
    "detect_secrets": "secrets",
    "jsonpath": "blackbox",
    "nats": "nats",
    "grpc": "grpc",
    "requests": "requests",
    "helm_python": "chart",
    "matplotlib": "preview",
    "duckdb": "query",
    "psycopg": "postgres",
}


def missing_extra(err: ModuleNotFoundError) -> str | None:
    """The one-line message for a missing extra's module, or None for any other module."""
    top = (err.name or "").partition(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return f"{top} is not installed; install it with: pip install 'opsplane[{extra}]'"


def require(*modules: str) -> None:
    """Raise ModuleNotFoundError for the first of ``modules`` that cannot be imported, for a
    command that hands the import to another process (Locust runs in its own)."""
    import importlib.util

    for name in modules:
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def command_of(argv: Sequence[str], commands: Mapping[str, str],
               valued_options: Sequence[str] = ()) -> str | None:
    """The command named in argv, skipping global options (and the values of
    ``valued_options``); None for ``--help`` or a name that is not a command."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in valued_options:
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in commands else None
        elif arg in ("-h", "--help"):
            return None
    return None


def build_parser(prog: str, description: str, commands: Mapping[str, str], *,
                 only: str | None = None, setup: Setup | None = None,
                 ) -> argparse.ArgumentParser:
    """The tool's parser: every command's, or with ``only`` just that one's."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if setup is not None:
        setup(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in commands.items():
        if only is None or name == only:
            importlib.import_module(module).add_parser(sub)
    return parser


def run_main(
        prog: str, description: str, commands: Mapping[str, str],
        argv: Sequence[str] | None, *,
        setup: Setup | None = None, valued_options: Sequence[str] = ()) -> int:
    """Parse, run the command, and turn errors into ``error: ...`` and a code.

    The one place where the tools' errors leave the program (the table is
    ``logstd.errors.EXIT_CODES``): a ``ToolError`` is its one line and its ``exit_code``
    (1 failure, 2 usage or bad input); a missing extra is one line and 2; argparse's usage
    errors exit 2 by themselves (``parser.error``); no command is the help and 2.
    """
    from logstd.errors import ToolError
    args_in = sys.argv[1:] if argv is None else list(argv)
    command = command_of(args_in, commands, valued_options)
    try:
        parser = build_parser(prog, description, commands, setup=setup, only=command)
        args = parser.parse_args(args_in)
        if not args.command:
            parser.print_help(sys.stderr)
            return 2
        return int(args.run(args))
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        message = missing_extra(e)
        if message is None:
            raise
        print(f"error: {prog} {command or ''}: {message}".replace(" : ", ": "), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `| head`: the reader left; end quietly without a flush error at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
