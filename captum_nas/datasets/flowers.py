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

Speed: a batch is rendered at once in torch (no loop over images). Measured on 2 CPU
cores, 128x128: see ``benchmarks`` or run::

    python -c "import time, torch; from captum_nas.datasets import render_flowers as r; \\
    r(256); t = time.perf_counter(); r(4096); print(4096 / (time.perf_counter() - t))"
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from captum_nas._validation import check_choice, check_positive_int, check_tensor, describe
from captum_nas.datasets import _draw as D
from captum_nas.datasets._random import derive_key, uniform
from captum_nas.images import Normalizer

VARIANTS = ("single", "double")
SPLITS = ("train", "test")

#: Part ids of :attr:`FlowerBatch.parts` (0 is the background).
PART_NAMES = ("background", "stem", "leaves", "petals", "centre")
_PART_ID = {name: i for i, name in enumerate(PART_NAMES)}

#: Class colours (RGB in [0, 1]): saturated, far from every nuisance colour.
CLASS_COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.08, 0.10),
    "orange": (1.00, 0.50, 0.00),
    "yellow": (1.00, 0.88, 0.05),
    "blue": (0.10, 0.25, 0.95),
    "purple": (0.55, 0.10, 0.80),
    "pink": (1.00, 0.45, 0.78),
    "cyan": (0.05, 0.85, 0.95),
}

#: Colours of the parts that do not decide the class (before a +-0.05 jitter).
NUISANCE_PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.20, 0.55, 0.15),  # leaf green
    (0.45, 0.72, 0.25),  # light green
    (0.08, 0.32, 0.12),  # dark green
    (0.42, 0.45, 0.12),  # olive
    (0.42, 0.26, 0.12),  # brown
    (0.25, 0.15, 0.08),  # dark brown
    (0.50, 0.50, 0.50),  # grey
    (0.90, 0.88, 0.78),  # cream
    (0.15, 0.15, 0.15),  # charcoal
    (0.55, 0.62, 0.50),  # sage
)

#: For each variant, the deciding parts and the colour names each can take. The label
#: is the mixed-radix number of the colour indices (first part most significant).
DECIDING_PARTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "single": (("petals", ("red", "orange", "yellow", "blue", "purple", "pink")),),
    "double": (
        ("petals", ("red", "yellow", "blue", "purple")),
        ("leaves", ("orange", "pink", "cyan")),
    ),
}


def _class_names(variant: str) -> tuple[str, ...]:
    names = [""]
    for part, colours in DECIDING_PARTS[variant]:
        names = [f"{n}+{c}-{part}" if n else f"{c}-{part}" for n in names for c in colours]
    return tuple(names)


#: Class names per variant, in label order, e.g. ``CLASS_NAMES["single"][0] == "red-petals"``.
CLASS_NAMES: dict[str, tuple[str, ...]] = {v: _class_names(v) for v in VARIANTS}

#: Per-channel mean and std of the rendered images (measured on 2048 training images
#: at 128x128); ``render_flowers(normalize=True)`` returns ``(image - mean) / std``.
FLOWERS_NORMALIZER = Normalizer((0.445, 0.440, 0.430), (0.172, 0.163, 0.175))

_MIN_SIZE = 32
_MAX_INDEX = 2**32
_CHUNK_PIXELS = 64 * 128 * 128  # images rendered together: about 1M pixels (cache size)
_N_ELLIPSES = 10
_N_BARS = 4
_N_GRATINGS = 3
_N_STREAMS = 256


def n_classes(variant: str) -> int:
    """Number of classes of ``variant`` (6 for ``"single"``, 12 for ``"double"``)."""
    return len(CLASS_NAMES[check_choice(variant, "variant", VARIANTS)])


