"""Where the subcommands write: one ``--out`` / ``--overwrite`` pair, one check, one writer.

Every file a ``captum-nas`` command writes goes through :func:`write_atomic` (or
:func:`staged_folder` for a library function that writes several files): it is written
under a temporary name in the destination folder and renamed into place with
:func:`os.replace`, so a reader never sees half a file and a killed run leaves the
earlier file whole. Before any work starts, :func:`check_output_file` and
:func:`check_output_folder` refuse an output that exists (unless ``--overwrite``), a
path that is a file where a folder is needed (or lies under a file), and a folder that
cannot be written, each with one line naming the option.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from captum_nas._files import write_atomic
from captum_nas.cli import UsageError

__all__ = [
    "add_output_arguments",
    "check_output_file",
    "check_output_folder",
    "staged_folder",
    "write_atomic",
]

OVERWRITE_HELP = "replace output files of an earlier run (default: refuse and stop)"


def add_output_arguments(
    parser: argparse.ArgumentParser,
    *,
    help: str,
    default: Path | None = None,
    required: bool = False,
) -> None:
    """Add ``--out PATH`` and the shared ``--overwrite`` flag to a subcommand.

    Args:
        parser: the subcommand's parser.
        help: what ``--out`` is (a file or a folder, and its default).
        default: the default path (``None``: computed by the subcommand, or required).
        required: whether ``--out`` must be given.
    """
    parser.add_argument("--out", type=Path, default=default, required=required, help=help)
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def _ensure_folder(folder: Path, option: str, shown: Path) -> None:
    """Create ``folder`` (and its parents) and check that a file can be written in it."""
    for ancestor in (folder, *folder.parents):
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                where = "is a file" if ancestor == shown else f"lies under the file {ancestor}"
                raise UsageError(f"{option} {shown} {where}; give a path in a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UsageError(f"{option} {shown}: cannot write in {folder} ({reason})") from None


def check_output_file(path: str | Path, option: str = "--out", *, overwrite: bool) -> Path:
    """Check that the file ``path`` may be written; create its folder.

    Args:
        path: the file the command will write.
        option: the option that named it, for the messages.
        overwrite: whether an existing file may be replaced.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        UsageError: ``path`` is a folder, lies under a file, sits in a folder that cannot
            be written, or exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file path")
    _ensure_folder(path.parent, option, path)
    if path.exists() and not overwrite:
        raise UsageError(f"{option} {path} exists; pass --overwrite to replace it")
    return path


def check_output_folder(
    folder: str | Path,
    option: str = "--out",
    *,
    names: Iterable[str],
    overwrite: bool,
    resume: bool = False,
) -> Path:
    """Check that the files ``names`` may be written in ``folder``; create it.

    Args:
        folder: the output folder.
        option: the option that named it, for the messages.
        names: the files (relative paths) the command will write there.
        overwrite: whether existing ones may be replaced.
        resume: the command continues an earlier run in ``folder`` (``--resume``): its
            files are expected there.

    Returns:
        ``folder`` as a :class:`~pathlib.Path`.

    Raises:
        UsageError: ``folder`` is a file or lies under one, cannot be written, or holds
            one of ``names`` while neither ``overwrite`` nor ``resume`` is set.
    """
    folder = Path(folder)
    _ensure_folder(folder, option, folder)
    if overwrite or resume:
        return folder
    existing = [name for name in names if (folder / name).exists()]
    if existing:
        shown = ", ".join(existing[:3]) + (
            f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        )
        raise UsageError(
            f"{option} {folder} already holds output of an earlier run ({shown}); pass "
            "--overwrite to replace it, --resume to continue it, or another --out"
        )
    return folder


@contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """A temporary folder inside ``folder`` for a writer of several files; on success
    each file is moved into ``folder`` with :func:`os.replace`; the temporary folder is
    removed in any case.

    Example:
        >>> folder = Path(tempfile.mkdtemp())
        >>> with staged_folder(folder) as tmp:
        ...     _ = (tmp / "r.md").write_text("x")
        >>> sorted(p.name for p in folder.iterdir())
        ['r.md']
    """
    folder = Path(folder)
    tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        yield tmp
        for item in sorted(tmp.iterdir()):
            os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
