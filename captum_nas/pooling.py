"""Segment pooling: give every pixel the pooled score of its superpixel.

One scatter pass pools a whole batch, on any device: every (image, channel, segment)
triple gets 8 slots ("lanes": pixel ``i`` goes to slot ``id * 8 + i % 8`` of its image
and channel), the reductions are ``scatter_add`` / ``scatter_reduce`` into them, the
lanes are combined, and the map is one ``gather`` back. Mean and sum pooling are
differentiable (gradients flow back to the attributions); max/min route the gradient
to the selected pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_nas._precision import accumulation_dtype
from captum_nas._types import CHANNEL_REDUCTIONS, INTERPOLATE_MODES, REDUCTIONS
from captum_nas._validation import (
    all_finite,
    check_choice,
    check_segments,
    check_tensor,
    describe,
)
from captum_nas.segmentation.base import MIN_ID_BOUND, check_id_bound

#: the named pooling modes of :func:`pool_segments` (and of every NAS* class)
POOLING_MODES = ("magnitude", "contribution")


class PooledAttribution(NamedTuple):
    """Result of :func:`segment_pool`.

    Attributes:
        map: the pooled map, every pixel holding its segment's score, with the shape
            of the (upsampled) attributions (N, C, H, W); with a channel reduction
            the one score is repeated over the C channels.
        scores: per-segment scores, (N, C, K) without channel reduction, else (N, K).
            K is the largest number of segments in the batch (max id + 1); slots of
            segments absent from an image (an image with fewer segments, or a gap in
            its ids) are NaN.
    """

    map: Tensor
    scores: Tensor


def _check_map(attributions: Tensor) -> None:
    """``attributions`` must be a 4-D tensor (N, C, H, W)."""
    check_tensor(attributions, "attributions")
    if attributions.dim() != 4:
        raise ValueError(
            f"`attributions` must have shape (N, C, H, W), got {describe(attributions)}"
        )


def _check_finite(attributions: Tensor) -> None:
    if not all_finite(attributions):
        raise ValueError(
            "`attributions` contains NaN or Inf values; one such pixel would make its "
            "whole segment's score NaN or Inf"
        )


def _check_mask_structure(segments: Tensor) -> None:
    """The checks of :func:`check_segments` that need no pass over the ids."""
    if (
        not isinstance(segments, Tensor)
        or segments.is_floating_point()
        or segments.is_complex()
        or segments.dtype == torch.bool
        or segments.dim() != 4
        or segments.shape[1] != 1
        or segments.numel() == 0
    ):
        check_segments(segments)  # raises the matching error


def _id_count(ids: Tensor, segments: Tensor) -> int:
    """K = max id + 1 of ``ids`` (part of ``segments``), after checking their range like
    :func:`check_segments` and :func:`~captum_nas.segmentation.base.check_id_bound` (the
    error names the whole ``segments``), in one pass over the ids."""
    lo, hi = torch.aminmax(ids)
    if int(lo) < 0:
        check_segments(segments)
    if int(hi) >= max(int(segments.shape[-2]) * int(segments.shape[-1]), MIN_ID_BOUND):
        check_id_bound(segments)
    return int(hi) + 1


def _check_channel_reduce(channel_reduce: str | None) -> str:
    if channel_reduce is None:
        return "none"
    return check_choice(channel_reduce, "channel_reduce", CHANNEL_REDUCTIONS)


def _reduce_channels(values: Tensor, channel_reduce: str) -> Tensor:
    if channel_reduce == "none":
        return values
    if channel_reduce == "sum":
        return values.sum(1, keepdim=True)
    if channel_reduce == "abs-sum":
        return values.abs().sum(1, keepdim=True)
    return values.mean(1, keepdim=True)


#: partial results per segment: pixel ``i`` goes to slot ``id * LANES + i % LANES`` and
#: the lanes are added up at the end. Neighbouring pixels mostly share a segment; with
#: one slot per segment every add on a CPU waits for the previous one into the same slot,
#: and a scatter over a superpixel mask runs about 4x slower than over scattered ids.
#: The lanes depend on the pixel only, so the result does not depend on the labels or on
#: the other images of the batch.
_LANES = 8

#: map values (images x channels x pixels) converted per step where a reduction needs a
#: transformed copy (float32 of a half map, a channel reduction, ``abs``, squares): the
#: copy stays small and is reused instead of being a second map
_CHUNK = 2**18


#: the integer dtype whose view of a float's bits tells -0.0 from 0.0 in one comparison
_SAME_WIDTH_INT = {torch.float32: torch.int32, torch.float64: torch.int64}


def _lane_ids(own: Tensor, lanes: int, memory: Tensor | None) -> Tensor:
    """``own * lanes + pixel % lanes`` (``lanes`` a power of two) for ids (S, 1, P),
    written into ``memory`` (any tensor of at least as many bytes, whose contents are
    not needed until the ids are) when given: the pooled map before it is written."""
    s, _, p = own.shape
    lane = torch.arange(p, device=own.device).bitwise_and_(lanes - 1)
    if memory is None:
        return torch.add(lane, own, alpha=lanes)
    ratio = torch.empty((), dtype=torch.long).element_size() // memory.element_size()
    out = memory.reshape(-1)[: s * p * ratio].view(torch.long).view(s, 1, p)
    return torch.add(lane, own, alpha=lanes, out=out)


def _lane_reduce(
    values: Tensor, lane_ids: Tensor, n_seg: int, lanes: int, how: str, *, untouched: bool
) -> tuple[Tensor, Tensor | None]:
    """``how`` ("sum", "amax", "amin") of ``values`` (M, C, P) per segment: (M, C, K),
    and, with ``untouched``, which of these no pixel reached (M, C, K; else None).

    Every slot starts at the identity of the reduction (-0.0 for a sum: adding any
    value to it gives that value), so a lane that no pixel of its segment reached does
    not count, and a segment whose lanes all still hold their start is untouched: a
    sum still at -0.0 was reached by no pixel or only by -0.0 values; a max / min still
    at -inf / inf by no pixel, the values being finite."""
    m, c, p = values.shape
    ids = lane_ids.expand(m, c, p)
    start = {"sum": -0.0, "amax": float("-inf"), "amin": float("inf")}[how]
    slots = values.new_full((m, c, n_seg * lanes), start)
    if how == "sum":
        slots.scatter_add_(2, ids, values)
    else:
        slots.scatter_reduce_(2, ids, values, reduce=how)
    slots = slots.reshape(m, c, n_seg, lanes)
    left = None
    if untouched:
        if how == "sum":  # the bits of -0.0: the smallest integer of the same width
            bits = slots.detach().view(_SAME_WIDTH_INT[slots.dtype])
            left = (bits == torch.iinfo(bits.dtype).min).all(3)
        else:
            left = (slots.detach() == start).all(3)
    if how == "sum":
        return slots.sum(3), left
    return (slots.amax(3) if how == "amax" else slots.amin(3)), left


def _pixel_counts(lane_ids: Tensor, n_seg: int, lanes: int, dtype: torch.dtype) -> Tensor:
    """Pixels per segment of every mask, (M, 1, K), from lane ids (M, 1, P)."""
    m, _, p = lane_ids.shape
    # a row of ones shared by the masks (a scatter from one expanded scalar runs slower)
    ones = torch.ones(1, 1, p, dtype=dtype, device=lane_ids.device).expand(m, 1, p)
    return _lane_reduce(ones, lane_ids, n_seg, lanes, "sum", untouched=False)[0]


def _segment_median(values: Tensor, group: Tensor, counts: Tensor) -> Tensor:
    """Lower median of ``values`` per group id (like ``torch.median``), vectorised."""
    order = torch.argsort(values, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    sorted_values = values[order]
    starts = torch.cumsum(counts, 0) - counts
    pick = starts + torch.div(counts - 1, 2, rounding_mode="floor").clamp_min(0)
    pick = pick.clamp(max=max(values.numel() - 1, 0))
    return sorted_values[pick]


def segment_pool(
    attributions: Tensor,
    segments: Tensor,
    *,
    reduce: str = "mean",
    channel_reduce: str | None = None,
    interpolate_mode: str = "bilinear",
) -> PooledAttribution:
    """Pool an attribution map over segments, for a whole batch in one pass.

    Args:
        attributions: float tensor (N, C, h, w). A map whose spatial size differs from
            the mask's (e.g. an (N, 1, h, w) layer map) is first upsampled to the mask
            size with ``interpolate_mode``.
        segments: integer ids (N, 1, H, W), or one mask (1, 1, H, W) shared by the
            batch. Ids need not be contiguous (absent ids give NaN scores) but must be
            below max(H * W, 2**16) (relabel larger ones with ``relabel_contiguous``).
        reduce: the pooling of the values inside a segment: ``"mean"`` (default, the
            "superpixelification" of NAS), ``"sum"``, ``"max"``, ``"min"``,
            ``"median"`` (the lower of the two middle values for an even count, like
            ``torch.median``), ``"abs-mean"`` (mean of absolute values) or ``"l2"``
            (Euclidean norm of the values, ``sqrt(sum x^2)``).
        channel_reduce: ``None``/``"none"`` pools every channel on its own; ``"sum"``,
            ``"abs-sum"`` or ``"mean"`` first reduce the channels of every pixel to
            one value, then pool.
        interpolate_mode: ``torch.nn.functional.interpolate`` mode used to bring the
            attributions to the mask size (``"bilinear"``, ``"nearest"``,
            ``"bicubic"``, ``"area"``).

    Returns:
        :class:`PooledAttribution` ``(map, scores)``: ``map`` (N, C, H, W) with every
        pixel holding its segment's score, ``scores`` (N, C, K) or, with a channel
        reduction, (N, K). Both on the attributions' device and dtype. Mean pooling
        without channel reduction keeps the per-channel sum of the map (so
        completeness of e.g. Integrated Gradients still holds).

    Raises:
        TypeError: non-tensor arguments, non-floating attributions or non-integer
            segments.
        ValueError: bad shapes, NaN or Inf attributions, negative ids, mismatched
            batch sizes or devices, unknown options.

    Example:
        >>> attr = torch.tensor([[[[1.0, 3.0], [5.0, 7.0]]]])
        >>> seg = torch.tensor([[[[0, 0], [1, 1]]]])
        >>> segment_pool(attr, seg).map
        tensor([[[[2., 2.],
                  [6., 6.]]]])
    """
    return _pool(attributions, segments, reduce, channel_reduce, interpolate_mode, None)


def _pool(
    attributions: Tensor,
    segments: Tensor,
    reduce: str,
    channel_reduce: str | None,
    interpolate_mode: str,
    map_channels: int | None,
) -> PooledAttribution:
    """:func:`segment_pool`, with the map's channel count ``map_channels`` (default:
    the attributions'; another count only for one pooled channel, whose score every
    channel of the map then holds)."""
    _check_map(attributions)
    if not attributions.is_floating_point():
        raise TypeError(
            f"`attributions` must be a floating point tensor, got dtype {attributions.dtype}"
        )
    _check_mask_structure(segments)
    check_choice(reduce, "reduce", REDUCTIONS)
    c_reduce = _check_channel_reduce(channel_reduce)
    check_choice(interpolate_mode, "interpolate_mode", INTERPOLATE_MODES)
    n = attributions.shape[0]
    n_masks = segments.shape[0]
    if n_masks not in (1, n):
        raise ValueError(
            f"`segments` has batch size {n_masks}, expected 1 or {n} (the attributions' batch size)"
        )
    if segments.device != attributions.device:
        raise ValueError(
            f"`segments` is on {segments.device} but `attributions` on {attributions.device}"
        )
    h, w = segments.shape[-2:]
    p = h * w
    # sums over a segment overflow float16 on ordinary maps: pool in float32 (float64
    # stays float64), cast back at the end
    acc = accumulation_dtype(attributions.dtype)
    attr = attributions
    if attr.shape[-2:] != (h, w):
        kwargs = {"align_corners": False} if interpolate_mode in ("bilinear", "bicubic") else {}
        attr = F.interpolate(attr.to(acc), size=(h, w), mode=interpolate_mode, **kwargs)
    c = attr.shape[1] if c_reduce == "none" else 1
    out_channels = attr.shape[1] if map_channels is None else map_channels
    own = segments.reshape(n_masks, 1, p)
    n_seg = _id_count(own, segments)
    own = own.long()
    grad = attr.requires_grad and torch.is_grad_enabled()
    # the pooled map, the one large allocation of a call (written in place unless a
    # gradient is wanted); until the gather writes it, it holds the lane ids
    pixel_map = None if grad else attributions.new_empty(n, out_channels, h, w)
    # max/min with a gradient keep one slot per segment, so that tied maxima share the
    # gradient evenly as before (the values do not depend on the lanes)
    lanes = 1 if grad and reduce in ("max", "min") else _LANES
    if lanes == 1:
        lane_ids = own
    else:
        big_enough = pixel_map is not None and (
            pixel_map.numel() * pixel_map.element_size() >= own.numel() * 8
        )
        lane_ids = _lane_ids(own, lanes, pixel_map if big_enough else None)
    # pixels per segment, once per mask (a shared mask counts once for the batch), for
    # the reductions that divide by them; the others tell absent segments by their
    # untouched slots
    counts = None
    if reduce in ("mean", "abs-mean", "median"):
        counts = _pixel_counts(lane_ids, n_seg, lanes, acc)
    if reduce == "median":
        assert counts is not None
        _check_finite(attributions)
        values = _reduce_channels(attr.to(acc), c_reduce).reshape(n, c, p)
        rows = torch.arange(n * c, device=own.device).reshape(n, c, 1) * n_seg
        pooled = _segment_median(
            values.reshape(-1),
            (own + rows).reshape(-1),
            counts.expand(n, c, n_seg).reshape(-1).long(),
        ).reshape(n, c, n_seg)
        absent = counts == 0
    else:
        how = {"max": "amax", "min": "amin"}.get(reduce, "sum")
        # the map's values as pooled, a few images at a time where they are transformed
        plain = attr.dtype == acc and c_reduce == "none" and reduce in ("mean", "sum")
        step = max(n, 1) if plain or grad else max(1, _CHUNK // (out_channels * p))
        parts: list[Tensor] = []
        left_parts: list[Tensor] = []  # untouched segments, where nothing was counted
        for first in range(0, n, step):
            values = _reduce_channels(attr[first : first + step].to(acc), c_reduce)
            values = values.reshape(values.shape[0], c, p)
            # max / min: an Inf can hide behind the start of its reduction, so the
            # values are checked (one sum over them); a sum tells by its result
            if how != "sum" and not all_finite(values):
                _check_finite(attributions)
            if reduce == "abs-mean":
                values = values.abs()
            elif reduce == "l2":
                values = values * values
            mask_ids = lane_ids if n_masks == 1 else lane_ids[first : first + step]
            part, left = _lane_reduce(values, mask_ids, n_seg, lanes, how, untouched=counts is None)
            parts.append(part)
            if left is not None:
                left_parts.append(left)
        if not parts:  # an empty batch
            parts.append(torch.empty(0, c, n_seg, dtype=acc, device=attr.device))
            left_parts.append(torch.zeros(0, c, n_seg, dtype=torch.bool, device=attr.device))
        pooled = parts[0] if len(parts) == 1 else torch.cat(parts)
        if how == "sum":
            # a NaN or Inf value makes its segment's sum non-finite: the K sums tell, and
            # only then is the whole map read again (a finite map can still overflow)
            if not all_finite(pooled):
                _check_finite(attributions)
            if counts is not None:  # mean, abs-mean
                pooled = pooled / counts.clamp_min(1)
            elif reduce == "l2":
                pooled = pooled.clamp_min(0).sqrt()
        if counts is None:
            untouched = left_parts[0] if len(left_parts) == 1 else torch.cat(left_parts)
            # a sum still at -0.0 is an absent segment or one whose values are all -0.0:
            # only then are the pixels counted; max / min / l2 (a square is never
            # -0.0) reach every slot of a present segment
            if reduce == "sum" and bool(untouched.any()):
                counts = _pixel_counts(lane_ids, n_seg, lanes, acc)
            else:
                absent = untouched
        if counts is not None:
            absent = counts == 0
    scores = pooled.masked_fill(absent, float("nan"))
    if c_reduce != "none":
        scores = scores[:, 0]
    # the map: one gather writes every output channel (a channel-reduced score is read
    # once per output channel instead of being copied afterwards), in the output dtype
    table = pooled.to(attributions.dtype).expand(n, out_channels, n_seg)
    ids = own.expand(n, out_channels, p)
    if pixel_map is None:
        pixel_map = torch.gather(table, 2, ids).reshape(n, out_channels, h, w)
    else:
        torch.gather(table, 2, ids, out=pixel_map.view(n, out_channels, p))
    return PooledAttribution(pixel_map, scores.to(attributions.dtype))


def mean_pooled_map(attributions: Tensor, segments: Tensor) -> Tensor:
    """``segment_pool(attributions, segments).map``: per-segment means, the evaluation
    runner's usual ``pool`` argument."""
    return segment_pool(attributions, segments).map


