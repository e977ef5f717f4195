"""Semi-supervised semantic evaluation of saliency maps over segments (Boubekki et al. 2024).

A few pixels per image are labelled object (1) or background (0); every other pixel
is unlabelled (-1). Each segment takes the majority vote of its labelled pixels, so a
handful of clicks turns a segmentation (NAS segments follow what the model sees)
into an object mask, and the score is the share of the map's positive relevance that
falls on object segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from captum_nas._precision import accumulation_dtype
from captum_nas._validation import check_choice, check_segments, check_tensor
from captum_nas.metrics._checks import check_maps
from captum_nas.segmentation.base import relabel_contiguous

OBJECT = 1
BACKGROUND = 0
UNLABELLED = -1


@dataclass(frozen=True)
class SemanticMassResult:
    """Result of :func:`semantic_mass`.

    Attributes:
        mass: (N,) share of the map's positive relevance on object segments, in
            [0, 1]; higher is better.
        area_fraction: (N,) share of the counted pixels on object segments: the mass
            a uniform map would get (chance level).
        object_mask: (N, H, W) bool, pixels of segments voted object.
        segment_labels: (N, K) long per segment id: 1 object, 0 background,
            -1 no labelled pixel (or an id absent from the image).
    """

    mass: Tensor
    area_fraction: Tensor
    object_mask: Tensor
    segment_labels: Tensor


def semantic_mass(
    maps: Tensor,
    segments: Tensor,
    labelled_pixels: Tensor,
    *,
    unlabelled: str = "background",
) -> SemanticMassResult:
    """Share of positive relevance on segments that a few labelled pixels mark as object.

    Voting: a segment is object when it holds more object-labelled than
    background-labelled pixels, background when it holds at least as many background
    as object labels (ties go to background, the conservative choice), and
    unlabelled when it holds no labelled pixel. Unlabelled segments are treated as
    background (``unlabelled="background"``, default: their relevance counts in the
    total but never as object) or left out (``"exclude"``: their pixels count in
    neither the object mass nor the total). Images without object segments, or
    without positive relevance where it is counted, score 0.

    Higher is better; compare with ``area_fraction`` (the chance level). Sensitive to
    the segmentation (coarse segments inherit their votes over large areas), to the
    labelled pixels (few clicks leave many segments unlabelled: see ``unlabelled``)
    and to the map's sign (only the positive part counts).

    Args:
        maps: floating maps (N, H, W), (N, 1, H, W) or (N, C, H, W) (channels averaged).
        segments: integer segment ids (N, 1, H, W), (1, 1, H, W) or (N, H, W).
        labelled_pixels: integer tensor (N, H, W) or (N, 1, H, W) with 1 (object),
            0 (background) or -1 (unlabelled).
        unlabelled: "background" (default) or "exclude".

    Returns:
        :class:`SemanticMassResult` on the maps' device, masses in the maps' dtype.

    Example:
        >>> maps = torch.tensor([[[4.0, 4.0, 1.0, 1.0]]])
        >>> segments = torch.tensor([[[[0, 0, 1, 1]]]])
        >>> labels = torch.tensor([[[1, -1, -1, 0]]])
        >>> semantic_mass(maps, segments, labels).mass
        tensor([0.8000])
    """
    m = check_maps(maps)
    n, h, w = m.shape
    check_choice(unlabelled, "unlabelled", ("background", "exclude"))
    check_tensor(segments, "segments")
    seg_in = segments.unsqueeze(1) if segments.dim() == 3 else segments
    seg = relabel_contiguous(check_segments(seg_in, "segments", like=m.unsqueeze(1))).to(m.device)
    seg = seg.expand(n, 1, h, w).reshape(n, h * w)
    check_tensor(labelled_pixels, "labelled_pixels")
    lab = labelled_pixels
    if lab.dim() == 4 and lab.shape[1] == 1:
        lab = lab[:, 0]
    if lab.dim() != 3 or lab.shape != m.shape:
        raise ValueError(
            f"`labelled_pixels` must have shape ({n}, {h}, {w}) or ({n}, 1, {h}, {w}), got "
            f"{tuple(labelled_pixels.shape)}"
        )
    if lab.is_floating_point() or lab.is_complex() or lab.dtype == torch.bool:
        raise TypeError(
            f"`labelled_pixels` must be an integer tensor of -1/0/1, got dtype {lab.dtype}"
        )
    lab = lab.to(m.device).reshape(n, h * w).long()
    if bool(((lab < -1) | (lab > 1)).any()):
        raise ValueError("`labelled_pixels` must hold only 1 (object), 0 (background), -1")
    k = int(seg.max()) + 1
    zeros = torch.zeros(n, k, dtype=torch.long, device=m.device)
    obj_votes = zeros.scatter_add(1, seg, (lab == OBJECT).long())
    bg_votes = zeros.scatter_add(1, seg, (lab == BACKGROUND).long())
    seg_labels = torch.full_like(zeros, UNLABELLED)
    seg_labels = torch.where(bg_votes > 0, torch.full_like(zeros, BACKGROUND), seg_labels)
    seg_labels = torch.where(obj_votes > bg_votes, torch.full_like(zeros, OBJECT), seg_labels)
    pixel_label = seg_labels.gather(1, seg)
    is_obj = pixel_label == OBJECT
    counted = torch.ones_like(is_obj) if unlabelled == "background" else pixel_label != UNLABELLED
    work = accumulation_dtype(m.dtype)  # half-precision sums overflow on real images
    pos = m.reshape(n, h * w).to(work).clamp(min=0)
    total = (pos * counted).sum(1)
    inside = (pos * is_obj).sum(1)
    tiny = torch.finfo(work).tiny
    mass = torch.where(total > 0, inside / total.clamp(min=tiny), torch.zeros_like(total))
    n_counted = counted.sum(1)
    area = torch.where(
        n_counted > 0,
        is_obj.sum(1).to(work) / n_counted.clamp(min=1).to(work),
        torch.zeros_like(total),
    )
    return SemanticMassResult(
        mass=mass.to(m.dtype),
        area_fraction=area.to(m.dtype),
        object_mask=is_obj.reshape(n, h, w),
        segment_labels=seg_labels,
    )


__all__ = ["SemanticMassResult", "semantic_mass"]
