"""Helpers shared by the metrics: map and mask checks, normalisation, boxes, components.

Conventions used by every metric of :mod:`captum_nas.metrics`:

* A *map* is a floating tensor (N, H, W), (N, 1, H, W) or (N, C, H, W). Channels are
  reduced by their **mean** (so a mask repeated over C channels keeps its [0, 1] range,
  and any ranking, argmax or mass ratio is the same as with the sum).
* A *mask* is a bool, integer or floating tensor (N, H, W) or (N, 1, H, W) holding only
  0 and 1.
* A *box* is ``(x0, y0, x1, y1)`` in pixels with ``x1`` and ``y1`` exclusive, so its
  area is ``(x1 - x0) * (y1 - y0)``. Boxes come as a (N, B, 4) tensor or a list of N
  tensors (B_i, 4); with several boxes per image the best one counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_nas._validation import check_tensor, describe

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

#: Pixels processed per chunk by the connected-component labelling.
CHUNK_PIXELS = 2**23


def check_maps(maps: Any, name: str = "maps") -> Tensor:
    """Check a batch of maps and reduce it to (N, H, W).

    Args:
        maps: floating tensor (N, H, W), (N, 1, H, W) or (N, C, H, W), finite.
        name: argument name for error messages.

    Returns:
        The channel-mean map (N, H, W) in the input dtype and device.
    """
    check_tensor(maps, name)
    if maps.dim() not in (3, 4):
        raise ValueError(
            f"`{name}` must have shape (N, H, W), (N, 1, H, W) or (N, C, H, W), got "
            f"{maps.dim()}-D shape {tuple(maps.shape)}"
        )
    if maps.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"`{name}` must be a floating point tensor, got dtype {maps.dtype}")
    if maps.numel() == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(maps.shape)})")
    if not bool(torch.isfinite(maps).all()):
        raise ValueError(f"`{name}` contains NaN or Inf values")
    if maps.dim() == 4:
        maps = maps[:, 0] if maps.shape[1] == 1 else maps.mean(1)
    return maps


def check_masks(
    masks: Any,
    name: str,
    *,
    like: Tensor,
    nonempty: bool = True,
    soft: bool = False,
) -> Tensor:
    """Check ground-truth masks against maps (N, H, W).

    Args:
        masks: tensor (N, H, W) or (N, 1, H, W); bool, integer or floating, values 0/1
            (or in [0, 1] when ``soft``).
        name: argument name for error messages.
        like: the reduced maps (N, H, W) the masks must match.
        nonempty: raise when an image has no object pixel.
        soft: accept values in [0, 1] instead of only 0 and 1.

    Returns:
        A bool tensor (N, H, W), or for ``soft`` a tensor in ``like``'s dtype.
    """
    check_tensor(masks, name)
    if masks.dim() == 4:
        if masks.shape[1] != 1:
            raise ValueError(
                f"`{name}` must have shape (N, H, W) or (N, 1, H, W), got {tuple(masks.shape)}"
            )
        masks = masks[:, 0]
    if masks.dim() != 3:
        raise ValueError(
            f"`{name}` must have shape (N, H, W) or (N, 1, H, W), got {masks.dim()}-D shape "
            f"{tuple(masks.shape)}"
        )
    if masks.shape != like.shape:
        raise ValueError(
            f"`{name}` has shape {tuple(masks.shape)} (channel dim removed), which does not "
            f"match the maps' {tuple(like.shape)}"
        )
    if masks.is_complex():
        raise TypeError(f"`{name}` must be bool, integer or floating, got {masks.dtype}")
    if masks.device != like.device:
        raise ValueError(f"`{name}` is on {masks.device} but the maps are on {like.device}")
    if masks.dtype == torch.bool:
        out = masks
        is_binary = True
    else:
        if masks.is_floating_point() and not bool(torch.isfinite(masks).all()):
            raise ValueError(f"`{name}` contains NaN or Inf values")
        is_binary = bool(((masks == 0) | (masks == 1)).all())
        if not is_binary:
            if not soft:
                raise ValueError(f"`{name}` must hold only 0 and 1 (or be a bool tensor)")
            if not bool(((masks >= 0) & (masks <= 1)).all()):
                raise ValueError(f"`{name}` must hold values in [0, 1]")
        out = masks != 0 if is_binary else masks
    if nonempty:
        empty = (out.reshape(out.shape[0], -1) > 0).sum(1) == 0
        if bool(empty.any()):
            idx = torch.nonzero(empty).flatten().tolist()
            raise ValueError(
                f"`{name}` has no object pixel in image(s) {idx[:10]}; these metrics are "
                "undefined without an object, drop such images first"
            )
    if soft:
        return out.to(like.dtype)
    return out


def minmax_normalize(maps: Tensor) -> Tensor:
    """Min-max normalise each map (N, H, W) to [0, 1].

    A constant map becomes all zeros (never NaN), so it never exceeds a threshold.

    Example:
        >>> minmax_normalize(torch.tensor([[[1.0, 3.0]], [[2.0, 2.0]]])).flatten()
        tensor([0., 1., 0., 0.])
    """
    flat = maps.reshape(maps.shape[0], -1)
    lo = flat.amin(1, keepdim=True)
    span = flat.amax(1, keepdim=True) - lo
    safe = torch.where(span > 0, span, torch.ones_like(span))
    out = torch.where(span > 0, (flat - lo) / safe, torch.zeros_like(flat))
    return out.reshape(maps.shape)


def check_thresholds(value: Any, name: str, like: Tensor) -> tuple[Tensor, bool]:
    """Thresholds as a 1-D tensor in ``like``'s dtype and device.

    Args:
        value: a number, a sequence of numbers or a 1-D tensor, finite.
        name: argument name for error messages.
        like: tensor giving dtype and device.

    Returns:
        (thresholds (T,), was_scalar)
    """
    scalar = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, Tensor):
        t = value.detach()
        scalar = t.dim() == 0
    elif isinstance(value, bool):
        raise TypeError(f"`{name}` must be a number or a sequence of numbers, got {value!r}")
    elif scalar:
        t = torch.tensor(float(value), dtype=torch.float64)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 0 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise TypeError(
                f"`{name}` must be a non-empty sequence of numbers, got {describe(value)}"
            )
        t = torch.tensor([float(v) for v in value], dtype=torch.float64)
    else:
        raise TypeError(
            f"`{name}` must be a number or a sequence of numbers, got {describe(value)}"
        )
    t = t.reshape(-1).to(device=like.device, dtype=like.dtype)
    if t.numel() == 0:
        raise ValueError(f"`{name}` is empty")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"`{name}` must be finite, got {t.tolist()}")
    return t, scalar


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


@dataclass(frozen=True)
class Components:
    """Connected components of a batch of binary masks, as a flat list.

    Attributes:
        mask_index: LongTensor (K,), the mask each component belongs to.
        boxes: LongTensor (K, 4), bounding boxes ``(x0, y0, x1, y1)``, ends exclusive.
        sizes: LongTensor (K,), number of pixels.
        run_component: LongTensor (R,), the component (0..K-1) of each horizontal run.
        runs: LongTensor (R, 4) ``(mask, y, x0, x1)`` of each run, x1 exclusive.
    """

    mask_index: Tensor
    boxes: Tensor
    sizes: Tensor
    run_component: Tensor
    runs: Tensor


def connected_components(binary: Tensor, *, connectivity: int = 8) -> Components:
    """Connected components of a batch of binary masks, vectorised in torch.

    Each row is cut into runs of foreground pixels (one pass over the pixels); every
    run is linked to the runs of the row above that touch it (found by binary search,
    8-connectivity widens the run by one pixel on each side), and the run graph is
    solved by hooking and pointer jumping (union-find, all links at once). Only the
    run extraction touches every pixel; the iterations run on the much smaller run
    graph. Components are ordered by mask, then by their first pixel in raster order.

    Args:
        binary: bool tensor (M, H, W).
        connectivity: 8 (default, like OpenCV's contours) or 4.

    Returns:
        A :class:`Components` with every component's mask, bounding box and size.

    Example:
        >>> c = connected_components(torch.tensor([[[1, 0, 1], [0, 0, 1]]], dtype=torch.bool))
        >>> c.boxes
        tensor([[0, 0, 1, 1],
                [2, 0, 3, 2]])
    """
    if connectivity not in (4, 8):
        raise ValueError(f"`connectivity` must be 4 or 8, got {connectivity!r}")
    if binary.dtype != torch.bool or binary.dim() != 3:
        raise ValueError(f"`binary` must be a bool tensor (M, H, W), got {describe(binary)}")
    _, h, w = binary.shape
    device = binary.device
    # runs: transitions along each row of the mask padded with a background column
    # on both sides alternate start, end, start, end, ...
    padded = F.pad(binary, (1, 1), value=False)
    trans = torch.nonzero((padded[..., 1:] ^ padded[..., :-1]).reshape(-1)).squeeze(1)
    trans = trans.reshape(-1, 2)
    row = torch.div(trans[:, 0], w + 1, rounding_mode="floor")  # global row id m * h + y
    r_x0 = trans[:, 0] % (w + 1)
    r_x1 = trans[:, 1] % (w + 1)
    r_mask = torch.div(row, h, rounding_mode="floor")
    r_y = row % h
    n_runs = row.numel()
    runs = torch.stack([r_mask, r_y, r_x0, r_x1], 1)
    # links: a run touches the runs of the row above whose interval meets its own
    # (widened by one pixel for 8-connectivity); these form a contiguous range
    delta = 1 if connectivity == 8 else 0
    stride = w + 2
    start_key = row * stride + r_x0
    end_key = row * stride + r_x1
    lo = torch.searchsorted(end_key, (row - 1) * stride + r_x0 - delta, right=True)
    hi = torch.searchsorted(start_key, (row - 1) * stride + r_x1 + delta, right=False)
    counts = torch.where(r_y > 0, (hi - lo).clamp(min=0), torch.zeros_like(lo))
    eb = torch.repeat_interleave(torch.arange(n_runs, device=device), counts)
    offsets = torch.cumsum(counts, 0) - counts
    ea = lo[eb] + torch.arange(eb.numel(), device=device) - offsets[eb]
    parent = torch.arange(n_runs, device=device)
    while ea.numel() > 0:
        pa, pb = parent[ea], parent[eb]
        differ = pa != pb
        if not bool(differ.any()):
            break
        ea, eb, pa, pb = ea[differ], eb[differ], pa[differ], pb[differ]
        lo = torch.minimum(pa, pb)
        parent.scatter_reduce_(0, pa, lo, reduce="amin")
        parent.scatter_reduce_(0, pb, lo, reduce="amin")
        while True:
            nxt = parent[parent]
            if torch.equal(nxt, parent):
                break
            parent = nxt
    is_root = parent == torch.arange(n_runs, device=device)
    comp_of_root = torch.cumsum(is_root.long(), 0) - 1
    run_component = comp_of_root[parent]
    k = int(is_root.sum())
    sizes = torch.zeros(k, dtype=torch.long, device=device).scatter_add(
        0, run_component, r_x1 - r_x0
    )
    big = torch.full((k,), max(h, w) + 1, dtype=torch.long, device=device)
    neg = torch.full((k,), -1, dtype=torch.long, device=device)
    boxes = torch.stack(
        [
            big.scatter_reduce(0, run_component, r_x0, reduce="amin"),
            big.scatter_reduce(0, run_component, r_y, reduce="amin"),
            neg.scatter_reduce(0, run_component, r_x1, reduce="amax"),
            neg.scatter_reduce(0, run_component, r_y + 1, reduce="amax"),
        ],
        1,
    )
    return Components(r_mask[is_root], boxes, sizes, run_component, runs)


def label_components(binary: Tensor, *, connectivity: int = 8) -> Tensor:
    """Pixel labels of :func:`connected_components`: (M, H, W), -1 on background.

    Component ids run 0..K_m-1 within each mask, in raster order of first pixels.

    Example:
        >>> label_components(torch.tensor([[[1, 0, 1]]], dtype=torch.bool))
        tensor([[[ 0, -1,  1]]])
    """
    m, h, w = binary.shape
    comps = connected_components(binary, connectivity=connectivity)
    first = torch.full((m,), comps.sizes.numel(), dtype=torch.long, device=binary.device)
    ids = torch.arange(comps.sizes.numel(), device=binary.device)
    first = first.scatter_reduce(0, comps.mask_index, ids, reduce="amin")
    local = comps.run_component - first[comps.runs[:, 0]]
    # write each run's label on its pixels: +label at x0, -label at x1, cumulative sum
    delta = torch.zeros(m, h, w + 1, dtype=torch.long, device=binary.device)
    r = comps.runs
    delta.index_put_((r[:, 0], r[:, 1], r[:, 2]), local + 1, accumulate=True)
    delta.index_put_((r[:, 0], r[:, 1], r[:, 3]), -(local + 1), accumulate=True)
    return delta.cumsum(2)[..., :w] - 1


def chunk_rows(total: int, per_row: int, budget: int = CHUNK_PIXELS) -> int:
    """Rows per chunk so that ``rows * per_row`` stays within ``budget`` (at least 1)."""
    return max(1, min(total, budget // max(1, per_row)))


def default_cam_thresholds(like: Tensor) -> Tensor:
    """The WSOL grid 0.00, 0.01, ..., 0.99 (thresholds are strict: value > t)."""
    return torch.arange(100, device=like.device, dtype=torch.float64).div(100).to(like.dtype)


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling of a / b."""
    return -(-a // b)


__all__ = [
    "CHUNK_PIXELS",
    "box_iou",
    "boxes_to_mask",
    "ceil_div",
    "check_boxes",
    "check_maps",
    "check_masks",
    "check_thresholds",
    "chunk_rows",
    "Components",
    "connected_components",
    "default_cam_thresholds",
    "label_components",
    "minmax_normalize",
]
