"""Stateless (counter-based) random numbers: a pure function of (key, index, stream).

The synthetic data sets draw every random quantity of sample ``i`` from
``uniform(key, i, j)`` for a fixed stream number ``j``. Nothing depends on the other
samples of a batch, on a generator's state or on the number of DataLoader workers, so
random access, batch rendering and any worker count give the same samples.

The hash is a 32-bit integer mixer evaluated in int64 with multipliers below 2**27,
so no product overflows and the result is the same on every device.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import Tensor

_MASK32 = 0xFFFFFFFF
_MULT = 0x045D9F3B  # odd, < 2**27: x * _MULT < 2**59 for x < 2**32
_GOLDEN = 0x61C88647  # 2**32 - floor(2**32 / phi), odd, < 2**31

_Int = TypeVar("_Int", int, Tensor)


def mix32(x: _Int) -> _Int:
    """Bijective 32-bit avalanche mix of ``x`` (a Python int or an int64 tensor in [0, 2**32)).

    Args:
        x: values in [0, 2**32).

    Returns:
        Mixed values in [0, 2**32), of the same kind as ``x``.

    Example:
        >>> mix32(0) != mix32(1)
        True
    """
    x = x ^ (x >> 16)
    x = (x * _MULT) & _MASK32
    x = x ^ (x >> 16)
    x = (x * _MULT) & _MASK32
    return x ^ (x >> 16)


def derive_key(*parts: int) -> int:
    """A 32-bit key from non-negative integers of any size (seed, split id, ...).

    Args:
        *parts: non-negative Python ints.

    Returns:
        An int in [0, 2**32).

    Example:
        >>> derive_key(0, 1) != derive_key(1, 0)
        True
    """
    key = 0x2545F491
    for part in parts:
        if part < 0:
            raise ValueError(f"key parts must be non-negative, got {part}")
        words = [part & _MASK32]
        part >>= 32
        while part:
            words.append(part & _MASK32)
            part >>= 32
        for word in words + [len(words)]:
            key = mix32((key + _GOLDEN) & _MASK32 ^ mix32(word))
    return key


def uniform(key: int, indices: Tensor, n_streams: int) -> Tensor:
    """Uniform numbers in [0, 1) for every (index, stream) pair.

    Args:
        key: a 32-bit key from :func:`derive_key`.
        indices: int64 tensor (N,) of sample indices in [0, 2**32).
        n_streams: number of independent numbers per sample.

    Returns:
        float32 tensor (N, n_streams); row ``n`` depends only on ``(key, indices[n])``,
        with 24 random bits per number (exactly representable in float32).

    Example:
        >>> u = uniform(derive_key(0), torch.arange(3), 5)
        >>> bool((uniform(derive_key(0), torch.tensor([2]), 5) == u[2:]).all())
        True
    """
    idx = indices.to(torch.int64)
    row = mix32(mix32(idx) ^ key)
    streams = torch.arange(n_streams, dtype=torch.int64, device=idx.device)
    salt = mix32((streams * _GOLDEN + 0x3C6EF372) & _MASK32)
    bits = mix32(mix32(row[:, None] ^ salt[None, :]) ^ row[:, None])
    return (bits >> 8).to(torch.float32) * (1.0 / (1 << 24))
