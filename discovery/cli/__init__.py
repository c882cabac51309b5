"""The ``discovery`` command line: one module per subcommand (``cmd_*.py``).

Only this package imports argparse; the library modules it calls take plain
arguments. Every command exits non-zero with a one-line message on bad input
or a failed read or write (the message names the file or option), prints
warnings as one line each, and leaves files on disk whole (they are written
atomically). Ctrl-C, pressed once or twice at any moment, is an interruption
(exit 130), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import warnings

COMMANDS = ("cmd_tasks", "cmd_demo", "cmd_run", "cmd_inspect", "cmd_export", "cmd_compare",
            "cmd_baselines", "cmd_hypothesis")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (importing them loads JAX)."""
    parser = argparse.ArgumentParser(
        prog="discovery",
        description="Evolutionary discovery of optimizer update rules, compiled to Optax.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"discovery.cli.{name}").add_parser(sub)
    return parser


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, except an empty one (None, False, []): such options say in
    their help what leaving them out means."""

    def _get_help_string(self, action):
        if action.default in (None, False, []) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def subparser(subparsers, name: str, help: str, description: str = "") -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows every option's default. ``help`` and ``description``
    print as plain text: ``%`` and ``%%`` both print as one ``%`` (argparse formats the first,
    not the second); an option's help is a format string (``%%``)."""
    help, description = help.replace("%%", "%"), (description or help).replace("%%", "%")
    return subparsers.add_parser(name, help=help.replace("%", "%%"), description=description,
                                 formatter_class=_DefaultsFormatter)


def error_text(e: BaseException) -> str:
    """One line for an expected failure; an OSError says what it did to which file."""
    if isinstance(e, OSError) and e.strerror:
        where = f": {e.filename}" if e.filename else ""
        return f"{e.strerror}{where}"
    return " ".join(str(e).split())


@contextlib.contextmanager
def _one_line_warnings(prefix: str):
    """Warnings (a damaged log, a checkpoint fallback) as ``discovery CMD: warning: ...``."""
    def show(message, *_args, **_kwargs):
        print(f"{prefix}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _interrupted(e: BaseException | None) -> bool:
    """Whether ``e`` was caused by Ctrl-C (C extensions turn it into an ImportError)."""
    while e is not None:
        if isinstance(e, KeyboardInterrupt):
            return True
        e = e.__cause__ or e.__context__
    return False


def _parser_holding_ctrl_c() -> argparse.ArgumentParser:
    """``build_parser()``, with Ctrl-C held until the imports are done: NumPy's and JAX's C
    extensions interrupted while they initialize print tracebacks, or crash."""
    if threading.current_thread() is not threading.main_thread():
        return build_parser()
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(True))
    try:
        parser = build_parser()
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; ``argv=None`` (the installed program) reads ``sys.argv`` and, once
    the command is done, ignores further Ctrl-C so exiting cannot end in a traceback."""
    prefix = "discovery"
    try:
        args = _parser_holding_ctrl_c().parse_args(argv)
        prefix = f"discovery {args.command}"
        with _one_line_warnings(prefix):
            return args.func(args)
    except (ValueError, OSError) as e:  # DSLError, CheckpointError, RunLockedError are ValueErrors
        print(f"{prefix}: error: {error_text(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if not _interrupted(e):
            raise
        print(f"{prefix}: interrupted", file=sys.stderr)  # e.g. a C extension's ImportError
        return 130
    finally:
        if argv is None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
