"""Mask metrics for explainers that output masks (or maps read as masks).

In the spirit of Stalder et al. (NeurIPS 2022): thresholded IoU and F1 against the
object mask, at one threshold or as curves over many, the soft (continuous) IoU, and
the per-image ROC-AUC. Maps are (N, H, W), (N, 1, H, W) or (N, C, H, W) (channels
averaged, so a mask repeated over channels keeps its values); masks are (N, H, W) or
(N, 1, H, W) with at least one object pixel per image. A map pixel is predicted
object when its value is **strictly greater** than the threshold. Results are on the
maps' device in their dtype. Higher is better for every function here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from captum_nas._precision import accumulation_dtype
from captum_nas._types import ThresholdsLike
from captum_nas.metrics._checks import (
    check_maps,
    check_masks,
    check_thresholds,
    flat_maps_and_masks,
    minmax_normalize,
)


def _counts_above(scores: Tensor, gt: Tensor, thresholds: Tensor) -> tuple[Tensor, Tensor]:
    """Predicted-positive and true-positive counts (N, T) for ``score > t``.

    One sort per image and a batched binary search per threshold, so memory stays
    O(N * H * W + N * T) whatever the number of thresholds.
    """
    n = scores.shape[0]
    flat = scores.reshape(n, -1)
    g = gt.reshape(n, -1)
    hw = flat.shape[1]
    vals, order = torch.sort(flat, dim=1)
    g_sorted = g.gather(1, order).to(torch.long)
    below_gt = torch.cat([g_sorted.new_zeros(n, 1), g_sorted.cumsum(1)], 1)  # (N, HW+1)
    t = thresholds.to(vals.dtype).expand(n, -1).contiguous()
    idx = torch.searchsorted(vals, t, right=True)  # number of values <= t
    pred_pos = hw - idx
    tp = g.sum(1, keepdim=True).long() - below_gt.gather(1, idx)
    return pred_pos, tp


def _prepare(
    maps: Tensor, masks: Tensor, thresholds: ThresholdsLike, normalize: bool
) -> tuple[Tensor, Tensor, Tensor, bool]:
    m = check_maps(maps)
    gt = check_masks(masks, "masks", like=m)
    if not isinstance(normalize, bool):
        raise TypeError(f"`normalize` must be a bool, got {normalize!r}")
    t, scalar = check_thresholds(thresholds, "thresholds", m)
    scores = minmax_normalize(m) if normalize else m
    return scores, gt, t, scalar


def _threshold_counts(
    maps: Tensor, masks: Tensor, thresholds: ThresholdsLike, normalize: bool
) -> tuple[Tensor, Tensor, Tensor, Callable[[Tensor], Tensor]]:
    """Predicted positives, true positives (N, T), object sizes (N, 1) and a finisher.

    The finisher casts a float64 (N, T) result to the maps' dtype and drops T for a
    single threshold.
    """
    scores, gt, t, scalar = _prepare(maps, masks, thresholds, normalize)
    pred_pos, tp = _counts_above(scores, gt, t)
    n_gt = gt.reshape(gt.shape[0], -1).sum(1, keepdim=True).long()

    def finish(value: Tensor) -> Tensor:
        out = value.to(scores.dtype)
        return out[:, 0] if scalar else out

    return pred_pos, tp, n_gt, finish


def mask_iou(
    maps: Tensor,
    masks: Tensor,
    *,
    thresholds: ThresholdsLike = 0.5,
    normalize: bool = False,
) -> Tensor:
    """IoU of the thresholded map (``map > t``) with the object mask, per image.

    Higher is better. Sensitive to the threshold (pass several to get a curve, and
    report the curve or its best point rather than one arbitrary value) and to
    ``normalize`` (per-image min-max scaling makes thresholds comparable across maps
    of different ranges).

    Args:
        maps: floating maps (N, H, W), (N, 1, H, W) or (N, C, H, W).
        masks: object masks (N, H, W) or (N, 1, H, W).
        thresholds: one number (default 0.5) or a sequence/1-D tensor of T numbers.
        normalize: min-max normalise each map first (default False).

    Returns:
        (N,) for a single threshold, (N, T) for several.

    Example:
        >>> maps = torch.tensor([[[0.9, 0.6], [0.2, 0.1]]])
        >>> mask_iou(maps, torch.tensor([[[1, 0], [1, 0]]]))
        tensor([0.3333])
    """
    pred_pos, tp, n_gt, finish = _threshold_counts(maps, masks, thresholds, normalize)
    return finish(tp.to(torch.float64) / (pred_pos + n_gt - tp).to(torch.float64))


def mask_f1(
    maps: Tensor,
    masks: Tensor,
    *,
    thresholds: ThresholdsLike = 0.5,
    normalize: bool = False,
) -> Tensor:
    """F1 (Dice) of the thresholded map (``map > t``) with the object mask, per image.

    ``2 TP / (2 TP + FP + FN)``. Higher is better; arguments, result shape and
    sensitivities as for :func:`mask_iou` (F1 = 2 IoU / (1 + IoU), so both rank maps
    alike per image).

    Example:
        >>> maps = torch.tensor([[[0.9, 0.6], [0.2, 0.1]]])
        >>> mask_f1(maps, torch.tensor([[[1, 0], [1, 0]]]))
        tensor([0.5000])
    """
    pred_pos, tp, n_gt, finish = _threshold_counts(maps, masks, thresholds, normalize)
    return finish((2 * tp).to(torch.float64) / (pred_pos + n_gt).to(torch.float64))


def continuous_iou(maps: Tensor, masks: Tensor) -> Tensor:
    """Soft IoU ``sum(min(m, g)) / sum(max(m, g))`` of maps in [0, 1] with masks.

    No threshold: a mask explainer is rewarded for confident values on the object and
    penalised for any value on the background. Higher is better; equals the IoU when
    the map is binary. Maps outside [0, 1] are rejected (normalise them first, e.g.
    with a sigmoid or min-max, and say which). Masks may be soft (values in [0, 1]).

    Args:
        maps: floating maps in [0, 1], (N, H, W), (N, 1, H, W) or (N, C, H, W).
        masks: masks (N, H, W) or (N, 1, H, W), 0/1 or soft in [0, 1].

    Returns:
        (N,) scores in [0, 1].

    Example:
        >>> maps = torch.tensor([[[1.0, 0.5], [0.0, 0.0]]])
        >>> continuous_iou(maps, torch.tensor([[[1, 1], [0, 0]]]))
        tensor([0.7500])
    """
    m = check_maps(maps)
    if bool(((m < 0) | (m > 1)).any()):
        raise ValueError(
            f"`maps` must lie in [0, 1] for the continuous IoU, got values in "
            f"[{float(m.min()):.4g}, {float(m.max()):.4g}]"
        )
    g = check_masks(masks, "masks", like=m, soft=True)
    n = m.shape[0]
    work = accumulation_dtype(m.dtype)  # sums over the pixels: float16 would round them
    num = torch.minimum(m, g).reshape(n, -1).to(work).sum(1)
    den = torch.maximum(m, g).reshape(n, -1).to(work).sum(1)
    return (num / den).to(m.dtype)


def roc_auc(maps: Tensor, masks: Tensor) -> Tensor:
    """Per-image ROC-AUC of pixel scores against the object mask (rank based).

    The Mann-Whitney statistic: the probability that a random object pixel scores
    above a random background pixel, ties counting one half (average ranks), which
    equals the trapezoidal area under the ROC curve. Exact integer arithmetic up to
    the final division. Higher is better, 0.5 is chance; a constant map scores 0.5.
    Every image needs both object and background pixels.

    Args:
        maps: floating maps (N, H, W), (N, 1, H, W) or (N, C, H, W).
        masks: object masks (N, H, W) or (N, 1, H, W).

    Returns:
        (N,) scores in [0, 1].

    Example:
        >>> maps = torch.tensor([[[0.9, 0.5], [0.5, 0.1]]])
        >>> roc_auc(maps, torch.tensor([[[1, 1], [0, 0]]]))
        tensor([0.8750])
    """
    m, flat, g = flat_maps_and_masks(maps, masks)
    n = m.shape[0]
    hw = flat.shape[1]
    n_pos = g.sum(1)
    n_neg = hw - n_pos
    if bool((n_neg == 0).any()):
        idx = torch.nonzero(n_neg == 0).flatten().tolist()
        raise ValueError(
            f"`masks` covers the whole image in image(s) {idx[:10]}; ROC-AUC "
            "needs background pixels"
        )
    vals, order = torch.sort(flat, dim=1)
    g_sorted = g.gather(1, order)
    # tie groups: global ids over the batch so rows never share a group
    new_group = torch.ones_like(g_sorted)
    new_group[:, 1:] = vals[:, 1:] != vals[:, :-1]
    group = new_group.reshape(-1).long().cumsum(0) - 1
    pos = torch.arange(hw, device=m.device).expand(n, hw).reshape(-1)
    n_groups = int(group[-1]) + 1
    first = torch.full((n_groups,), hw, dtype=torch.long, device=m.device)
    first = first.scatter_reduce(0, group, pos, reduce="amin")
    last = torch.full((n_groups,), -1, dtype=torch.long, device=m.device)
    last = last.scatter_reduce(0, group, pos, reduce="amax")
    twice_rank = (first + last + 2)[group].reshape(n, hw)  # 2 * average 1-based rank
    twice_rank_pos = (twice_rank * g_sorted.long()).sum(1)
    num = twice_rank_pos - n_pos * (n_pos + 1)
    auc = num.to(torch.float64) / (2 * n_pos * n_neg).to(torch.float64)
    return auc.to(m.dtype)


__all__ = ["continuous_iou", "mask_f1", "mask_iou", "roc_auc"]
