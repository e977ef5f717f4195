"""Batched rendering of the procedural flowers, in torch (no loop over images).

Every random quantity of a sample is a column of a table of uniforms drawn from a
counter-based hash of ``(key, index)``; the drawing primitives are in
:mod:`captum_nas.datasets._draw`. The data-set API is :mod:`captum_nas.datasets.flowers`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from captum_nas.datasets import _draw as D
from captum_nas.datasets._random import uniform
from captum_nas.datasets.flower_classes import (
    DECIDING_PARTS,
    NUISANCE_PALETTE,
    PART_ID,
    class_colours,
    n_classes,
)

_N_ELLIPSES = 10
_N_BARS = 4
_N_GRATINGS = 3
_N_STREAMS = 256


class _Draws:
    """Hands out the columns of a (N, n_streams) table of uniforms in a fixed order."""

    def __init__(self, table: Tensor) -> None:
        self.table = table
        self.used = 0

    def __call__(self) -> Tensor:
        if self.used >= self.table.shape[1]:
            raise RuntimeError("not enough random streams; raise _N_STREAMS")
        column = self.table[:, self.used]
        self.used += 1
        return column


def _palette_colour(draws: _Draws, device: torch.device) -> Tensor:
    """A nuisance colour per image (N, 3): a palette entry plus a +-0.05 jitter."""
    palette = torch.tensor(NUISANCE_PALETTE, device=device)
    pick = (draws() * len(NUISANCE_PALETTE)).long().clamp_max(len(NUISANCE_PALETTE) - 1)
    jitter = torch.stack([draws(), draws(), draws()], dim=1) * 0.1 - 0.05
    return (palette[pick] + jitter).clamp(0.0, 1.0)


def _muted_colour(draws: _Draws) -> Tensor:
    """A low-saturation colour per image (N, 3)."""
    hue, sat, val = draws(), D.lerp(0.0, 0.35, draws()), D.lerp(0.25, 0.72, draws())
    return D.hsv_to_rgb(hue, sat, val)


def _draw_flower(draws: _Draws, xs: Tensor, ys: Tensor, height: int, width: int) -> Tensor:
    """Part ids (N, H, W) as float32 (0 background, see :data:`PART_NAMES`), one flower each."""
    scale = float(min(height, width))
    radius = D.lerp(0.13, 0.19, draws()) * scale
    length = D.lerp(1.6, 2.2, draws()) * radius
    theta = D.lerp(-math.pi / 3, math.pi / 3, draws())
    bend = D.lerp(-0.08, 0.08, draws())
    stem_width = torch.clamp(D.lerp(0.022, 0.035, draws()) * scale, min=1.5)
    # the flower lies within `reach` of the stem's midpoint, so it fits in the image
    reach = 0.5 * length + radius + bend.abs() * length + stem_width + 1.0
    mid_x = reach + (width - 2.0 * reach) * draws()
    mid_y = reach + (height - 2.0 * reach) * draws()
    ct, st = D.cos_sin(theta)  # stem direction (st, ct): theta = 0 points down
    head_x, head_y = mid_x - 0.5 * length * st, mid_y - 0.5 * length * ct
    dx, dy = xs - D.col(head_x), ys - D.col(head_y)
    along = dx * D.col(st) + dy * D.col(ct)
    across = dx * D.col(ct) - dy * D.col(st)
    r2 = dx * dx + dy * dy

    # stem: a band around the parabola across = curve * along^2, 0 <= along <= length
    curve = bend / length
    off = (across - (along * D.col(curve)) * along) * D.col(2.0 / stem_width)
    span = (along - D.col(0.5 * length)) * D.col(2.0 / length)
    stem = D.le(torch.maximum(off * off, span * span), 1.0)

    # leaves: lens shapes attached to the stem, pointing up and out
    first_side = torch.where(draws() < 0.5, -1.0, 1.0)
    second = (draws() < 0.6).to(torch.float32)
    leaves = torch.zeros_like(stem)
    for slot in range(2):
        base = radius * 1.1 + (length - 1.4 * radius) * draws()
        angle = D.lerp(math.radians(35), math.radians(70), draws())
        leaf_len = D.lerp(0.7, 1.0, draws()) * radius
        half_width = D.lerp(0.25, 0.35, draws()) * leaf_len
        side = first_side if slot == 0 else -first_side
        ca, sa = D.cos_sin(angle)
        # leaf axis in image coordinates: -cos(a) * stem direction + side * sin(a) * across
        axis_x = -ca * st + side * sa * ct
        axis_y = -ca * ct - side * sa * st
        base_across = curve * base * base
        bx = dx - D.col(base * st + base_across * ct)
        by = dy - D.col(base * ct - base_across * st)
        # t in [0, 1] along the leaf, |b| <= 4 t (1 - t) across it (b scaled by half_width)
        t = bx * D.col(axis_x / leaf_len) + by * D.col(axis_y / leaf_len)
        b = by * D.col(axis_x / (4.0 * half_width)) - bx * D.col(axis_y / (4.0 * half_width))
        leaf = D.le(b.abs(), t * (1.0 - t))
        if slot == 1:
            leaf = leaf * D.col(second)
        leaves = torch.maximum(leaves, leaf)

    # head: petals r <= R f(phi) with k lobes, a centre disc on top
    n_petals = (5 + draws() * 4).long().clamp_max(8)
    cp, sp = D.cos_sin(draws() * (2.0 * math.pi))
    inner = D.lerp(0.45, 0.65, draws())
    roundness = draws()
    centre_radius = D.lerp(0.25, 0.40, draws()) * radius
    r = torch.sqrt(r2).clamp_min_(1e-6)
    cos_k = D.chebyshev_cos((dx * D.col(cp) + dy * D.col(sp)) / r, n_petals, range(5, 9))
    lobe = (cos_k + 1.0) * 0.5
    lobe = torch.sqrt(lobe) * D.col(roundness) + lobe * D.col(1.0 - roundness)
    head = D.le(r, (lobe * D.col(1.0 - inner) + D.col(inner)) * D.col(radius))
    centre = D.le(r2, D.col(centre_radius * centre_radius))

    # painter's order = increasing part id, so the visible part is the largest id
    parts = torch.maximum(stem, leaves.mul_(float(PART_ID["leaves"])))
    parts = torch.maximum(parts, head.mul_(float(PART_ID["petals"])))
    return torch.maximum(parts, centre.mul_(float(PART_ID["centre"])))


def _draw_background(
    draws: _Draws, xs: Tensor, ys: Tensor, height: int, width: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Layer ids (N, H, W) float32, layer colours (N, L, 3) and texture gain (N, H, W)."""
    n = draws.table.shape[0]
    device = xs.device
    scale = float(min(height, width))
    colours = [_muted_colour(draws)]
    layer = torch.zeros((n, height, width), dtype=torch.float32, device=device)
    n_blobs = (D.lerp(4.0, _N_ELLIPSES + 1.0, draws())).long()
    for j in range(_N_ELLIPSES):
        cx, cy = draws() * width, draws() * height
        cx = torch.where(n_blobs > j, cx, -1e6)  # absent blobs are drawn far away
        semi_major = D.lerp(0.04, 0.16, draws()) * scale
        semi_minor = D.lerp(0.3, 1.0, draws()) * semi_major
        c, s = D.cos_sin(draws() * math.pi)
        use_palette = draws() < 0.3
        muted, nuisance = _muted_colour(draws), _palette_colour(draws, device)
        colours.append(torch.where(use_palette[:, None], nuisance, muted))
        blob = D.ellipse(xs - D.col(cx), ys - D.col(cy), semi_major, semi_minor, c, s)
        layer = torch.maximum(layer, blob.mul_(float(len(colours) - 1)))
    for _ in range(_N_BARS):
        cx, cy = draws() * width, draws() * height
        half_length = D.lerp(0.05, 0.2, draws()) * scale
        half_width = torch.clamp(D.lerp(0.006, 0.015, draws()) * scale, min=0.75)
        c, s = D.cos_sin(draws() * math.pi)
        colours.append(_palette_colour(draws, device))
        twig = D.bar(xs - D.col(cx), ys - D.col(cy), half_length, half_width, c, s)
        layer = torch.maximum(layer, twig.mul_(float(len(colours) - 1)))

    # texture gain: a light ramp plus gratings
    c, s = D.cos_sin(draws() * (2.0 * math.pi))
    ramp = D.lerp(0.0, 0.5, draws()) / scale
    gain = (xs - 0.5 * width) * D.col(ramp * c) + ((ys - 0.5 * height) * D.col(ramp * s) + 1.0)
    for _ in range(_N_GRATINGS):
        freq = D.lerp(3.0, 25.0, draws()) * (2.0 * math.pi / scale)
        c, s = D.cos_sin(draws() * math.pi)
        phase = draws() * (2.0 * math.pi)
        amp = D.lerp(0.02, 0.1, draws())
        gain = gain + D.grating(xs, ys, freq, c, s, phase) * D.col(amp)
    return layer, torch.stack(colours, dim=1), gain


