"""Constants and type aliases shared across the package, each defined once.

Modules import these names instead of spelling out their own copy, so that a new
pooling reduction, interpolation mode or image suffix is added in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import torch
from torch import Tensor

#: Floating dtypes accepted for images, maps and attributions.
FLOAT_DTYPES: tuple[torch.dtype, ...] = (
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
)

#: Reductions of the values inside a segment (``segment_pool(reduce=...)``).
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "max", "min", "median", "abs-mean", "l2")

#: Channel reductions applied before pooling (``segment_pool(channel_reduce=...)``).
CHANNEL_REDUCTIONS: tuple[str, ...] = ("none", "sum", "abs-sum", "mean")

#: ``torch.nn.functional.interpolate`` modes used to bring a map to the mask size.
INTERPOLATE_MODES: tuple[str, ...] = ("bilinear", "nearest", "bicubic", "area")

#: File suffixes (lower case) read as images from a folder.
IMAGE_SUFFIXES: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".gif",
)

#: A threshold argument: one number, a sequence of numbers or a 1-D tensor.
ThresholdsLike: TypeAlias = float | Sequence[float] | Tensor

#: A class target as the metrics accept it: an int, one int per image, or None.
#: Named apart from Captum's own ``TargetType`` (which also allows tuples for
#: multi-dimensional outputs).
ClassTarget: TypeAlias = int | Sequence[int] | Tensor | None


@runtime_checkable
class Segmenter(Protocol):
    """Callable turning a batch (N, C, H, W) into segment ids (N, 1, H, W)."""

    def __call__(self, inputs: Tensor) -> Tensor:  # pragma: no cover - protocol
        ...


#: A segmenter as a plain callable type (what :class:`Segmenter` describes).
SegmenterFn: TypeAlias = Callable[[Tensor], Tensor]

__all__ = [
    "CHANNEL_REDUCTIONS",
    "FLOAT_DTYPES",
    "IMAGE_SUFFIXES",
    "INTERPOLATE_MODES",
    "REDUCTIONS",
    "ClassTarget",
    "Segmenter",
    "SegmenterFn",
    "ThresholdsLike",
]
