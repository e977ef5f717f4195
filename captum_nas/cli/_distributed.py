"""Command-line options of the scale-out runs: ``--distributed``, ``--resume``, ``--dist-timeout``.

Under torchrun every process runs the same command and :func:`start_job` joins the
process group; ``--distributed N`` is the one-machine shorthand that starts
``torchrun --standalone --nproc_per_node=N -m captum_nas.cli ...`` with the rest of the
command line. Option names are chosen to survive torchrun's own parser, which reads
the whole command line and rejects abbreviations of its options (``--n`` would match
``--nnodes`` and ``--nproc-per-node``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from captum_nas.cli import InternalError, UsageError, is_user_error
from captum_nas.cli._common import int_at_least

__all__ = ["add_distributed_arguments", "relaunch", "run_in_job", "start_job", "strip_option"]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def add_distributed_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    """Add ``--distributed N``, ``--resume`` and ``--dist-timeout`` to a subcommand.

    Args:
        parser: the subcommand's parser.
        what: what ``--resume`` keeps (for the help text).
    """
    group = parser.add_argument_group(
        "scale-out (torchrun -m captum_nas.cli ... runs one process per rank)"
    )
    group.add_argument(
        "--distributed",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="run N processes on this machine (torchrun --standalone --nproc_per_node=N)",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help=f"keep {what} of an earlier run with the same settings in --out; redo the rest",
    )
    group.add_argument(
        "--dist-timeout",
        type=_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="deadline of every wait between processes",
    )


def strip_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value (``--opt V`` or ``--opt=V``).

    Example:
        >>> strip_option(["evaluate", "--distributed", "2", "--quiet"], "--distributed")
        ['evaluate', '--quiet']
    """
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == option:
            skip = True
            continue
        if arg.startswith(option + "="):
            continue
        out.append(arg)
    return out


def relaunch(args: argparse.Namespace) -> int:
    """Run this command again under torchrun with ``args.distributed`` processes.

    Returns:
        torchrun's exit status (non-zero when any rank failed).
    """
    from captum_nas.evaluation.distributed import launch_env

    if launch_env().distributed:
        raise UsageError("--distributed starts torchrun itself; do not give it under torchrun")
    argv: list[str] | None = getattr(args, "argv", None)
    if argv is None:
        raise UsageError("--distributed needs the command line (run captum-nas from a shell)")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={args.distributed}",
        "-m",
        "captum_nas.cli",
        *strip_option(argv, "--distributed"),
    ]
    return subprocess.run(command, check=False).returncode


def start_job(args: argparse.Namespace) -> Any:
    """The :class:`~captum_nas.evaluation.distributed.Job` of this process, on
    ``args.device`` (``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun); sets
    ``args.device`` to the rank's device."""
    from captum_nas.evaluation.distributed import Job

    try:
        job = Job.start(args.device, timeout_s=args.dist_timeout)
    except RuntimeError as err:
        raise UsageError(f"cannot join the torchrun job: {err}") from None
    args.device = job.device
    return job


def run_in_job(args: argparse.Namespace, body: Callable[[argparse.Namespace, Any], int]) -> int:
    """Run a subcommand's ``body(args, job)`` as this process's part of the job.

    ``--distributed N`` relaunches under torchrun instead. Under torchrun, an error of
    this rank is published to the others (they stop with it) and its message names the
    rank; the error of another rank becomes this rank's one-line error.

    Returns:
        ``body``'s exit status (rank 0 reports; the others return 0 when all went well).
    """
    from captum_nas.evaluation.distributed import DistributedJobError

    if args.distributed:
        return relaunch(args)
    with start_job(args) as job:
        try:
            return body(args, job)
        except DistributedJobError as err:
            raise UsageError(str(err)) from None
        except Exception as err:
            if job.world_size == 1 or str(err).startswith(f"rank {job.rank}:"):
                raise
            job.fail(err)  # the others learn the original error
            if is_user_error(err):
                raise UsageError(f"rank {job.rank}: {err}") from None
            raise InternalError(f"rank {job.rank}: {type(err).__name__}: {err}") from err