def render_chunk(
    indices: Tensor,
    labels: Tensor | None,
    *,
    variant: str,
    key: int,
    height: int,
    width: int,
    device: torch.device,
) -> tuple[Tensor, Tensor, Tensor]:
    """Images in [0, 1] (N, 3, H, W), labels (N,) and float part ids (N, H, W) of a chunk."""
    n = indices.shape[0]
    draws = _Draws(uniform(key, indices.to(device), _N_STREAMS))
    n_cls = n_classes(variant)
    drawn = (draws() * n_cls).long().clamp_max(n_cls - 1)
    labels = drawn if labels is None else labels
    xs, ys = D.pixel_grid(height, width, device)
    parts = _draw_flower(draws, xs, ys, height, width)
    nuisance = torch.stack([_palette_colour(draws, device) for _ in range(4)], dim=1)
    layer, bg_colours, gain = _draw_background(draws, xs, ys, height, width)

    part_colours = nuisance.clone()  # (N, 4, 3) for stem, leaves, petals, centre
    deciding = class_colours(variant).to(device)[labels]  # (N, n_parts, 3)
    for j, (part, _) in enumerate(DECIDING_PARTS[variant]):
        part_colours[:, PART_ID[part] - 1] = deciding[:, j]
    table = torch.cat([bg_colours, part_colours], dim=1).transpose(1, 2)  # (N, 3, L + 4)
    # flower pixels take colour n_bg - 1 + part id, background pixels their layer's
    flower = parts.clamp_max(1.0)
    keep = 1.0 - flower
    index = (layer * keep + (parts + float(bg_colours.shape[1] - 1)) * flower).long()
    images = torch.gather(table, 2, index.reshape(n, 1, -1).expand(n, 3, -1))
    gain = gain * keep + flower  # exactly 1 on the flower
    images = images.reshape(n, 3, height, width).mul_(gain[:, None]).clamp_(0.0, 1.0)
    return images, labels, parts
