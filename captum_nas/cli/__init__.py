"""The ``captum-nas`` command line: ``explain``, ``evaluate``, ``train-reference``, ``benchmark``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Errors a user can fix (missing file, unknown model, bad option)
print one line and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = {
    "explain": "captum_nas.cli.explain",
    "evaluate": "captum_nas.cli.evaluate",
    "train-reference": "captum_nas.cli.train",
    "benchmark": "captum_nas.cli.benchmark",
    "train-explainer": "captum_nas.cli.train_explainer",
}


class CLIError(Exception):
    """An error with a message meant for the user of the command line."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand whose module is importable."""
    parser = argparse.ArgumentParser(
        prog="captum-nas",
        description="Region explanations for Captum: NAS superpixels and segment pooling.",
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
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (CLIError, FileNotFoundError, ValueError, TypeError, ImportError) as err:
        print(f"captum-nas {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
