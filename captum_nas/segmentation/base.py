"""The segmenter contract and mask utilities.

The :class:`Segmenter` protocol is defined in :mod:`captum_nas._types` and re-exported
here. A segmenter is any callable ``segmenter(inputs) -> LongTensor (N, 1, H, W)`` whose ids
are contiguous ``0..K_i-1`` in each image: exactly a Captum ``feature_mask``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_nas._types import Segmenter as Segmenter
from captum_nas._validation import check_segments


def relabel_contiguous(segments: Tensor) -> Tensor:
    """Relabel ids to ``0..K_i-1`` per image, keeping their order.

    Args:
        segments: integer tensor (N, 1, H, W) (or (N, H, W)) with ids >= 0.

    Returns:
        LongTensor of the same shape and device where the ids of each image are
        contiguous and ordered as the original ids.

    Example:
        >>> relabel_contiguous(torch.tensor([[[[3, 3, 7, 9]]]]))
        tensor([[[[0, 0, 1, 2]]]])
    """
    seg = segments.long()
    if seg.numel() == 0:
        return seg
    if int(seg.min()) < 0:
        raise ValueError(f"`segments` has negative ids (min {int(seg.min())})")
    n = seg.shape[0]
    flat = seg.reshape(n, -1)
    size = int(flat.max()) + 1
    present = torch.zeros(n, size, dtype=torch.long, device=seg.device)
    present.scatter_(1, flat, 1)
    new_ids = present.cumsum(1) - 1
    return new_ids.gather(1, flat).reshape(seg.shape)


def n_segments_per_image(segments: Tensor) -> Tensor:
    """Number of segments K_i of each image of a contiguous mask, as LongTensor (N,)."""
    seg = check_segments(segments)
    return seg.reshape(seg.shape[0], -1).amax(1) + 1


def is_contiguous(segments: Tensor) -> bool:
    """True when every image's ids are exactly ``0..K_i-1``."""
    seg = segments.long()
    return bool(torch.equal(relabel_contiguous(seg), seg))