def pool_segments(
    attributions: Tensor,
    segments: Tensor,
    pooling: str = "magnitude",
    *,
    channels: int | None = None,
    interpolate_mode: str = "bilinear",
) -> PooledAttribution:
    r"""Pool an attribution map over segments in one of the two named modes.

    Both modes first sum the channels of every pixel, :math:`s_p = \sum_c a_{c,p}`.

    * ``"magnitude"`` (the default of every NAS* class, the localising choice): the
      score of segment :math:`S` is the mean magnitude :math:`\frac{1}{|S|}\sum_{p \in
      S} |s_p|`, so positive and negative pixels inside a segment do not cancel. The
      map holds the score on every pixel and channel of the segment. Scores are >= 0;
      they answer "how strongly does the method point at this region".
    * ``"contribution"`` (signed, completeness-keeping region contributions): the
      score of :math:`S` is the signed sum :math:`\sum_{p \in S} s_p`, so the scores
      of an image add up to the total of the unpooled map (for Integrated Gradients,
      the output difference to the baseline). The map spreads every score evenly over
      the segment's pixels and the ``channels`` channels
      (:math:`\text{score}/(|S| \cdot C)`), so the map's total equals the unpooled
      total as well.

    Args:
        attributions: float tensor (N, c, h, w); a map whose spatial size differs from
            the mask's is first upsampled with ``interpolate_mode``.
        segments: integer ids (N, 1, H, W) or one mask (1, 1, H, W) for the batch.
        pooling: ``"magnitude"`` or ``"contribution"``.
        channels: number of channels of the returned map (default: the attributions'
            channel count). The score is repeated over them (magnitude) or split
            evenly between them (contribution).
        interpolate_mode: how maps of another spatial size are brought to the mask's.

    Returns:
        :class:`PooledAttribution` ``(map, scores)``: ``map`` (N, channels, H, W),
        ``scores`` (N, K) with NaN for ids absent from an image.

    Example:
        >>> attr = torch.tensor([[[[1.0, -3.0], [5.0, 7.0]]]])
        >>> seg = torch.tensor([[[[0, 0], [1, 1]]]])
        >>> pool_segments(attr, seg).scores
        tensor([[2., 6.]])
        >>> pool_segments(attr, seg, pooling="contribution").scores
        tensor([[-2., 12.]])
        >>> pool_segments(attr, seg, pooling="contribution").map
        tensor([[[[-1., -1.],
                  [ 6.,  6.]]]])
    """
    _check_map(attributions)
    check_choice(pooling, "pooling", POOLING_MODES)
    out_c = attributions.shape[1] if channels is None else channels
    if isinstance(out_c, bool) or not isinstance(out_c, int) or out_c < 1:
        raise ValueError(f"`channels` must be a positive int or None, got {channels!r}")
    summed = attributions.sum(1, keepdim=True)
    # one pooled channel, gathered straight into the ``out_c`` channels of the map
    if pooling == "magnitude":
        pooled = _pool(summed.abs(), segments, "mean", None, interpolate_mode, out_c)
        return PooledAttribution(pooled.map, pooled.scores[:, 0])
    total = segment_pool(summed, segments, reduce="sum", interpolate_mode=interpolate_mode)
    mean = _pool(summed, segments, "mean", None, interpolate_mode, out_c)
    return PooledAttribution(mean.map / out_c, total.scores[:, 0])
