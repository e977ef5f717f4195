"""Bounding boxes for the metrics: validation, rasterisation and IoU.

A *box* is ``(x0, y0, x1, y1)`` in pixels with ``x1`` and ``y1`` exclusive, so its area
is ``(x1 - x0) * (y1 - y0)``. Boxes come as a (N, B, 4) tensor or a list of N tensors
(B_i, 4); with several boxes per image the best one counts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from captum_nas._validation import check_tensor, describe


def check_boxes(
    boxes: Any, name: str, *, n: int, height: int, width: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Validate boxes and pad them to (N, B, 4).

    Args:
        boxes: a (N, B, 4) tensor or a list of N tensors (B_i, 4), ``(x0, y0, x1, y1)``
            with ``0 <= x0 < x1 <= width`` and ``0 <= y0 < y1 <= height``.
        name: argument name for error messages.
        n: batch size the boxes must match.
        height: image height.
        width: image width.
        device: device of the maps.

    Returns:
        (boxes (N, B, 4) float64, valid (N, B) bool); padding rows are zeros and invalid.
    """
    if isinstance(boxes, Tensor):
        if boxes.dim() == 2 and boxes.shape[-1] == 4 and n == 1:
            boxes = boxes.unsqueeze(0)
        if boxes.dim() != 3 or boxes.shape[-1] != 4:
            raise ValueError(
                f"`{name}` must be a (N, B, 4) tensor or a list of N (B_i, 4) tensors, got "
                f"shape {tuple(boxes.shape)}"
            )
        if boxes.shape[0] != n:
            raise ValueError(f"`{name}` has {boxes.shape[0]} images, the maps have {n}")
        if boxes.shape[1] == 0:
            raise ValueError(f"`{name}` has no box per image (shape {tuple(boxes.shape)})")
        items = [boxes]
        padded = boxes
        valid = torch.ones(boxes.shape[:2], dtype=torch.bool, device=boxes.device)
    elif isinstance(boxes, (list, tuple)):
        if len(boxes) != n:
            raise ValueError(f"`{name}` has {len(boxes)} entries, the maps have {n} images")
        items = []
        for i, b in enumerate(boxes):
            b = check_tensor(b, f"{name}[{i}]")
            if b.dim() == 1 and b.shape[0] == 4:
                b = b.unsqueeze(0)
            if b.dim() != 2 or b.shape[1] != 4 or b.shape[0] == 0:
                raise ValueError(
                    f"`{name}[{i}]` must have shape (B, 4) with B >= 1, got {tuple(b.shape)}"
                )
            items.append(b)
        b_max = max(b.shape[0] for b in items)
        padded = torch.zeros(n, b_max, 4, dtype=torch.float64, device=device)
        valid = torch.zeros(n, b_max, dtype=torch.bool, device=device)
        for i, b in enumerate(items):
            padded[i, : b.shape[0]] = b.to(device=device, dtype=torch.float64)
            valid[i, : b.shape[0]] = True
    else:
        raise TypeError(
            f"`{name}` must be a (N, B, 4) tensor or a list of (B_i, 4) tensors, got "
            f"{describe(boxes)}"
        )
    for b in items:
        if b.is_complex() or b.dtype == torch.bool:
            raise TypeError(f"`{name}` must hold real numbers, got dtype {b.dtype}")
    padded = padded.to(device=device, dtype=torch.float64)
    valid = valid.to(device)
    if not bool(torch.isfinite(padded).all()):
        raise ValueError(f"`{name}` contains NaN or Inf values")
    x0, y0, x1, y1 = padded.unbind(-1)
    bad = valid & ((x0 < 0) | (y0 < 0) | (x1 > width) | (y1 > height) | (x1 <= x0) | (y1 <= y0))
    if bool(bad.any()):
        i, j = (int(v) for v in torch.nonzero(bad)[0])
        raise ValueError(
            f"`{name}`: box {padded[i, j].tolist()} of image {i} is invalid; boxes are "
            f"(x0, y0, x1, y1) with 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height} "
            "(x1, y1 exclusive)"
        )
    return padded, valid


def boxes_to_mask(boxes: Tensor, valid: Tensor, height: int, width: int) -> Tensor:
    """Union of each image's boxes as a bool mask (N, H, W).

    Box edges are rounded outwards to whole pixels (floor of x0/y0, ceil of x1/y1).
    """
    ys = torch.arange(height, device=boxes.device, dtype=boxes.dtype).view(1, 1, height, 1)
    xs = torch.arange(width, device=boxes.device, dtype=boxes.dtype).view(1, 1, 1, width)
    x0 = boxes[..., 0].floor()[..., None, None]
    y0 = boxes[..., 1].floor()[..., None, None]
    x1 = boxes[..., 2].ceil()[..., None, None]
    y1 = boxes[..., 3].ceil()[..., None, None]
    inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1) & valid[..., None, None]
    return inside.any(1)


def box_iou(pred: Tensor, gt: Tensor) -> Tensor:
    """IoU of boxes with exclusive ends; broadcasting over leading dims, last dim 4.

    Degenerate boxes (zero area) give IoU 0.
    """
    ix = torch.minimum(pred[..., 2], gt[..., 2]) - torch.maximum(pred[..., 0], gt[..., 0])
    iy = torch.minimum(pred[..., 3], gt[..., 3]) - torch.maximum(pred[..., 1], gt[..., 1])
    inter = ix.clamp(min=0) * iy.clamp(min=0)
    area_p = (pred[..., 2] - pred[..., 0]).clamp(min=0) * (pred[..., 3] - pred[..., 1]).clamp(min=0)
    area_g = (gt[..., 2] - gt[..., 0]).clamp(min=0) * (gt[..., 3] - gt[..., 1]).clamp(min=0)
    union = area_p + area_g - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))


__all__ = ["box_iou", "boxes_to_mask", "check_boxes"]
