"""Batched drawing primitives for procedural images (one call draws one shape in N images).

Every shape is drawn in N images at once from per-image parameters of shape (N,).
Pixel-level work uses only exactly rounded float operations (+, -, *, /, sqrt,
comparisons), so a pixel's value does not depend on how many images share the batch
(vectorised and scalar code paths agree bit for bit). Transcendental functions are
evaluated on per-image parameters or 1-D profiles only, in float64 and rounded to
float32 (:func:`cos_sin`, :func:`sin64`), for the same reason.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import masks_to_boxes


def pixel_grid(
    height: int, width: int, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates ``xs`` (1, 1, W) and ``ys`` (1, H, 1), in pixels."""
    xs = torch.arange(width, device=device, dtype=torch.float32).add_(0.5)
    ys = torch.arange(height, device=device, dtype=torch.float32).add_(0.5)
    return xs.reshape(1, 1, width), ys.reshape(1, height, 1)


def col(values: Tensor) -> Tensor:
    """Per-image values (N,) as (N, 1, 1), to broadcast against (N, H, W) maps."""
    return values.reshape(-1, 1, 1)


def cos_sin(angle: Tensor) -> tuple[Tensor, Tensor]:
    """cos and sin of per-image angles (radians), computed in float64, rounded to float32."""
    a = angle.to(torch.float64)
    return a.cos().to(torch.float32), a.sin().to(torch.float32)


def sin64(x: Tensor) -> Tensor:
    """sin computed in float64 and rounded to float32 (for 1-D profiles)."""
    return x.to(torch.float64).sin().to(torch.float32)


def lerp(low: float, high: float, u: Tensor) -> Tensor:
    """Map uniforms ``u`` in [0, 1) to [low, high)."""
    return low + (high - low) * u


def hsv_to_rgb(hue: Tensor, saturation: Tensor, value: Tensor) -> Tensor:
    """Colours (N, 3) in [0, 1] from hue in [0, 1) (fraction of a turn), saturation, value."""
    h6 = (hue * 6.0)[:, None] + torch.tensor([5.0, 3.0, 1.0], device=hue.device)
    k = torch.where(h6 >= 6.0, h6 - 6.0, h6)  # (n + 6 h) mod 6 without a remainder kernel
    ramp = torch.minimum(torch.minimum(k, 4.0 - k), torch.ones_like(k)).clamp_min(0.0)
    return value[:, None] - (value * saturation)[:, None] * ramp


def le(a: Tensor, b: Tensor | float) -> Tensor:
    """``a <= b`` as a float 0/1 map of ``a``'s shape and dtype.

    Float indicators combine with fast arithmetic (``*`` for and, ``maximum`` for or,
    ``k *`` to paint layer ``k``); bool comparisons are several times slower on CPU.
    """
    return torch.le(a, b, out=torch.empty_like(a))


def ellipse(
    dx: Tensor, dy: Tensor, semi_major: Tensor, semi_minor: Tensor, cos: Tensor, sin: Tensor
) -> Tensor:
    """Filled ellipses as float 0/1 maps (N, H, W).

    Args:
        dx: x offsets from the centres, (N, 1, W).
        dy: y offsets from the centres, (N, H, 1).
        semi_major: semi-axis along the direction (cos, sin), (N,).
        semi_minor: the other semi-axis, (N,).
        cos: cosine of the major axis angle, (N,).
        sin: sine of the major axis angle, (N,).
    """
    ia, ib = col(1.0 / (semi_major * semi_major)), col(1.0 / (semi_minor * semi_minor))
    c, s = col(cos), col(sin)
    # (dx c + dy s)^2 / a^2 + (dy c - dx s)^2 / b^2 expanded into separable terms
    qa = c * c * ia + s * s * ib
    qc = s * s * ia + c * c * ib
    qb = 2.0 * c * s * (ia - ib)
    q = (qa * dx * dx + qc * dy * dy) + (qb * dx) * dy
    return q.le_(1.0)


def bar(
    dx: Tensor, dy: Tensor, half_length: Tensor, half_width: Tensor, cos: Tensor, sin: Tensor
) -> Tensor:
    """Filled rotated rectangles centred on the offsets' origin, float 0/1 maps (N, H, W)."""
    c, s = col(cos), col(sin)
    il, iw = col(1.0 / half_length), col(1.0 / half_width)
    along = dx * (c * il) + dy * (s * il)
    across = dy * (c * iw) - dx * (s * iw)
    return torch.maximum(along * along, across * across).le_(1.0)


def grating(
    xs: Tensor, ys: Tensor, frequency: Tensor, cos: Tensor, sin: Tensor, phase: Tensor
) -> Tensor:
    """Plane waves ``sin(f (x cos + y sin) + phase)``: (N, H, W), from separable 1-D profiles.

    Args:
        xs: (1, 1, W) pixel x coordinates.
        ys: (1, H, 1) pixel y coordinates.
        frequency: angular frequency in radians per pixel, (N,).
        cos: cosine of the wave direction, (N,).
        sin: sine of the wave direction, (N,).
        phase: phase in radians, (N,).
    """
    fx, fy = col(frequency * cos), col(frequency * sin)
    ax = fx.to(torch.float64) * xs.to(torch.float64) + col(phase).to(torch.float64)
    ay = fy.to(torch.float64) * ys.to(torch.float64)
    sin_x, cos_x = ax.sin().to(torch.float32), ax.cos().to(torch.float32)
    sin_y, cos_y = ay.sin().to(torch.float32), ay.cos().to(torch.float32)
    return sin_x * cos_y + cos_x * sin_y


def chebyshev_cos(x: Tensor, order: Tensor, orders: range) -> Tensor:
    """``cos(k t)`` from ``x = cos(t)`` for per-image orders ``k`` (Chebyshev T_k(x)).

    Args:
        x: cosines, (N, H, W), in [-1, 1].
        order: the order k of each image, (N,) integer tensor, values in ``orders``.
        orders: the possible orders (a range starting at 1 or more).
    """
    prev, cur = torch.ones_like(x), x
    out = torch.zeros_like(x)
    two_x = 2.0 * x
    for m in range(1, orders.stop):
        if m in orders:
            # one-hot weights: 0 * T + 1 * T_k sums exactly to T_k
            out = out + col((order == m).to(x.dtype)) * cur
        prev, cur = cur, two_x * cur - prev
    return out


def boxes_from_masks(masks: Tensor) -> Tensor:
    """Bounding boxes (N, 4) as (x0, y0, x1, y1), ends exclusive, of bool masks (N, 1, H, W).

    Empty masks get (0, 0, 0, 0). ``torchvision.ops.masks_to_boxes`` with exclusive ends.
    """
    n, _, h, w = masks.shape
    flat = masks.reshape(n, h, w)
    # torchvision's boxes have inclusive ends (and empty masks give zeros)
    box = masks_to_boxes(flat).long()
    box[:, 2:] += 1
    empty = ~flat.flatten(1).any(dim=1)
    return box.masked_fill(empty[:, None], 0)
