"""A registry of evaluation data sets, shared by ``captum-nas evaluate`` and the benchmarks.

A :class:`DatasetSpec` names a data set with ground truth, says how to iterate it as
:class:`~captum_nas.evaluation.data.EvalBatch` es and which model it is meant for
(``flowers-double`` goes with the reference model trained on it). One
:func:`register_dataset` entry makes a new data set available everywhere.

Example:
    >>> spec = get_dataset("flowers")
    >>> batch = next(spec.batches(n=4, batch_size=4, seed=0, image_size=64))
    >>> batch.images.shape, spec.default_model
    (torch.Size([4, 3, 64, 64]), 'reference')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from captum_nas._validation import lookup_name
from captum_nas.datasets.photos import photo_batches
from captum_nas.evaluation.data import EvalBatch, flowers_batches

__all__ = ["DatasetSpec", "dataset_names", "get_dataset", "register_dataset"]


@dataclass(frozen=True)
class DatasetSpec:
    """How to read one evaluation data set.

    Attributes:
        name: lower-case name (``"flowers"``, ``"flowers-double"``, ``"folder"``).
        batches: ``batches(*, n, batch_size, seed, image_size=None, normalizer=None,
            **options)`` -> iterator of :class:`EvalBatch`. ``image_size`` ``None`` is
            the data set's own size; ``normalizer`` ``None`` its default normaliser;
            data-set specific ``options`` (e.g. ``root=`` for ``folder``).
        default_model: the model it is meant for (``--model`` default of ``evaluate``).
        summary: one line for ``--help``.
        aliases: other accepted names.
    """

    name: str
    batches: Callable[..., Iterator[EvalBatch]]
    default_model: str
    summary: str = ""
    aliases: tuple[str, ...] = ()


_DATASETS: dict[str, DatasetSpec] = {}
_LOOKUP: dict[str, str] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a data set to the registry.

    Raises:
        TypeError: ``spec`` is not a :class:`DatasetSpec`.
        ValueError: the name or an alias is already registered, or is not lower-case.
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"`spec` must be a DatasetSpec, got {type(spec).__name__}")
    if not spec.name or spec.name != spec.name.strip().lower():
        raise ValueError(f"data set name must be non-empty and lower-case, got {spec.name!r}")
    keys = [spec.name, *(a.lower() for a in spec.aliases)]
    for key in keys:
        if key in _LOOKUP:
            raise ValueError(f"data set name {key!r} is already registered (by {_LOOKUP[key]!r})")
    if len(set(keys)) != len(keys):
        raise ValueError(f"data set {spec.name!r}: its aliases repeat a name")
    _DATASETS[spec.name] = spec
    for key in keys:
        _LOOKUP[key] = spec.name
    return spec


def get_dataset(name: str) -> DatasetSpec:
    """The data set registered as ``name`` or an alias (case-insensitive).

    Raises:
        ValueError: unknown name; the message suggests close names.
    """
    spec: DatasetSpec = lookup_name("data set", name, _DATASETS, _LOOKUP)
    return spec


def dataset_names() -> tuple[str, ...]:
    """The registered data set names, in registration order."""
    return tuple(_DATASETS)


def _folder(
    *,
    n: int,
    batch_size: int,
    seed: int = 0,
    image_size: int | None = None,
    normalizer: Any = None,
    root: str,
    **options: Any,
) -> Iterator[EvalBatch]:
    from captum_nas.evaluation.data import FolderData
    from captum_nas.images import IMAGENET_NORMALIZER

    data = FolderData(root, normalizer or IMAGENET_NORMALIZER, size=image_size or 224, **options)
    return data.batches(batch_size, n=n)


register_dataset(
    DatasetSpec(
        "flowers",
        partial(flowers_batches, "single"),
        "reference",
        summary="synthetic flowers, one flower per image (object and part masks)",
        aliases=("flowers-single",),
    )
)
register_dataset(
    DatasetSpec(
        "flowers-double",
        partial(flowers_batches, "double"),
        "reference-double",
        summary="synthetic flowers, class set by two parts (object and part masks)",
    )
)
register_dataset(
    DatasetSpec(
        "folder",
        _folder,
        "efficientnet-lite0",
        summary="your images with masks/ or boxes.csv (pass the folder path as --dataset)",
    )
)
register_dataset(
    DatasetSpec(
        "photos",
        photo_batches,
        "efficientnet-lite0",
        summary="real object photographs cut out onto real textures (exact masks and boxes)",
        aliases=("photo-composites",),
    )
)
