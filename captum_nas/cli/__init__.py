"""The ``captum-nas`` command line: ``explain``, ``evaluate``, ``train-reference``, ``benchmark``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. The library raises ``ValueError`` / ``TypeError`` /
``FileNotFoundError``; the command line only turns them, and argument errors, into one
line on stderr and exit status 2, without a traceback. ``captum-nas --version`` prints
the package and dependency versions.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

SUBCOMMANDS = {
    "explain": "captum_nas.cli.explain",
    "evaluate": "captum_nas.cli.evaluate",
    "train-reference": "captum_nas.cli.train",
    "benchmark": "captum_nas.cli.benchmark",
}


class CLIError(Exception):
    """An error with a message meant for the user of the command line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``PROG: error: MESSAGE``."""

    def error(self, message: str) -> NoReturn:
        """Print the error on one line (with a hint to ``--help``) and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``captum-nas`` command.

    Args:
        argv: arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a user error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, argument errors (already printed)
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
    try:
        return int(args.run(args) or 0)
    except (CLIError, FileNotFoundError, ValueError, TypeError, ImportError) as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        print(
            f"captum-nas {args.command}: error: {lines[0] if lines else type(err).__name__}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
