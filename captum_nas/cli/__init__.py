"""The ``captum-nas`` command line: ``explain``, ``evaluate``, ``train-reference``, ``benchmark``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Errors are sorted in two kinds:

- a **user error** (a bad option, a missing or unreadable file, an output that would
  replace an earlier one): one line on stderr, exit status 2, no traceback. These are
  :class:`UsageError` (the command line's own checks), argparse's errors, ``OSError``
  naming a file, and ``ValueError`` / ``TypeError`` / ``ImportError`` raised by a
  ``raise`` statement of captum-nas itself (its input checks: see :func:`is_user_error`);
- anything else is an **internal error**: one line that names the exception and asks to
  rerun with ``--debug``, exit status 1.

``--debug`` (before or after the subcommand) prints the traceback of either kind.
``captum-nas --version`` prints the package and dependency versions.
"""

from __future__ import annotations

import argparse
import dis
import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

SUBCOMMANDS = {
    "explain": "captum_nas.cli.explain",
    "evaluate": "captum_nas.cli.evaluate",
    "train-reference": "captum_nas.cli.train",
    "benchmark": "captum_nas.cli.benchmark",
    "train-guided": "captum_nas.cli.train_guided",
    "train-explainer": "captum_nas.cli.train_explainer",
}

#: exit status of a user error (as argparse's) and of an internal error
USER_ERROR, INTERNAL_ERROR = 2, 1

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_RAISE = dis.opmap["RAISE_VARARGS"]


class UsageError(ValueError):
    """A mistake of the user of the command line (a bad option, an output that exists):
    reported as one line, exit status 2."""


class InternalError(RuntimeError):
    """An unexpected error re-raised with context (``rank 1: ValueError: ...``): reported
    as an internal error, exit status 1; its message already names the original type."""


def raised_by_our_checks(err: BaseException) -> bool:
    """Whether ``err`` was raised by a ``raise`` statement in captum-nas's own code (its
    input checks), not by a library it calls nor by a failing expression of ours.

    Example:
        >>> from captum_nas._validation import check_seed
        >>> try:
        ...     check_seed(-1)
        ... except ValueError as err:
        ...     raised_by_our_checks(err)
        True
        >>> try:
        ...     int("x")
        ... except ValueError as err:
        ...     raised_by_our_checks(err)
        False
    """
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    try:
        inside = Path(code.co_filename).resolve().is_relative_to(_PACKAGE_DIR)
    except (OSError, ValueError):  # pragma: no cover - odd file names
        return False
    # the instruction that raised: a ``raise`` statement, not a call that failed (read
    # from the bytecode, so it holds even when the source file changed since import)
    return inside and code.co_code[tb.tb_lasti] == _RAISE


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` is the user's mistake (exit 2, one line) rather than a bug (exit 1).

    User errors: :class:`UsageError`; an ``OSError`` that names a file (missing,
    unreadable, not writable); a ``ValueError``, ``TypeError``, ``ImportError`` or
    ``OSError`` raised by captum-nas's own checks (:func:`raised_by_our_checks`).
    Everything else (an ``IndexError`` in our code, a ``RuntimeError`` of torch, a
    ``ValueError`` from inside numpy) is internal.
    """
    if isinstance(err, UsageError):
        return True
    if isinstance(err, OSError) and err.filename is not None:
        return True
    if isinstance(err, ValueError | TypeError | ImportError | OSError):
        return raised_by_our_checks(err)
    return False


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``PROG: error: MESSAGE``."""

    def error(self, message: str) -> NoReturn:
        """Print the error on one line (with a hint to ``--help``) and exit with status 2."""
        self.exit(USER_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def add_debug_argument(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--debug``: show the traceback of an error (on the top parser and every subcommand)."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="on an error, print the full traceback",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand whose module is importable."""
    from captum_nas.cli._common import VersionAction

    parser = Parser(
        prog="captum-nas",
        description="Region explanations for Captum: NAS superpixels and segment pooling.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--version", action=VersionAction, help="print the package and dependency versions"
    )
    add_debug_argument(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in SUBCOMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue  # subcommand not shipped
            raise
        module.add_parser(sub)
    return parser


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def report_error(err: BaseException, command: str, *, debug: bool = False) -> int:
    """Print ``err`` for the user of ``captum-nas COMMAND`` and return the exit status.

    Args:
        err: the exception that stopped the command.
        command: the subcommand's name.
        debug: print the traceback before the one-line message.

    Returns:
        2 for a user error (:func:`is_user_error`), 1 for an internal one.
    """
    if debug:
        traceback.print_exception(err, file=sys.stderr)
    if is_user_error(err):
        print(f"captum-nas {command}: error: {_first_line(err)}", file=sys.stderr)
        return USER_ERROR
    hint = "" if debug else "; rerun with --debug to see the traceback"
    kind = "" if isinstance(err, InternalError) else f"{type(err).__name__}: "
    print(
        f"captum-nas {command}: internal error: {kind}{_first_line(err)}"
        f"{hint} (please report it if the inputs were valid)",
        file=sys.stderr,
    )
    return INTERNAL_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``captum-nas`` command.

    Args:
        argv: arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a user error, 1 on an internal error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, argument errors (already printed)
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --distributed
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        return report_error(err, args.command, debug=bool(getattr(args, "debug", False)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
