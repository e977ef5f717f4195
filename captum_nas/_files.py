"""Files written all or nothing: a temporary file next to the destination, then a rename.

One writer for the library and the command line: a reader never sees half a file, and
a run killed while writing leaves the earlier file whole.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` all or nothing: ``write(tmp)`` writes a temporary file next to it
    (same suffix, so writers that read the format from it work), renamed into place.

    Args:
        path: the destination; its folder must exist.
        write: writes one file at the path it is given.

    Returns:
        ``path``.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> write_atomic(folder / "a.txt", lambda p: p.write_text("hi")).read_text()
        'hi'
        >>> sorted(p.name for p in folder.iterdir())
        ['a.txt']
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