def class_colours(variant: str) -> Tensor:
    """Colours of the deciding parts per class: float tensor (n_classes, n_parts, 3).

    Example:
        >>> class_colours("single")[0, 0]  # red petals
        tensor([0.8600, 0.0800, 0.1000])
    """
    check_choice(variant, "variant", VARIANTS)
    spec = DECIDING_PARTS[variant]
    sizes = [len(colours) for _, colours in spec]
    rows = []
    for label in range(math.prod(sizes)):
        digits, rest = [], label
        for size in reversed(sizes):
            digits.append(rest % size)
            rest //= size
        digits.reverse()
        rows.append([CLASS_COLOURS[spec[j][1][d]] for j, d in enumerate(digits)])
    return torch.tensor(rows, dtype=torch.float32)


def denormalize(inputs: Tensor) -> Tensor:
    """Images in [0, 1] from inputs normalised with :data:`FLOWERS_NORMALIZER`.

    Args:
        inputs: (..., 3, H, W) normalised images.

    Returns:
        Tensor of the same shape, clamped to [0, 1].
    """
    return FLOWERS_NORMALIZER.inverse(check_tensor(inputs, "inputs"))


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


class _Draws:
    """Hands out the columns of a (N, n_streams) table of uniforms in a fixed order."""

    def __init__(self, table: Tensor) -> None:
        self.table = table
        self.used = 0

    def __call__(self) -> Tensor:
        if self.used >= self.table.shape[1]:
            raise RuntimeError("not enough random streams; raise _N_STREAMS")
        column = self.table[:, self.used]
        self.used += 1
        return column


def _check_image_size(image_size: Any) -> tuple[int, int]:
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise ValueError(f"`image_size` must be an int or (height, width), got {image_size!r}")
        h = check_positive_int(image_size[0], "image_size[0]", minimum=_MIN_SIZE)
        w = check_positive_int(image_size[1], "image_size[1]", minimum=_MIN_SIZE)
        return h, w
    s = check_positive_int(image_size, "image_size", minimum=_MIN_SIZE)
    return s, s


def _check_seed(seed: Any) -> int:
    return check_positive_int(seed, "seed", minimum=0)


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


def _palette_colour(draws: _Draws, device: torch.device) -> Tensor:
    """A nuisance colour per image (N, 3): a palette entry plus a +-0.05 jitter."""
    palette = torch.tensor(NUISANCE_PALETTE, device=device)
    pick = (draws() * len(NUISANCE_PALETTE)).long().clamp_max(len(NUISANCE_PALETTE) - 1)
    jitter = torch.stack([draws(), draws(), draws()], dim=1) * 0.1 - 0.05
    return (palette[pick] + jitter).clamp(0.0, 1.0)


def _muted_colour(draws: _Draws) -> Tensor:
    """A low-saturation colour per image (N, 3)."""
    hue, sat, val = draws(), D.lerp(0.0, 0.35, draws()), D.lerp(0.25, 0.72, draws())
    return D.hsv_to_rgb(hue, sat, val)


