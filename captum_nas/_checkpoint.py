"""Reading files written with ``torch.save``: the one place that calls ``torch.load``
on a user's path, so every reader says the same things about a missing or unreadable
file and unpickles only tensors and plain containers (``weights_only=True``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def read_torch_file(path: str | Path, kind: str) -> Any:
    """Load ``path`` onto the CPU with ``torch.load(..., weights_only=True)``.

    Args:
        path: the file.
        kind: what the file should hold, with its article, for the error messages
            (e.g. ``"a selector"``).

    Returns:
        What ``torch.load`` returned.

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``torch.load`` failed (not a ``torch.save`` file, or one holding
            objects other than tensors and plain containers); the message gives the
            first line of its error.

    Example:
        >>> read_torch_file("missing.pt", "a selector")
        Traceback (most recent call last):
        ...
        FileNotFoundError: file not found: missing.pt (expected a selector)
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"file not found: {p} (expected {kind})")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:
        text = str(err).strip()
        first = text.splitlines()[0] if text else type(err).__name__
        raise ValueError(f"cannot read {p} as {kind}: {first}") from err


def read_checkpoint(path: str | Path, kind: str) -> dict[str, Any]:
    """A checkpoint dict with ``state_dict`` and ``metadata`` entries (see :func:`read_torch_file`).

    Args:
        path: the file.
        kind: the kind of checkpoint with its article, e.g. ``"a reference checkpoint"``.

    Returns:
        The loaded dict.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is unreadable or lacks ``state_dict`` or ``metadata``.
    """
    checkpoint = read_torch_file(path, kind)
    if not isinstance(checkpoint, dict) or not {"state_dict", "metadata"} <= checkpoint.keys():
        raise ValueError(f"{path} is not {kind} (no state_dict and metadata)")
    return checkpoint
