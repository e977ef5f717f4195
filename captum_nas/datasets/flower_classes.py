"""Classes, parts and colours of the procedural flowers (see :mod:`captum_nas.datasets.flowers`).

A class is the colour of one (``"single"``) or two (``"double"``) deciding parts; this
module holds the part ids, the class colours, the nuisance palette the other parts are
drawn from, the class names in label order, and the normaliser of the rendered images.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from captum_nas._validation import check_choice, check_tensor
from captum_nas.images import Normalizer

VARIANTS = ("single", "double")
SPLITS = ("train", "test")

#: Part ids of :attr:`FlowerBatch.parts` (0 is the background).
PART_NAMES = ("background", "stem", "leaves", "petals", "centre")
#: Part id of every part name.
PART_ID: dict[str, int] = {name: i for i, name in enumerate(PART_NAMES)}

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