def _draw_flower(draws: _Draws, xs: Tensor, ys: Tensor, height: int, width: int) -> Tensor:
    """Part ids (N, H, W) as float32 (0 background, see :data:`PART_NAMES`), one flower each."""
    scale = float(min(height, width))
    radius = D.lerp(0.13, 0.19, draws()) * scale
    length = D.lerp(1.6, 2.2, draws()) * radius
    theta = D.lerp(-math.pi / 3, math.pi / 3, draws())
    bend = D.lerp(-0.08, 0.08, draws())
    stem_width = torch.clamp(D.lerp(0.022, 0.035, draws()) * scale, min=1.5)
    # the flower lies within `reach` of the stem's midpoint, so it fits in the image
    reach = 0.5 * length + radius + bend.abs() * length + stem_width + 1.0
    mid_x = reach + (width - 2.0 * reach) * draws()
    mid_y = reach + (height - 2.0 * reach) * draws()
    ct, st = D.cos_sin(theta)  # stem direction (st, ct): theta = 0 points down
    head_x, head_y = mid_x - 0.5 * length * st, mid_y - 0.5 * length * ct
    dx, dy = xs - D.col(head_x), ys - D.col(head_y)
    along = dx * D.col(st) + dy * D.col(ct)
    across = dx * D.col(ct) - dy * D.col(st)
    r2 = dx * dx + dy * dy

    # stem: a band around the parabola across = curve * along^2, 0 <= along <= length
    curve = bend / length
    off = (across - (along * D.col(curve)) * along) * D.col(2.0 / stem_width)
    span = (along - D.col(0.5 * length)) * D.col(2.0 / length)
    stem = D.le(torch.maximum(off * off, span * span), 1.0)

    # leaves: lens shapes attached to the stem, pointing up and out
    first_side = torch.where(draws() < 0.5, -1.0, 1.0)
    second = (draws() < 0.6).to(torch.float32)
    leaves = torch.zeros_like(stem)
    for slot in range(2):
        base = radius * 1.1 + (length - 1.4 * radius) * draws()
        angle = D.lerp(math.radians(35), math.radians(70), draws())
        leaf_len = D.lerp(0.7, 1.0, draws()) * radius
        half_width = D.lerp(0.25, 0.35, draws()) * leaf_len
        side = first_side if slot == 0 else -first_side
        ca, sa = D.cos_sin(angle)
        # leaf axis in image coordinates: -cos(a) * stem direction + side * sin(a) * across
        axis_x = -ca * st + side * sa * ct
        axis_y = -ca * ct - side * sa * st
        base_across = curve * base * base
        bx = dx - D.col(base * st + base_across * ct)
        by = dy - D.col(base * ct - base_across * st)
        # t in [0, 1] along the leaf, |b| <= 4 t (1 - t) across it (b scaled by half_width)
        t = bx * D.col(axis_x / leaf_len) + by * D.col(axis_y / leaf_len)
        b = by * D.col(axis_x / (4.0 * half_width)) - bx * D.col(axis_y / (4.0 * half_width))
        leaf = D.le(b.abs(), t * (1.0 - t))
        if slot == 1:
            leaf = leaf * D.col(second)
        leaves = torch.maximum(leaves, leaf)

    # head: petals r <= R f(phi) with k lobes, a centre disc on top
    n_petals = (5 + draws() * 4).long().clamp_max(8)
    cp, sp = D.cos_sin(draws() * (2.0 * math.pi))
    inner = D.lerp(0.45, 0.65, draws())
    roundness = draws()
    centre_radius = D.lerp(0.25, 0.40, draws()) * radius
    r = torch.sqrt(r2).clamp_min_(1e-6)
    cos_k = D.chebyshev_cos((dx * D.col(cp) + dy * D.col(sp)) / r, n_petals, range(5, 9))
    lobe = (cos_k + 1.0) * 0.5
    lobe = torch.sqrt(lobe) * D.col(roundness) + lobe * D.col(1.0 - roundness)
    head = D.le(r, (lobe * D.col(1.0 - inner) + D.col(inner)) * D.col(radius))
    centre = D.le(r2, D.col(centre_radius * centre_radius))

    # painter's order = increasing part id, so the visible part is the largest id
    parts = torch.maximum(stem, leaves.mul_(float(_PART_ID["leaves"])))
    parts = torch.maximum(parts, head.mul_(float(_PART_ID["petals"])))
    return torch.maximum(parts, centre.mul_(float(_PART_ID["centre"])))


