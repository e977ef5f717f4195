"""Argument checks shared by the public API.

Every check raises ``TypeError`` or ``ValueError`` naming the argument, what it got
and what was expected, so that bad input never turns into a plausible wrong answer.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def describe(value: Any) -> str:
    """Short description of ``value`` for error messages."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:200]


def check_tensor(value: Any, name: str) -> Tensor:
    """Raise ``TypeError`` unless ``value`` is a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {describe(value)}")
    return value


def check_image_batch(
    inputs: Any, name: str = "inputs", *, allow_integer: bool = False, finite: bool = True
) -> Tensor:
    """Check a batch of images of shape (N, C, H, W).

    Args:
        inputs: the value to check.
        name: the argument name used in error messages.
        allow_integer: accept integer dtypes (e.g. uint8 images).
        finite: reject NaN and Inf values.

    Returns:
        The same tensor.
    """
    check_tensor(inputs, name)
    if inputs.dim() != 4:
        raise ValueError(
            f"`{name}` must have shape (N, C, H, W), got {inputs.dim()}-D shape "
            f"{tuple(inputs.shape)}"
        )
    if inputs.shape[0] == 0:
        raise ValueError(f"`{name}` is an empty batch (shape {tuple(inputs.shape)})")
    if min(inputs.shape[1:]) == 0:
        raise ValueError(f"`{name}` has an empty dimension: shape {tuple(inputs.shape)}")
    if inputs.dtype not in _FLOAT_DTYPES:
        if not allow_integer or inputs.dtype == torch.bool or inputs.is_complex():
            raise TypeError(
                f"`{name}` must be a floating point tensor, got dtype {inputs.dtype}; "
                "convert images with `.float()` (and normalise them as the model expects)"
            )
    if finite and inputs.dtype in _FLOAT_DTYPES and not bool(torch.isfinite(inputs).all()):
        raise ValueError(f"`{name}` contains NaN or Inf values")
    return inputs


def check_segments(segments: Any, name: str = "segments", *, like: Tensor | None = None) -> Tensor:
    """Check a segment mask: integer tensor (N, 1, H, W) or (1, 1, H, W), ids >= 0.

    Args:
        segments: the value to check.
        name: the argument name used in error messages.
        like: when given, an (N, C, H, W) tensor the mask must match in batch size
            (or be broadcastable with N=1) and in spatial size.

    Returns:
        The mask as a ``torch.long`` tensor.
    """
    check_tensor(segments, name)
    if segments.is_floating_point() or segments.is_complex() or segments.dtype == torch.bool:
        raise TypeError(
            f"`{name}` must be an integer tensor of segment ids, got dtype {segments.dtype}"
        )
    if segments.dim() != 4 or segments.shape[1] != 1:
        raise ValueError(
            f"`{name}` must have shape (N, 1, H, W), got shape {tuple(segments.shape)}"
        )
    if segments.numel() == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(segments.shape)})")
    if int(segments.min()) < 0:
        raise ValueError(f"`{name}` has negative ids (min {int(segments.min())}); ids must be >= 0")
    if like is not None:
        n, _, h, w = like.shape
        if segments.shape[-2:] != (h, w):
            raise ValueError(
                f"`{name}` spatial size {tuple(segments.shape[-2:])} does not match the "
                f"inputs' {(h, w)}"
            )
        if segments.shape[0] not in (1, n):
            raise ValueError(
                f"`{name}` has batch size {segments.shape[0]}, expected 1 or {n} "
                "(the inputs' batch size)"
            )
    return segments.long()


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as int when it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}")
    return int(value)


def check_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
) -> float:
    """Return ``value`` as float when it is a finite real number in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {describe(value)}")
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"`{name}` must be finite, got {value}")
    if minimum is not None and (v <= minimum if strict_min else v < minimum):
        op = ">" if strict_min else ">="
        raise ValueError(f"`{name}` must be {op} {minimum}, got {value}")
    if maximum is not None and v > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}")
    return v


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` when it is one of ``choices``."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}")
    return value
