"""Tensor overlays for region explanations: boundaries, top-k segment masks, faded images.

Everything here is a torch operation on batches, on the inputs' device; nothing draws a
figure (see :mod:`captum_nas.visualization.figures` for those). :func:`to_hwc` turns a
tensor into the (H, W, C) numpy array ``captum.attr.visualization`` expects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from captum_nas._validation import (
    check_image_batch,
    check_number,
    check_positive_int,
    check_segments,
    check_tensor,
    describe,
)
from captum_nas.pooling import segment_pool


def to_hwc(tensor: Tensor) -> np.ndarray:
    """A (C, H, W) or (1, C, H, W) tensor as an (H, W, C) float numpy array.

    Args:
        tensor: an image or attribution map; a batch must hold exactly one item.

    Returns:
        ``np.ndarray`` of shape (H, W, C), float32 (detached, on the CPU).

    Example:
        >>> to_hwc(torch.zeros(1, 3, 4, 5)).shape
        (4, 5, 3)
    """
    check_tensor(tensor, "tensor")
    t = tensor
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(
                f"`tensor` must be (C, H, W) or (1, C, H, W), got a batch of {t.shape[0]}: "
                f"shape {tuple(t.shape)}; index one image first"
            )
        t = t[0]
    if t.dim() != 3:
        raise ValueError(f"`tensor` must be (C, H, W) or (1, C, H, W), got {tuple(t.shape)}")
    return t.detach().to("cpu", torch.float32).permute(1, 2, 0).contiguous().numpy()


def _as_batch(images: Tensor, name: str) -> Tensor:
    check_tensor(images, name)
    x = images.unsqueeze(0) if images.dim() == 3 else images
    return check_image_batch(x, name)


def _as_segments(segments: Tensor, like: Tensor, name: str = "segments") -> Tensor:
    check_tensor(segments, name)
    seg = segments
    if seg.dim() == 2:
        seg = seg[None, None]
    elif seg.dim() == 3:
        seg = seg[None]
    seg = check_segments(seg, name, like=like).to(like.device)
    return seg.expand(like.shape[0], 1, *like.shape[-2:])


def segment_boundaries(segments: Tensor) -> Tensor:
    """Pixels on a segment boundary: their right or lower neighbour has another id.

    Args:
        segments: integer ids (N, 1, H, W) (or (1, H, W), (H, W)).

    Returns:
        Bool tensor (N, 1, H, W), on the segments' device.

    Example:
        >>> segment_boundaries(torch.tensor([[0, 0, 1]])).int()
        tensor([[[[0, 1, 0]]]], dtype=torch.int32)
    """
    check_tensor(segments, "segments")
    seg = segments
    while seg.dim() < 4:
        seg = seg.unsqueeze(0)
    seg = check_segments(seg)
    edge = torch.zeros(seg.shape, dtype=torch.bool, device=seg.device)
    edge[..., :, :-1] |= seg[..., :, :-1] != seg[..., :, 1:]
    edge[..., :-1, :] |= seg[..., :-1, :] != seg[..., 1:, :]
    return edge


def mark_boundaries(
    images: Tensor, segments: Tensor, *, color: Sequence[float] = (1.0, 1.0, 0.0)
) -> Tensor:
    """Draw segment boundaries on images (like ``skimage.segmentation.mark_boundaries``).

    Args:
        images: images in [0, 1], (C, H, W) or (N, C, H, W).
        segments: integer ids (N, 1, H, W), (1, 1, H, W), (1, H, W) or (H, W).
        color: boundary colour, one value per channel (or one for all).

    Returns:
        The images with boundary pixels set to ``color``, in the input's shape, device
        and dtype.
    """
    x = _as_batch(images, "images")
    seg = _as_segments(segments, x)
    c = x.shape[1]
    col = torch.as_tensor(list(color), dtype=x.dtype, device=x.device).flatten()
    if col.numel() == 1:
        col = col.expand(c)
    if col.numel() != c:
        raise ValueError(f"`color` has {col.numel()} values, the images have {c} channels")
    out = torch.where(segment_boundaries(seg), col.view(1, c, 1, 1), x)
    return out[0] if images.dim() == 3 else out


def segment_scores(attributions: Tensor, segments: Tensor) -> Tensor:
    """Per-segment scores (N, K) of a map: the mean over each segment's pixels and channels.

    Args:
        attributions: a (pooled) map (N, C, H, W) or (C, H, W).
        segments: integer ids matching the map.

    Returns:
        Float tensor (N, K), K = largest id + 1; ids absent from an image are NaN.
    """
    a = _as_batch(attributions, "attributions")
    seg = _as_segments(segments, a)
    return segment_pool(a.float(), seg, channel_reduce="mean").scores


def top_k_ids(scores: Tensor, k: int) -> list[list[int]]:
    """The ids of the ``k`` highest scores of every image, highest first.

    NaN scores (ids absent from the image) are never selected; an image with fewer
    than ``k`` segments gives all of them.

    Args:
        scores: (N, K) or (K,) per-segment scores.
        k: number of segments to keep (>= 1).

    Returns:
        One list of ids per image, sorted by decreasing score.

    Example:
        >>> top_k_ids(torch.tensor([0.1, 0.5, float("nan"), 0.3]), 2)
        [[1, 3]]
    """
    check_tensor(scores, "scores")
    k = check_positive_int(k, "k")
    s = scores.unsqueeze(0) if scores.dim() == 1 else scores
    if s.dim() != 2:
        raise ValueError(f"`scores` must be (N, K) or (K,), got {tuple(scores.shape)}")
    s = s.detach().float()
    valid = ~torch.isnan(s)
    ranked = torch.where(valid, s, torch.full_like(s, float("-inf")))
    order = torch.argsort(ranked, dim=1, descending=True, stable=True)
    n_valid = valid.sum(1).tolist()
    return [order[i, : min(k, int(n_valid[i]))].tolist() for i in range(s.shape[0])]


def top_k_segments(scores: Tensor, segments: Tensor, k: int) -> Tensor:
    """Mask of the ``k`` best-scoring segments of every image.

    Args:
        scores: per-segment scores (N, K) or (K,), or a pooled map (N, C, H, W) whose
            scores are taken with :func:`segment_scores`.
        segments: integer ids (N, 1, H, W) (or (1, 1, H, W) shared by the batch).
        k: number of segments (>= 1).

    Returns:
        Bool tensor (N, 1, H, W), True on the selected segments.

    Example:
        >>> seg = torch.tensor([[[[0, 1], [2, 2]]]])
        >>> top_k_segments(torch.tensor([[0.1, 0.9, 0.5]]), seg, 1).int()
        tensor([[[[0, 1],
                  [0, 0]]]], dtype=torch.int32)
    """
    check_tensor(scores, "scores")
    check_tensor(segments, "segments")
    k = check_positive_int(k, "k")
    if scores.dim() in (3, 4):
        s = segment_scores(scores, segments)
        seg = _as_segments(segments, _as_batch(scores, "scores"))
    else:
        s = scores.unsqueeze(0) if scores.dim() == 1 else scores
        if s.dim() != 2:
            raise ValueError(
                f"`scores` must be (N, K), (K,) or a map (N, C, H, W), got {describe(scores)}"
            )
        seg = check_segments(
            segments if segments.dim() == 4 else segments.reshape(1, 1, *segments.shape[-2:])
        )
        if seg.shape[0] not in (1, s.shape[0]):
            raise ValueError(
                f"`segments` has batch size {seg.shape[0]}, `scores` has {s.shape[0]} images"
            )
        if int(seg.max()) >= s.shape[1]:
            raise ValueError(
                f"`segments` has id {int(seg.max())} but `scores` has only {s.shape[1]} columns"
            )
        seg = seg.expand(s.shape[0], 1, *seg.shape[-2:])
    ids = top_k_ids(s, k)
    selected = torch.zeros(s.shape, dtype=torch.bool, device=seg.device)
    for i, row in enumerate(ids):
        selected[i, row] = True
    return torch.gather(selected, 1, seg.flatten(1)).view(seg.shape)


def show_segments(
    images: Tensor, mask: Tensor, *, fade: float = 0.85, background: float = 0.5
) -> Tensor:
    """LIME-style image: the masked pixels as they are, the rest faded to ``background``.

    Args:
        images: images in [0, 1], (C, H, W) or (N, C, H, W).
        mask: bool mask (N, 1, H, W) or (1, 1, H, W), e.g. from :func:`top_k_segments`.
        fade: how much of the unselected pixels is replaced by ``background`` (1 hides
            them completely).
        background: grey level of the faded area.

    Returns:
        Tensor of the images' shape.
    """
    x = _as_batch(images, "images")
    check_tensor(mask, "mask")
    fade = check_number(fade, "fade", minimum=0.0, maximum=1.0)
    background = check_number(background, "background", minimum=0.0, maximum=1.0)
    m = mask if mask.dim() == 4 else mask.reshape(1, 1, *mask.shape[-2:])
    if m.shape[1] != 1 or m.shape[-2:] != x.shape[-2:] or m.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"`mask` must be (N, 1, H, W) matching the images {tuple(x.shape)}, got "
            f"{tuple(mask.shape)}"
        )
    faded = x * (1.0 - fade) + background * fade
    out = torch.where(m.to(x.device, torch.bool), x, faded)
    return out[0] if images.dim() == 3 else out
