"""Ground-truth localisation scores of a map: pointing games, relevance mass and rank.

All functions take maps (N, H, W), (N, 1, H, W) or (N, C, H, W) (channels averaged)
and object masks (N, H, W) or (N, 1, H, W) (bool or 0/1, at least one object pixel
per image, otherwise a ``ValueError``), and return one score per image, shape (N,), on
the maps' device in their dtype. Higher is better for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_nas._precision import accumulation_dtype
from captum_nas._validation import check_number
from captum_nas.metrics._boxes import boxes_to_mask, check_boxes
from captum_nas.metrics._checks import check_maps, check_masks, flat_maps_and_masks


def _disk_dilate(mask: Tensor, radius: float) -> Tensor:
    """Pixels within Euclidean distance ``radius`` of a True pixel, (N, H, W) bool."""
    if radius <= 0:
        return mask
    _n, h, w = mask.shape
    r = math.floor(radius)
    src = mask.to(torch.float32).unsqueeze(1)
    out = torch.zeros_like(mask)
    for dy in range(-r, r + 1):
        if abs(dy) >= h:
            continue
        half = math.floor(math.sqrt(max(radius * radius - dy * dy, 0.0)) + 1e-9)
        half = min(half, w - 1)
        if half > 0:
            row = F.max_pool2d(src, (1, 2 * half + 1), stride=1, padding=(0, half))[:, 0] > 0
        else:
            row = mask
        # out[y] |= row[y + dy]
        if dy >= 0:
            out[:, : h - dy] |= row[:, dy:]
        else:
            out[:, -dy:] |= row[:, : h + dy]
    return out


def pointing_game(maps: Tensor, masks: Tensor, *, tolerance: float = 15) -> Tensor:
    """Pointing game (Zhang et al. 2018): is the map's maximum on the object?

    A hit when a pixel holding the map's maximum lies within ``tolerance`` pixels
    (Euclidean distance) of an object pixel. Ties: when several pixels share the
    maximum, the image is a hit if any of them hits (Quantus' rule). A constant map
    points nowhere and is a miss. Higher is better (the mean over images is the
    accuracy). Sensitive to ``tolerance`` (a generous tolerance rewards maps that
    point next to small objects) and to the mask size (chance level is roughly the
    dilated object's share of the image).

    Args:
        maps: (N, H, W), (N, 1, H, W) or (N, C, H, W) floating maps.
        masks: (N, H, W) or (N, 1, H, W) object masks.
        tolerance: distance in pixels, >= 0 (default 15, as in the paper; 0 counts
            only maxima on the mask itself, as Quantus does).

    Returns:
        (N,) tensor of 1.0 (hit) or 0.0 (miss).

    Example:
        >>> maps = torch.zeros(1, 5, 5)
        >>> maps[0, 0, 0] = 1.0
        >>> masks = torch.zeros(1, 5, 5, dtype=torch.bool)
        >>> masks[0, 0, 3] = True
        >>> pointing_game(maps, masks, tolerance=2), pointing_game(maps, masks, tolerance=3)
        (tensor([0.]), tensor([1.]))
    """
    m = check_maps(maps)
    gt = check_masks(masks, "masks", like=m)
    tol = check_number(tolerance, "tolerance", minimum=0.0)
    flat = m.reshape(m.shape[0], -1)
    top = flat.amax(1, keepdim=True)
    constant = top.squeeze(1) == flat.amin(1)
    is_max = m == top[:, :, None]
    near = _disk_dilate(gt, tol)
    hit = (is_max & near).reshape(m.shape[0], -1).any(1) & ~constant
    return hit.to(m.dtype)


def _positive_mass_ratio(m: Tensor, region: Tensor) -> Tensor:
    """``sum(m+ in region) / sum(m+)`` per image, summed in float32 (float64 stays) so
    half-precision maps neither overflow nor lose small values; in ``m``'s dtype."""
    work = accumulation_dtype(m.dtype)
    pos = m.to(work).clamp(min=0).reshape(m.shape[0], -1)
    inside = (pos * region.reshape(m.shape[0], -1)).sum(1)
    total = pos.sum(1)
    ratio = torch.where(
        total > 0, inside / total.clamp(min=torch.finfo(work).tiny), torch.zeros_like(total)
    )
    return ratio.to(m.dtype)


def relevance_mass_accuracy(maps: Tensor, masks: Tensor) -> Tensor:
    """Relevance mass accuracy (Arras et al. 2022): share of positive relevance on the object.

    ``sum(R+ inside mask) / sum(R+)`` with ``R+`` the positive part of the map (negative
    relevance is ignored, as in the paper); 0 when the map has no positive value.
    Higher is better, 1 means all positive relevance is on the object. Sensitive to
    the sign convention (take ``abs`` first for unsigned maps such as gradients) and
    to the object size (large objects collect mass by chance).

    Args:
        maps: (N, H, W), (N, 1, H, W) or (N, C, H, W) floating maps.
        masks: (N, H, W) or (N, 1, H, W) object masks.

    Returns:
        (N,) scores in [0, 1].

    Example:
        >>> maps = torch.tensor([[[3.0, 1.0], [-2.0, 0.0]]])
        >>> relevance_mass_accuracy(maps, torch.tensor([[[1, 0], [1, 0]]]))
        tensor([0.7500])
    """
    m = check_maps(maps)
    gt = check_masks(masks, "masks", like=m)
    return _positive_mass_ratio(m, gt)


def energy_pointing_game(maps: Tensor, masks_or_boxes: Tensor | Sequence[Tensor]) -> Tensor:
    """Energy-based pointing game (Score-CAM, Wang et al. 2020): positive energy in the box.

    ``sum(L+ inside) / sum(L+)`` where the inside is the union of each image's boxes
    (or a mask). Higher is better. Sensitive to box size (a loose box collects
    background energy).

    Args:
        maps: (N, H, W), (N, 1, H, W) or (N, C, H, W) floating maps.
        masks_or_boxes: object masks (a tensor whose last two dims are the maps'
            H, W), or boxes ``(x0, y0, x1, y1)`` (ends exclusive) as a (N, B, 4)
            tensor or a list of N (B_i, 4) tensors.

    Returns:
        (N,) scores in [0, 1].

    Example:
        >>> maps = torch.ones(1, 4, 4)
        >>> energy_pointing_game(maps, torch.tensor([[[0, 0, 2, 4]]]))
        tensor([0.5000])
    """
    m = check_maps(maps)
    n, h, w = m.shape
    is_mask = isinstance(masks_or_boxes, Tensor) and (
        masks_or_boxes.dim() in (3, 4) and tuple(masks_or_boxes.shape[-2:]) == (h, w)
    )
    if is_mask:
        assert isinstance(masks_or_boxes, Tensor)
        region = check_masks(masks_or_boxes, "masks_or_boxes", like=m)
    else:
        boxes, valid = check_boxes(
            masks_or_boxes, "masks_or_boxes", n=n, height=h, width=w, device=m.device
        )
        region = boxes_to_mask(boxes, valid, h, w)
    return _positive_mass_ratio(m, region)


def relevance_rank_accuracy(maps: Tensor, masks: Tensor) -> Tensor:
    """Relevance rank accuracy (Arras et al. 2022): share of the top-K pixels on the object.

    K is the number of object pixels of the image. Ties at the K-th value are shared
    fairly: pixels strictly above it count fully, and the remaining places are filled
    by the tied pixels in proportion to how many of them are on the object (the
    expectation under random tie-breaking). A constant map thus scores the object's
    share of the image, whatever the sort order. Higher is better. Arguments and
    result as for :func:`relevance_mass_accuracy`.

    Example:
        >>> maps = torch.tensor([[[0.9, 0.1], [0.8, 0.3]]])
        >>> relevance_rank_accuracy(maps, torch.tensor([[[1, 1], [0, 0]]]))
        tensor([0.5000])
    """
    m, flat, g = flat_maps_and_masks(maps, masks)
    k = g.sum(1)  # >= 1
    sorted_vals = torch.sort(flat, dim=1, descending=True).values
    kth = sorted_vals.gather(1, (k - 1)[:, None])
    above = flat > kth
    tied = flat == kth
    n_above = above.sum(1)
    hits_above = (above & g).sum(1)
    n_tied = tied.sum(1)
    hits_tied = (tied & g).sum(1)
    work = torch.promote_types(m.dtype, torch.float32)
    share = (k - n_above).to(work) * hits_tied.to(work) / n_tied.to(work)
    return ((hits_above.to(work) + share) / k.to(work)).to(m.dtype)


__all__ = [
    "energy_pointing_game",
    "pointing_game",
    "relevance_mass_accuracy",
    "relevance_rank_accuracy",
]
