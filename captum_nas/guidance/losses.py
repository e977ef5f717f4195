"""Losses of explanation-guided training: pixel cross-entropy on class heatmaps.

Pixel labels follow one convention throughout the package: ``0`` is the background,
``c + 1`` is class ``c``, and ``ignore_index`` (default ``-1``) marks pixels without a
label (all pixels of an image that has only an image label).

The heatmaps of the ``C`` classes become ``C + 1`` per-pixel scores by prepending a
background channel: a constant (``background=0.0`` by default: a pixel belongs to a
class when that class's relevance is positive and the largest) or, when the classifier
has a background output of its own, its heatmap (``background=None``: the heatmaps'
channel 0 is the background).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_nas._validation import check_number, check_tensor, describe

IGNORE_INDEX = -1


def pixel_labels(
    masks: Tensor,
    labels: Tensor,
    *,
    labelled: Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> Tensor:
    """Pixel labels (N, H, W) from object masks and image labels.

    Args:
        masks: (N, 1, H, W) or (N, H, W) boolean masks of the object of each image.
        labels: (N,) class of each image.
        labelled: optional (N,) bool: images whose pixels are labelled; the others get
            ``ignore_index`` everywhere (default: all labelled).
        ignore_index: label of pixels without a label.

    Returns:
        Long tensor (N, H, W): 0 background, ``labels[i] + 1`` on the mask.

    Example:
        >>> masks = torch.tensor([[[1, 0], [0, 0]], [[0, 1], [1, 1]]])
        >>> pixel_labels(masks, labels, labelled=torch.tensor([True, False])).tolist()
        [[[1, 0], [0, 0]], [[-1, -1], [-1, -1]]]
    """
    check_tensor(masks, "masks")
    check_tensor(labels, "labels")
    if masks.dim() == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.dim() != 3 or labels.shape != (masks.shape[0],):
        raise ValueError(
            f"`masks` must be (N, 1, H, W) or (N, H, W) and `labels` (N,), got "
            f"{tuple(masks.shape)} and {tuple(labels.shape)}"
        )
    out = torch.where(masks.bool(), labels.long().view(-1, 1, 1) + 1, 0)
    if labelled is not None:
        check_tensor(labelled, "labelled")
        if labelled.shape != labels.shape:
            raise ValueError(
                f"`labelled` must have shape {tuple(labels.shape)}, got {tuple(labelled.shape)}"
            )
        out = torch.where(labelled.bool().view(-1, 1, 1).to(out.device), out, ignore_index)
    return out


def with_background(heatmaps: Tensor, background: float | Tensor | None) -> Tensor:
    """(N, C + 1, H, W) scores: a background channel followed by the class heatmaps.

    Args:
        heatmaps: (N, C, H, W) class heatmaps.
        background: constant score of the background channel (a number, or a tensor
            broadcastable to (N, 1, H, W), e.g. a learnable scalar); ``None`` returns
            ``heatmaps`` unchanged (its channel 0 already is the background).
    """
    if background is None:
        return heatmaps
    if isinstance(background, numbers.Real) and not isinstance(background, bool):
        bg = heatmaps.new_full((heatmaps.shape[0], 1, *heatmaps.shape[2:]), float(background))
    elif isinstance(background, Tensor):
        bg = background.to(heatmaps.dtype).expand(heatmaps.shape[0], 1, *heatmaps.shape[2:])
    else:
        raise TypeError(
            f"`background` must be a number, a tensor or None, got {describe(background)}"
        )
    return torch.cat([bg, heatmaps], dim=1)


def heatmap_segmentation_loss(
    heatmaps: Tensor,
    labels: Tensor,
    *,
    background: float | Tensor | None = 0.0,
    scale: float = 1.0,
    ignore_index: int = IGNORE_INDEX,
) -> Tensor:
    """Pixel cross-entropy of heatmaps against pixel labels (background included).

    Args:
        heatmaps: (N, C, H, W) heatmaps of the classes ``0..C-1`` (e.g.
            ``LRPDecoder(model)(x).heatmaps``), with their autograd graph.
        labels: (N, H, W) pixel labels (0 background, ``c + 1`` class ``c``,
            ``ignore_index`` unlabelled), see :func:`pixel_labels`.
        background: score of the background channel (see :func:`with_background`).
        scale: the heatmaps are multiplied by ``scale`` before the softmax (LRP values
            are small: relevance per pixel; e.g. the number of pixels makes them
            relevance densities in units of the logit).
        ignore_index: label of unlabelled pixels.

    Returns:
        Mean cross-entropy over labelled pixels (a zero that keeps the graph when no
        pixel is labelled).

    Example:
        >>> heatmaps = torch.randn(2, 5, 8, 8, requires_grad=True)   # e.g. LRPDecoder's
        >>> masks = torch.zeros(2, 8, 8)
        >>> masks[:, 2:6, 2:6] = 1
        >>> loss = heatmap_segmentation_loss(heatmaps, pixel_labels(masks, labels), scale=4096)
        >>> loss.dim(), loss.requires_grad
        (0, True)
    """
    check_tensor(heatmaps, "heatmaps")
    check_tensor(labels, "labels")
    scale = check_number(scale, "scale", minimum=0.0, strict_min=True)
    if heatmaps.dim() != 4:
        raise ValueError(f"`heatmaps` must be (N, C, H, W), got shape {tuple(heatmaps.shape)}")
    if labels.shape != (heatmaps.shape[0], *heatmaps.shape[2:]):
        raise ValueError(
            f"`labels` must have shape {(heatmaps.shape[0], *heatmaps.shape[2:])} (N, H, W), "
            f"got {tuple(labels.shape)}"
        )
    if labels.is_floating_point():
        raise TypeError(f"`labels` must hold integer labels, got dtype {labels.dtype}")
    scores = with_background(heatmaps * scale, background)
    labels = labels.long()
    valid = labels != ignore_index
    n_scores = scores.shape[1]
    if bool((valid & ((labels < 0) | (labels >= n_scores))).any()):
        raise ValueError(
            f"`labels` must be in [0, {n_scores}) or {ignore_index} (ignored), got values "
            f"{sorted(set(labels[valid].unique().tolist()))}"
        )
    if not bool(valid.any()):
        return scores.sum() * 0.0
    return F.cross_entropy(scores, labels, ignore_index=ignore_index)


@dataclass(frozen=True)
class GuidedLoss:
    """The combined objective and its parts (``total`` keeps the graph)."""

    total: Tensor
    classification: Tensor
    segmentation: Tensor


def guided_loss(
    logits: Tensor,
    labels: Tensor,
    heatmaps: Tensor | None,
    pixel_targets: Tensor | None,
    *,
    classification_weight: float = 1.0,
    segmentation_weight: float = 1.0,
    background: float | Tensor | None = 0.0,
    scale: float = 1.0,
    ignore_index: int = IGNORE_INDEX,
) -> GuidedLoss:
    """Classification cross-entropy plus the heatmap segmentation loss, weighted.

    ``total = classification_weight * CE(logits, labels) + segmentation_weight *
    heatmap_segmentation_loss(heatmaps, pixel_targets)``; with ``heatmaps=None`` (no
    pixel-labelled image in the batch) the segmentation term is zero.

    Args:
        logits: (N, C) class scores of the whole batch.
        labels: (N,) image labels.
        heatmaps: (M, C, H, W) heatmaps of the pixel-labelled images, or ``None``.
        pixel_targets: (M, H, W) their pixel labels, or ``None``.
        classification_weight: weight of the classification term, >= 0.
        segmentation_weight: weight of the segmentation term, >= 0.
        background, scale, ignore_index: see :func:`heatmap_segmentation_loss`.

    Returns:
        A :class:`GuidedLoss`.
    """
    cw = check_number(classification_weight, "classification_weight", minimum=0.0)
    sw = check_number(segmentation_weight, "segmentation_weight", minimum=0.0)
    check_tensor(logits, "logits")
    cls = F.cross_entropy(logits, check_tensor(labels, "labels").long())
    if heatmaps is None or pixel_targets is None:
        if (heatmaps is None) != (pixel_targets is None):
            raise ValueError("pass both `heatmaps` and `pixel_targets`, or neither")
        seg = cls.new_zeros(())
    else:
        seg = heatmap_segmentation_loss(
            heatmaps, pixel_targets, background=background, scale=scale, ignore_index=ignore_index
        )
    return GuidedLoss(cw * cls + sw * seg, cls, seg)


def segment_heatmaps(
    heatmaps: Tensor, *, background: float | Tensor | None = 0.0, scale: float = 1.0
) -> Tensor:
    """(N, H, W) predicted pixel labels: the argmax of the background and class scores."""
    check_tensor(heatmaps, "heatmaps")
    if heatmaps.dim() != 4:
        raise ValueError(f"`heatmaps` must be (N, C, H, W), got shape {tuple(heatmaps.shape)}")
    with torch.no_grad():
        return with_background(heatmaps.detach() * scale, background).argmax(1)
