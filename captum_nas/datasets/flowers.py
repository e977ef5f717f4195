"""Procedural flowers with ground truth: the class is the colour of one or two parts.

A synthetic data set in the spirit of an8Flower (Oramas et al., ICLR 2019; we generate
our own images, we do not ship theirs). Every image shows one flower (stem, one or two
leaves, petals, a centre) at a random position, scale, rotation and bend, with a random
number of petals of random shape, on a cluttered textured background (muted blobs,
twigs, gratings, a light ramp).

* ``"single"`` (6 classes): the class is the colour of the **petals**.
* ``"double"`` (12 classes): the class is the pair (colour of the **petals**, colour of
  the **leaves**), 4 x 3 colours; neither part alone decides it.

The deciding parts are painted in their class colour exactly (flat, no texture), so the
deciding part's mean colour is the class colour. Every other part gets a nuisance colour
from :data:`NUISANCE_PALETTE` (greens, browns, greys, cream, charcoal: saturated class
colours never occur there), and the background uses low-saturation colours and the
nuisance palette. All random quantities other than the label are drawn independently of
the label, so the class can be read only from the deciding parts: re-rendering a sample
with another label (``render_flowers(..., labels=...)``) changes only the deciding parts'
pixels.

Every sample comes with its label, the mask of the deciding part(s) (visible pixels),
the mask of the whole flower, their bounding boxes (x0, y0, x1, y1; x1 and y1
exclusive) and a map of part ids (:data:`PART_NAMES`). The whole flower always lies
inside the image.

Determinism: sample ``i`` of a split is a pure function of ``(seed, split, i)``, drawn
from a counter-based hash (no generator state), so random access, batch rendering and
any number of DataLoader workers give the same tensors (bit for bit on one device).
Train and test use different keys derived from the seed, so they are different images.

The module is the data-set API (:func:`render_flowers`, :class:`FlowersDataset`,
:class:`FlowerBatch`); the classes and colours live in
:mod:`captum_nas.datasets.flower_classes` (re-exported here) and the drawing in
:mod:`captum_nas.datasets._flower_render`.

Speed: a batch is rendered at once in torch (no loop over images). To measure it at
128x128 on your machine, see ``benchmarks`` or run::

    python -c "import time, torch; from captum_nas.datasets import render_flowers as r; \\
    r(256); t = time.perf_counter(); r(4096); print(4096 / (time.perf_counter() - t))"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from captum_nas._validation import check_choice, check_positive_int, check_seed, describe
from captum_nas.datasets import _draw as D
from captum_nas.datasets._flower_render import render_chunk
from captum_nas.datasets._random import derive_key

# the public names of flower_classes stay importable from here (the `X as X` re-exports)
from captum_nas.datasets.flower_classes import CLASS_COLOURS as CLASS_COLOURS
from captum_nas.datasets.flower_classes import (
    CLASS_NAMES,
    DECIDING_PARTS,
    FLOWERS_NORMALIZER,
    PART_ID,
    SPLITS,
    VARIANTS,
    n_classes,
)
from captum_nas.datasets.flower_classes import NUISANCE_PALETTE as NUISANCE_PALETTE
from captum_nas.datasets.flower_classes import PART_NAMES as PART_NAMES
from captum_nas.datasets.flower_classes import class_colours as class_colours
from captum_nas.datasets.flower_classes import denormalize as denormalize

_MIN_SIZE = 32
_MAX_INDEX = 2**32
_CHUNK_PIXELS = 64 * 128 * 128  # images rendered together: about 1M pixels (cache size)


@dataclass(frozen=True)
class FlowerBatch:
    """A rendered batch of flowers with its ground truth.

    Attributes:
        images: (N, 3, H, W) float32, normalised with :data:`FLOWERS_NORMALIZER` when
            ``normalized`` (see :func:`denormalize`), else in [0, 1].
        labels: (N,) int64 class ids (see :data:`CLASS_NAMES`).
        part_masks: (N, 1, H, W) bool, visible pixels of the deciding part(s).
        object_masks: (N, 1, H, W) bool, pixels of the whole flower.
        boxes: (N, 4) int64 flower boxes (x0, y0, x1, y1), x1 and y1 exclusive.
        part_boxes: (N, 4) int64 boxes of the deciding part(s), same convention.
        parts: (N, 1, H, W) uint8 part ids (see :data:`PART_NAMES`).
        indices: (N,) int64 sample indices within the split.
        normalized: whether ``images`` are normalised.
    """

    images: Tensor
    labels: Tensor
    part_masks: Tensor
    object_masks: Tensor
    boxes: Tensor
    part_boxes: Tensor
    parts: Tensor
    indices: Tensor
    normalized: bool

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def sample(self, i: int) -> dict[str, Tensor]:
        """Sample ``i`` as the dict :class:`FlowersDataset` returns."""
        return {
            "image": self.images[i],
            "label": self.labels[i],
            "part_mask": self.part_masks[i],
            "object_mask": self.object_masks[i],
            "box": self.boxes[i],
            "part_box": self.part_boxes[i],
            "parts": self.parts[i],
            "index": self.indices[i],
        }

    def to(self, device: torch.device | str) -> FlowerBatch:
        """The batch with every tensor moved to ``device``."""
        values: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            values[f.name] = v.to(device) if isinstance(v, Tensor) else v
        return FlowerBatch(**values)


def _check_image_size(image_size: Any) -> tuple[int, int]:
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise ValueError(f"`image_size` must be an int or (height, width), got {image_size!r}")
        h = check_positive_int(image_size[0], "image_size[0]", minimum=_MIN_SIZE)
        w = check_positive_int(image_size[1], "image_size[1]", minimum=_MIN_SIZE)
        return h, w
    s = check_positive_int(image_size, "image_size", minimum=_MIN_SIZE)
    return s, s


def _check_indices(indices: Any) -> Tensor:
    if isinstance(indices, bool):
        raise TypeError(
            f"`indices` must be an int, a sequence of ints or a tensor, got {indices!r}"
        )
    if isinstance(indices, int):
        n = check_positive_int(indices, "indices")
        return torch.arange(n, dtype=torch.int64)
    if isinstance(indices, Tensor):
        if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
            raise TypeError(f"`indices` must be an integer tensor, got {describe(indices)}")
        idx = indices.detach().to("cpu", torch.int64)
    elif isinstance(indices, Sequence) and not isinstance(indices, str):
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"`indices` must contain ints, got {describe(i)}")
        idx = torch.tensor(list(indices), dtype=torch.int64)
    else:
        raise TypeError(
            f"`indices` must be an int, a sequence of ints or a tensor, got {describe(indices)}"
        )
    if idx.dim() != 1 or idx.numel() == 0:
        raise ValueError(f"`indices` must be a non-empty 1-D list, got shape {tuple(idx.shape)}")
    if int(idx.min()) < 0 or int(idx.max()) >= _MAX_INDEX:
        raise ValueError(
            f"`indices` must lie in [0, 2**32), got values in [{int(idx.min())}, {int(idx.max())}]"
        )
    return idx


def render_flowers(
    indices: int | Sequence[int] | Tensor,
    *,
    variant: str = "single",
    split: str = "train",
    image_size: int | tuple[int, int] = 128,
    seed: int = 0,
    normalize: bool = True,
    labels: Sequence[int] | Tensor | None = None,
    device: torch.device | str | None = None,
) -> FlowerBatch:
    """Render flowers ``indices`` of a split in one batched call.

    Args:
        indices: sample indices (a sequence or 1-D integer tensor, values in [0, 2**32)),
            or an int ``n`` for indices ``0..n-1``.
        variant: ``"single"`` (6 classes, petal colour) or ``"double"`` (12 classes,
            petal and leaf colours).
        split: ``"train"`` or ``"test"``.
        image_size: side of square images, or (height, width); at least 32.
        seed: non-negative int; with ``split`` and the index it determines the sample.
        normalize: return images normalised with :data:`FLOWERS_NORMALIZER`.
        labels: optional class ids (N,) overriding the drawn labels: everything but the
            colour of the deciding part(s) stays the same.
        device: where to render (default CPU).

    Returns:
        A :class:`FlowerBatch`.

    Example:
        >>> batch = render_flowers(8, variant="single", split="test", seed=0)
        >>> batch.images.shape, batch.labels.shape, batch.part_masks.shape
        (torch.Size([8, 3, 128, 128]), torch.Size([8]), torch.Size([8, 1, 128, 128]))
    """
    check_choice(variant, "variant", VARIANTS)
    check_choice(split, "split", SPLITS)
    height, width = _check_image_size(image_size)
    seed = check_seed(seed)
    if not isinstance(normalize, bool):
        raise TypeError(f"`normalize` must be a bool, got {describe(normalize)}")
    idx = _check_indices(indices)
    dev = torch.device("cpu") if device is None else torch.device(device)
    label_override: Tensor | None = None
    if labels is not None:
        label_override = torch.as_tensor(labels).to(device=dev)
        n_cls = n_classes(variant)
        if label_override.is_floating_point() or label_override.dtype == torch.bool:
            raise TypeError(f"`labels` must be integers, got {describe(label_override)}")
        if label_override.shape != idx.shape:
            raise ValueError(
                f"`labels` must have shape {tuple(idx.shape)} (one per index), got "
                f"{tuple(label_override.shape)}"
            )
        if int(label_override.min()) < 0 or int(label_override.max()) >= n_cls:
            raise ValueError(f"`labels` must lie in [0, {n_cls}) for variant {variant!r}")
        label_override = label_override.long()
    key = derive_key(seed, SPLITS.index(split) + 1)

    n = idx.shape[0]
    image_t = torch.empty((n, 3, height, width), device=dev)
    parts_f = torch.empty((n, 1, height, width), device=dev)
    label_t = torch.empty((n,), dtype=torch.int64, device=dev)
    chunk = max(1, _CHUNK_PIXELS // (height * width))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        im, lab, par = render_chunk(
            idx[start:stop],
            None if label_override is None else label_override[start:stop],
            variant=variant,
            key=key,
            height=height,
            width=width,
            device=dev,
        )
        image_t[start:stop], label_t[start:stop], parts_f[start:stop, 0] = im, lab, par
    deciding = torch.zeros_like(parts_f)
    for part, _ in DECIDING_PARTS[variant]:
        is_part = torch.eq(parts_f, float(PART_ID[part]), out=torch.empty_like(parts_f))
        deciding = torch.maximum(deciding, is_part)
    part_mask, object_mask = deciding.bool(), parts_f.bool()
    if normalize:
        image_t = FLOWERS_NORMALIZER(image_t)
    return FlowerBatch(
        images=image_t,
        labels=label_t,
        part_masks=part_mask,
        object_masks=object_mask,
        boxes=D.boxes_from_masks(object_mask),
        part_boxes=D.boxes_from_masks(part_mask),
        parts=parts_f.to(torch.uint8),
        indices=idx.to(dev),
        normalized=normalize,
    )


class FlowersDataset(Dataset[dict[str, Tensor]]):
    """Map-style dataset of procedural flowers, rendered on the fly.

    Items are dicts with ``image`` (3, H, W) float32 (normalised with
    :data:`FLOWERS_NORMALIZER` when ``normalize``; see :func:`denormalize`), ``label``
    (int64 scalar), ``part_mask`` and ``object_mask`` (1, H, W) bool, ``box`` and
    ``part_box`` (4,) int64 (x0, y0, x1, y1, ends exclusive), ``parts`` (1, H, W) uint8
    part ids and ``index``. The default collate function stacks them. ``__getitems__``
    renders a whole DataLoader batch in one call.

    Args:
        variant: ``"single"`` (6 classes) or ``"double"`` (12 classes).
        split: ``"train"`` or ``"test"`` (different images for the same seed).
        size: number of samples.
        image_size: side of square images or (height, width), at least 32.
        seed: non-negative int.
        normalize: normalise the images.

    Example:
        >>> ds = FlowersDataset("single", "test", size=100)
        >>> ds[0]["image"].shape, CLASS_NAMES["single"][int(ds[0]["label"])]  # doctest: +SKIP
        (torch.Size([3, 128, 128]), 'yellow-petals')
    """

    def __init__(
        self,
        variant: str = "single",
        split: str = "train",
        *,
        size: int = 1000,
        image_size: int | tuple[int, int] = 128,
        seed: int = 0,
        normalize: bool = True,
    ) -> None:
        self.variant = check_choice(variant, "variant", VARIANTS)
        self.split = check_choice(split, "split", SPLITS)
        self.size = check_positive_int(size, "size")
        if self.size > _MAX_INDEX:
            raise ValueError(f"`size` must be at most 2**32, got {size}")
        self.image_size = _check_image_size(image_size)
        self.seed = check_seed(seed)
        if not isinstance(normalize, bool):
            raise TypeError(f"`normalize` must be a bool, got {describe(normalize)}")
        self.normalize = normalize
        self.class_names = CLASS_NAMES[self.variant]

    def __len__(self) -> int:
        return self.size

    def _index(self, i: Any) -> int:
        if isinstance(i, Tensor) and i.numel() == 1 and not i.is_floating_point():
            i = int(i)
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"index must be an int, got {describe(i)}")
        j = i + self.size if i < 0 else i
        if not 0 <= j < self.size:
            raise IndexError(f"index {i} out of range for a dataset of size {self.size}")
        return j

    def render(self, indices: Sequence[int]) -> FlowerBatch:
        """Render several items in one call (indices within ``range(len(self))``)."""
        idx = [self._index(i) for i in indices]
        return render_flowers(
            idx,
            variant=self.variant,
            split=self.split,
            image_size=self.image_size,
            seed=self.seed,
            normalize=self.normalize,
        )

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.render([i]).sample(0)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Tensor]]:
        batch = self.render(indices)
        return [batch.sample(k) for k in range(len(batch))]