def _draw_background(
    draws: _Draws, xs: Tensor, ys: Tensor, height: int, width: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Layer ids (N, H, W) float32, layer colours (N, L, 3) and texture gain (N, H, W)."""
    n = draws.table.shape[0]
    device = xs.device
    scale = float(min(height, width))
    colours = [_muted_colour(draws)]
    layer = torch.zeros((n, height, width), dtype=torch.float32, device=device)
    n_blobs = (D.lerp(4.0, _N_ELLIPSES + 1.0, draws())).long()
    for j in range(_N_ELLIPSES):
        cx, cy = draws() * width, draws() * height
        cx = torch.where(n_blobs > j, cx, -1e6)  # absent blobs are drawn far away
        semi_major = D.lerp(0.04, 0.16, draws()) * scale
        semi_minor = D.lerp(0.3, 1.0, draws()) * semi_major
        c, s = D.cos_sin(draws() * math.pi)
        use_palette = draws() < 0.3
        muted, nuisance = _muted_colour(draws), _palette_colour(draws, device)
        colours.append(torch.where(use_palette[:, None], nuisance, muted))
        blob = D.ellipse(xs - D.col(cx), ys - D.col(cy), semi_major, semi_minor, c, s)
        layer = torch.maximum(layer, blob.mul_(float(len(colours) - 1)))
    for _ in range(_N_BARS):
        cx, cy = draws() * width, draws() * height
        half_length = D.lerp(0.05, 0.2, draws()) * scale
        half_width = torch.clamp(D.lerp(0.006, 0.015, draws()) * scale, min=0.75)
        c, s = D.cos_sin(draws() * math.pi)
        colours.append(_palette_colour(draws, device))
        twig = D.bar(xs - D.col(cx), ys - D.col(cy), half_length, half_width, c, s)
        layer = torch.maximum(layer, twig.mul_(float(len(colours) - 1)))

    # texture gain: a light ramp plus gratings
    c, s = D.cos_sin(draws() * (2.0 * math.pi))
    ramp = D.lerp(0.0, 0.5, draws()) / scale
    gain = (xs - 0.5 * width) * D.col(ramp * c) + ((ys - 0.5 * height) * D.col(ramp * s) + 1.0)
    for _ in range(_N_GRATINGS):
        freq = D.lerp(3.0, 25.0, draws()) * (2.0 * math.pi / scale)
        c, s = D.cos_sin(draws() * math.pi)
        phase = draws() * (2.0 * math.pi)
        amp = D.lerp(0.02, 0.1, draws())
        gain = gain + D.grating(xs, ys, freq, c, s, phase) * D.col(amp)
    return layer, torch.stack(colours, dim=1), gain


def _render_chunk(
    indices: Tensor,
    labels: Tensor | None,
    *,
    variant: str,
    key: int,
    height: int,
    width: int,
    device: torch.device,
) -> tuple[Tensor, Tensor, Tensor]:
    """Images in [0, 1] (N, 3, H, W), labels (N,) and float part ids (N, H, W) of a chunk."""
    n = indices.shape[0]
    draws = _Draws(uniform(key, indices.to(device), _N_STREAMS))
    n_cls = n_classes(variant)
    drawn = (draws() * n_cls).long().clamp_max(n_cls - 1)
    labels = drawn if labels is None else labels
    xs, ys = D.pixel_grid(height, width, device)
    parts = _draw_flower(draws, xs, ys, height, width)
    nuisance = torch.stack([_palette_colour(draws, device) for _ in range(4)], dim=1)
    layer, bg_colours, gain = _draw_background(draws, xs, ys, height, width)

    part_colours = nuisance.clone()  # (N, 4, 3) for stem, leaves, petals, centre
    deciding = class_colours(variant).to(device)[labels]  # (N, n_parts, 3)
    for j, (part, _) in enumerate(DECIDING_PARTS[variant]):
        part_colours[:, _PART_ID[part] - 1] = deciding[:, j]
    table = torch.cat([bg_colours, part_colours], dim=1).transpose(1, 2)  # (N, 3, L + 4)
    # flower pixels take colour n_bg - 1 + part id, background pixels their layer's
    flower = parts.clamp_max(1.0)
    keep = 1.0 - flower
    index = (layer * keep + (parts + float(bg_colours.shape[1] - 1)) * flower).long()
    images = torch.gather(table, 2, index.reshape(n, 1, -1).expand(n, 3, -1))
    gain = gain * keep + flower  # exactly 1 on the flower
    images = images.reshape(n, 3, height, width).mul_(gain[:, None]).clamp_(0.0, 1.0)
    return images, labels, parts


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
    seed = _check_seed(seed)
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
        im, lab, par = _render_chunk(
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
        is_part = torch.eq(parts_f, float(_PART_ID[part]), out=torch.empty_like(parts_f))
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
        self.seed = _check_seed(seed)
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
