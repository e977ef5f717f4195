"""Agreement of two explanations at the segment level: rank correlations and top-k overlap.

Used to compare e.g. gradient-weighted superpixels with Lime on the same segments
(Hartley et al., 2019): per image, Spearman's rho and Kendall's tau-b of the two
segment score vectors, and the overlap of their k highest-scoring segments. All
images are handled at once with pairwise comparisons (O(N K^2) memory).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from captum_nas._validation import check_positive_int, check_tensor, describe
from captum_nas.pooling import segment_pool


class SegmentAgreement(NamedTuple):
    """Per-image agreement, each a float tensor (N,).

    Attributes:
        spearman: Spearman rank correlation (Pearson correlation of average ranks).
        kendall: Kendall's tau-b (ties in either vector handled as in
            ``scipy.stats.kendalltau``).
        top_k_overlap: ``|top_k(a) & top_k(b)| / k`` with ``k = min(top_k, K_i)``.
    """

    spearman: Tensor
    kendall: Tensor
    top_k_overlap: Tensor


def _as_scores(value: Tensor, segments: Tensor | None, name: str) -> Tensor:
    check_tensor(value, name)
    if value.dim() == 2:
        return value
    if value.dim() == 4:
        if segments is None:
            raise ValueError(f"`segments` is required when `{name}` is a pixel map (N, C, H, W)")
        return segment_pool(
            value.float() if not value.is_floating_point() else value,
            segments,
            channel_reduce="mean",
        ).scores
    raise ValueError(
        f"`{name}` must be segment scores (N, K) or a pixel map (N, C, H, W), got {describe(value)}"
    )


def _average_ranks(x: Tensor, valid: Tensor) -> Tensor:
    """1-based average ranks among the valid entries of each row (ties share a rank)."""
    diff = x[:, :, None] - x[:, None, :]  # [n, i, j] = x_i - x_j
    pair = valid[:, None, :]
    less = ((diff > 0) & pair).sum(2).to(x.dtype)
    equal = ((diff == 0) & pair).sum(2).to(x.dtype)
    return less + (equal + 1) / 2


def _pearson(x: Tensor, y: Tensor, valid: Tensor) -> Tensor:
    w = valid.to(x.dtype)
    n = w.sum(1, keepdim=True)
    xc = (x - (x * w).sum(1, keepdim=True) / n) * w
    yc = (y - (y * w).sum(1, keepdim=True) / n) * w
    return (xc * yc).sum(1) / ((xc * xc).sum(1) * (yc * yc).sum(1)).sqrt()


def segment_agreement(
    a: Tensor, b: Tensor, segments: Tensor | None = None, *, top_k: int = 5
) -> SegmentAgreement:
    """Rank agreement of two explanations over the same segments, per image.

    Args:
        a: per-segment scores (N, K) or a pixel map (N, C, H, W) (pooled by mean over
            each segment and over channels).
        b: same as ``a`` (scores and maps can be mixed).
        segments: segment ids (N, 1, H, W) or (1, 1, H, W); required for pixel maps.
        top_k: number of highest-scoring segments compared (capped per image at its
            number of segments).

    Returns:
        :class:`SegmentAgreement` ``(spearman, kendall, top_k_overlap)``, each (N,)
        in float64 on the inputs' device. Segments whose score is NaN in either
        input (absent ids) are left out; a correlation is NaN where a score vector is
        constant or fewer than 2 segments remain. Ties at the k-th place of top-k are
        broken by ``torch.topk``.

    Example:
        >>> r = segment_agreement(torch.tensor([[1.0, 2, 3]]), torch.tensor([[1.0, 3, 2]]), top_k=1)
        >>> r.spearman
        tensor([0.5000], dtype=torch.float64)
    """
    k = check_positive_int(top_k, "top_k")
    sa = _as_scores(a, segments, "a")
    sb = _as_scores(b, segments, "b")
    if sa.shape != sb.shape:
        raise ValueError(
            f"`a` and `b` give segment scores of different shapes: {tuple(sa.shape)} vs "
            f"{tuple(sb.shape)}"
        )
    x = sa.detach().double()
    y = sb.detach().to(x.device).double()
    valid = torch.isfinite(x) & torch.isfinite(y)
    x = torch.where(valid, x, torch.zeros_like(x))
    y = torch.where(valid, y, torch.zeros_like(y))

    spearman = _pearson(_average_ranks(x, valid), _average_ranks(y, valid), valid)

    pair = valid[:, :, None] & valid[:, None, :]
    pair = torch.triu(pair, diagonal=1)
    sx = torch.sign(x[:, :, None] - x[:, None, :]) * pair
    sy = torch.sign(y[:, :, None] - y[:, None, :]) * pair
    n0 = pair.sum((1, 2)).double()
    ties_x = (pair & (sx == 0)).sum((1, 2)).double()
    ties_y = (pair & (sy == 0)).sum((1, 2)).double()
    kendall = (sx * sy).sum((1, 2)) / ((n0 - ties_x) * (n0 - ties_y)).sqrt()

    n_valid = valid.sum(1)
    kk = min(k, x.shape[1])
    neg = torch.tensor(float("-inf"), dtype=x.dtype, device=x.device)
    top_x = torch.where(valid, x, neg).topk(kk, dim=1).indices
    top_y = torch.where(valid, y, neg).topk(kk, dim=1).indices
    k_i = n_valid.clamp(max=k)
    rank = torch.arange(kk, device=x.device)[None, :]
    in_x = torch.zeros_like(valid).scatter(1, top_x, rank < k_i[:, None])
    in_y = torch.zeros_like(valid).scatter(1, top_y, rank < k_i[:, None])
    overlap = (in_x & in_y).sum(1).double() / k_i.clamp_min(1).double()
    overlap = torch.where(k_i > 0, overlap, torch.full_like(overlap, float("nan")))
    return SegmentAgreement(spearman, kendall, overlap)
