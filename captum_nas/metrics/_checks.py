"""Argument checks shared by the metrics: maps, masks, thresholds, normalisation.

Conventions used by every metric of :mod:`captum_nas.metrics`:

* A *map* is a floating tensor (N, H, W), (N, 1, H, W) or (N, C, H, W). Channels are
  reduced by their **mean** (so a mask repeated over C channels keeps its [0, 1] range,
  and any ranking, argmax or mass ratio is the same as with the sum).
* A *mask* is a bool, integer or floating tensor (N, H, W) or (N, 1, H, W) holding only
  0 and 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from captum_nas._precision import accumulation_dtype
from captum_nas._types import FLOAT_DTYPES
from captum_nas._validation import check_tensor, describe

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
    if maps.dtype not in FLOAT_DTYPES:
        raise TypeError(f"`{name}` must be a floating point tensor, got dtype {maps.dtype}")
    if maps.numel() == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(maps.shape)})")
    if not bool(torch.isfinite(maps).all()):
        raise ValueError(f"`{name}` contains NaN or Inf values")
    if maps.dim() == 4:
        if maps.shape[1] == 1:
            maps = maps[:, 0]
        else:
            maps = maps.to(accumulation_dtype(maps.dtype)).mean(1).to(maps.dtype)
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


def flat_maps_and_masks(maps: Any, masks: Any) -> tuple[Tensor, Tensor, Tensor]:
    """Check maps and hard masks, then flatten both per image.

    Returns:
        The checked maps (see :func:`check_maps`), the maps as (N, H*W) and the masks
        as (N, H*W) bool.
    """
    m = check_maps(maps)
    gt = check_masks(masks, "masks", like=m)
    n = m.shape[0]
    return m, m.reshape(n, -1), gt.reshape(n, -1)


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
    "ceil_div",
    "check_maps",
    "check_masks",
    "check_thresholds",
    "chunk_rows",
    "default_cam_thresholds",
    "flat_maps_and_masks",
    "minmax_normalize",
]
