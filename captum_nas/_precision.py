"""Accumulation precision: sums over many half-precision values are taken in float32.

float16 holds values up to 65504 with 11 significant bits: the sum of the 50176
pixels of a 224 x 224 map of values around 10 overflows to ``inf``, and a running
sum stops growing once the next value is below half its precision. Reductions over
pixels therefore compute in :func:`accumulation_dtype` and cast the result back.
"""

from __future__ import annotations

import torch


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype to sum values of ``dtype`` in: float32 for float16, bfloat16 and
    float32, float64 for float64.

    Example:
        >>> accumulation_dtype(torch.float16), accumulation_dtype(torch.float64)
        (torch.float32, torch.float64)
    """
    return torch.promote_types(dtype, torch.float32)


__all__ = ["accumulation_dtype"]
