"""Per-batch results on disk, written atomically as they finish, for ``--resume``.

A :class:`ShardStore` is a folder (``OUT/shards`` for ``captum-nas evaluate``) holding
``settings.json`` (everything that changes the numbers: data, model, methods,
segmenters, options) and one ``batch-NNNNNN.pt`` per finished batch with the per-image
records of :func:`~captum_nas.evaluation.runner.evaluate_batch`. Files are written to a
temporary name and renamed, so a killed run leaves whole files or none. A resumed run
with the same settings reads the finished batches back and computes only the missing
ones; different settings are an error (never a report mixing two configurations).
Any number of processes may write to one store (each batch has one owner).

Example:
    >>> import tempfile
    >>> records = [{"batch": 0, "position": 0, "label": 3, "results": {}}]  # evaluate_batch's
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = ShardStore(f"{tmp}/shards", {"methods": ["saliency"], "n": 8})
    ...     store.prepare(resume=True)
    ...     store.has(0) or store.save(0, records)
    ...     store.indices(), store.load(0) == records
    ([0], True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["ShardStore", "atomic_write_bytes", "atomic_write_text"]

SETTINGS_FILE = "settings.json"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (all or nothing)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _canonical(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as they read back from JSON (tuples become lists, keys strings)."""
    result: dict[str, Any] = json.loads(json.dumps(dict(settings), sort_keys=True, default=str))
    return result


class ShardStore:
    """Finished batches of one evaluation, stored per batch.

    Args:
        root: the folder (created when needed).
        settings: JSON-able description of everything that changes the results; a
            resumed run must have the same.

    Raises:
        TypeError: ``settings`` is not a mapping.
    """

    def __init__(self, root: str | Path, settings: Mapping[str, Any]) -> None:
        if not isinstance(settings, Mapping):
            raise TypeError(f"`settings` must be a mapping, got {type(settings).__name__}")
        self.root = Path(root)
        self.settings = _canonical(settings)

    def path(self, index: int) -> Path:
        """The file of batch ``index``."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"`index` must be an int >= 0, got {index!r}")
        return self.root / f"batch-{index:06d}.pt"

    def indices(self) -> list[int]:
        """The stored batches, ascending."""
        if not self.root.is_dir():
            return []
        found = []
        for p in self.root.glob("batch-*.pt"):
            stem = p.stem.removeprefix("batch-")
            if stem.isdigit():
                found.append(int(stem))
        return sorted(found)

    def prepare(self, *, resume: bool) -> None:
        """Make the store ready (once per job, on one process, before any batch).

        ``resume``: check that the stored settings equal this run's (a fresh folder is
        fine). Otherwise: delete stored batches of an earlier run and write the settings.

        Raises:
            ValueError: ``resume`` and the stored settings differ (the message lists
                the differing keys).
        """
        settings_path = self.root / SETTINGS_FILE
        if resume and settings_path.is_file():
            self.check()
            return
        if not resume and self.root.is_dir():
            for p in self.root.glob("batch-*.pt"):
                p.unlink()
            for p in self.root.glob(".batch-*.tmp"):
                p.unlink()
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(settings_path, json.dumps(self.settings, indent=2, sort_keys=True))

    def check(self) -> None:
        """Raise ``ValueError`` unless the stored settings equal this run's.

        Raises:
            ValueError: no settings stored, or different ones.
        """
        settings_path = self.root / SETTINGS_FILE
        if not settings_path.is_file():
            raise ValueError(f"{self.root} holds no {SETTINGS_FILE}: nothing to resume from")
        try:
            stored = json.loads(settings_path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{settings_path} is not valid JSON: {err}") from None
        if stored != self.settings:
            keys = sorted(
                k for k in set(stored) | set(self.settings) if stored.get(k) != self.settings.get(k)
            )
            details = "; ".join(
                f"{k}: stored {stored.get(k)!r}, now {self.settings.get(k)!r}" for k in keys[:5]
            )
            raise ValueError(
                f"cannot resume from {self.root}: it was made with other settings ({details}); "
                "rerun without --resume, or with another --out"
            )

    def has(self, index: int) -> bool:
        """Whether batch ``index`` is stored."""
        return self.path(index).is_file()

    def save(self, index: int, records: list[dict[str, Any]]) -> None:
        """Store the records of batch ``index`` (atomically)."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path(index)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        torch.save({"batch": index, "records": records}, tmp)
        os.replace(tmp, target)

    def load(self, index: int) -> list[dict[str, Any]]:
        """The records of batch ``index``.

        Raises:
            ValueError: the file is unreadable or holds another batch.
        """
        path = self.path(index)
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(
                f"cannot read stored batch {path}: {err}; delete it to redo that batch"
            ) from None
        if not isinstance(data, dict) or data.get("batch") != index:
            raise ValueError(f"{path} does not hold batch {index}; delete it to redo that batch")
        records: list[dict[str, Any]] = data["records"]
        return records
