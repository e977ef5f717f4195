"""Test-only reference implementations of NAS's k-means, seeding, refinement and colour,
written independently of the package code: one image at a time, from the textbook
definitions, with NumPy where the step is plain bookkeeping. The package's batched,
blocked and border-only versions must give the same results bit for bit.

Bit-exactness needs the same floating-point operations, not the same code: member
sums are accumulated in point order (``np.add.at``), the seeding's cumulative weights
are float64 sums in point order, the Lloyd score is ``||c||^2 - 2 x.c`` (the constant
``||x||^2`` dropped) and the refinement's interpolated distance adds the four weighted
cells in source order. Choices keep the first of equal candidates, as ``argmin`` does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from captum_nas.segmentation.connectivity import _source_index
from captum_nas.segmentation.refine import _RGB2XYZ, _WHITE


def _sq_distances(points: Tensor, centre: Tensor) -> Tensor:
    """Squared distance (P,) of every point (P, D) to one centre (D,)."""
    diff = points - centre
    return (diff * diff).sum(-1)


def _draw(weights: np.ndarray, u: float) -> int:
    """Inverse-CDF draw: the first point whose cumulative weight reaches ``u`` times the
    total; all-zero weights (identical points) draw uniformly."""
    cdf = np.cumsum(weights)
    if cdf[-1] <= 0:
        cdf = np.arange(1, len(weights) + 1, dtype=np.float64)
    return min(int(np.searchsorted(cdf, u * cdf[-1], side="left")), len(weights) - 1)


def _seed_one(
    points: Tensor, k: int, uniforms: np.ndarray, groups: Tensor | None
) -> tuple[list[int], list[int]]:
    """k-means++ on one image: the indices of its ``k`` centres (and their groups)."""
    p = points.shape[0]
    chosen = [min(int(uniforms[0] * p), p - 1)]
    closest = _sq_distances(points, points[chosen[0]]).double().numpy()
    group_of = None if groups is None else groups.numpy()
    if group_of is not None:
        closest[group_of != group_of[chosen[0]]] = np.inf
    for u in uniforms[1:]:
        uncovered = np.isinf(closest)
        weights = uncovered.astype(np.float64) if uncovered.any() else closest
        chosen.append(_draw(weights, float(u)))
        dist = _sq_distances(points, points[chosen[-1]]).double().numpy()
        if group_of is not None:
            dist[group_of != group_of[chosen[-1]]] = np.inf
        closest = np.minimum(closest, dist)
    centre_groups = [] if group_of is None else [int(group_of[i]) for i in chosen]
    return chosen, centre_groups


def reference_kmeans_pp(
    x: Tensor, k: int, generator: torch.Generator, groups: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """k-means++ centres (N, K, D), and with ``groups`` the group of each centre (N, K).

    The ``k`` uniforms come from ``generator`` once, in float64, and every image uses
    the same ones (so an image seeds alike alone or in a batch).
    """
    uniforms = torch.rand(k, generator=generator, dtype=torch.float64).numpy()
    centres, centre_groups = [], []
    for i in range(x.shape[0]):
        chosen, picked_groups = _seed_one(
            x[i].cpu(), k, uniforms, None if groups is None else groups[i].cpu()
        )
        centres.append(x[i, chosen])
        centre_groups.append(picked_groups)
    if groups is None:
        return torch.stack(centres), None
    return torch.stack(centres), torch.tensor(centre_groups, device=x.device)


def _nearest(points: Tensor, centres: Tensor, allowed: Tensor | None) -> Tensor:
    """Nearest allowed centre of every point, by ``||c||^2 - 2 x.c``."""
    score = (centres * centres).sum(-1) - 2.0 * (points @ centres.T)
    if allowed is not None:
        score = score.masked_fill(~allowed, float("inf"))
    return score.argmin(-1)


def _lloyd_one(
    points: Tensor, centres: Tensor, allowed: Tensor | None, max_iter: int
) -> tuple[Tensor, Tensor, int]:
    """Lloyd's algorithm on one image: labels, centres and the iterations it ran."""
    k = centres.shape[0]
    labels = _nearest(points, centres, allowed)
    x_np = points.cpu().numpy()
    for step in range(1, max_iter + 1):
        lab_np = labels.cpu().numpy()
        sums = np.zeros((k, points.shape[1]), dtype=x_np.dtype)
        np.add.at(sums, lab_np, x_np)  # member sums in point order
        counts = np.bincount(lab_np, minlength=k).astype(x_np.dtype)
        means = torch.from_numpy(sums / np.maximum(counts, 1)[:, None]).to(points.device)
        centres = torch.where(torch.from_numpy(counts > 0)[:, None], means, centres)
        new = _nearest(points, centres, allowed)
        if torch.equal(new, labels):
            return labels, centres, step
        labels = new
    return labels, centres, max_iter


def reference_lloyd(
    x: Tensor, centroids: Tensor, allowed: Tensor | None, max_iter: int
) -> tuple[Tensor, Tensor, Tensor, int]:
    """Lloyd iterations from initial centres, image by image: labels (N, P), centroids
    (N, K, D), inertia (N,) and the iterations of the slowest image."""
    results = [
        _lloyd_one(x[i], centroids[i], None if allowed is None else allowed[i], max_iter)
        for i in range(x.shape[0])
    ]
    labels = torch.stack([r[0] for r in results])
    centres = torch.stack([r[1] for r in results])
    inertia = torch.stack([((x[i] - centres[i, labels[i]]) ** 2).sum() for i in range(x.shape[0])])
    return labels, centres, inertia, max(r[2] for r in results)


def reference_batched_kmeans(x: Tensor, n_clusters: int, *, max_iter: int = 30, seed: int = 0):
    """``batched_kmeans`` without groups or ``init``: reference seeding, then Lloyd."""
    from captum_nas.segmentation.kmeans import KMeansResult

    init, _ = reference_kmeans_pp(x, n_clusters, torch.Generator().manual_seed(int(seed)))
    labels, centroids, inertia, n_iter = reference_lloyd(x, init, None, max_iter)
    return KMeansResult(labels=labels, centroids=centroids, inertia=inertia, n_iter=n_iter)


def _refine_one(
    grid: Tensor, distances: Tensor, colors: Tensor, color_weight: float, iterations: int
) -> Tensor:
    """Full-resolution labels of one image (grid (h, w), distances (K, h*w), colours
    (C, H, W)): every pixel costs all four labels of its bilinear source cells."""
    (h, w), k = grid.shape, distances.shape[0]
    big_h, big_w = colors.shape[-2:]
    rows0, rows1, wy0, wy1 = _source_index(big_h, h, grid.device)
    cols0, cols1, wx0, wx1 = _source_index(big_w, w, grid.device)
    # the source cells in the order (top-left, top-right, bottom-left, bottom-right)
    corners = [(r, c, wy[:, None] * wx[None, :]) for r, wy in ((rows0, wy0), (rows1, wy1))
               for c, wx in ((cols0, wx0), (cols1, wx1))]  # fmt: skip
    cands = torch.stack([grid[r][:, c] for r, c, _ in corners]).reshape(4, -1)
    cell = [(r[:, None] * w + c[None, :]).reshape(-1) for r, c, _ in corners]
    weight = [wt.reshape(-1).to(distances.dtype) for _, _, wt in corners]
    # interpolated distance of every candidate: the four weighted cells added in turn
    interp = torch.stack(
        [
            weight[0] * distances[cand, cell[0]]
            + weight[1] * distances[cand, cell[1]]
            + weight[2] * distances[cand, cell[2]]
            + weight[3] * distances[cand, cell[3]]
            for cand in cands
        ]
    )
    pixels = torch.arange(cands.shape[1], device=grid.device)
    labels = cands[interp.argmin(0), pixels]
    if iterations <= 0 or color_weight <= 0:
        return labels.reshape(big_h, big_w)
    col = colors.reshape(colors.shape[0], -1).to(distances.dtype).cpu().numpy()
    for _ in range(iterations):
        lab_np = labels.cpu().numpy()
        counts = np.bincount(lab_np, minlength=k).astype(col.dtype)
        cost = interp.clone()
        for channel in col:
            sums = np.zeros(k, dtype=col.dtype)
            np.add.at(sums, lab_np, channel)  # in pixel order
            mean = torch.from_numpy(sums / np.maximum(counts, 1)).to(cands.device)
            diff = torch.from_numpy(channel).to(cands.device) - mean[cands]
            cost += diff * color_weight**2 * diff
        new = cands[cost.argmin(0), pixels]
        if torch.equal(new, labels):
            break
        labels = new
    return labels.reshape(big_h, big_w)


def reference_refine_labels(
    labels: Tensor, distances: Tensor, colors: Tensor, *, color_weight: float, iterations: int = 2
) -> Tensor:
    """``refine_labels`` image by image, costing every pixel (not only the borders)."""
    return torch.stack(
        [
            _refine_one(labels[i].long(), distances[i], colors[i], color_weight, iterations)
            for i in range(labels.shape[0])
        ]
    )


def reference_rgb_to_lab(images: Tensor) -> Tensor:
    """CIELAB (D65) by the textbook formulas, a new tensor per operation."""
    x = images.float().clamp(0.0, 1.0)
    lin = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = torch.einsum("ij,njhw->nihw", torch.tensor(_RGB2XYZ), lin)
    xyz = xyz / torch.tensor(_WHITE).view(1, 3, 1, 1)
    eps = 0.008856
    f = torch.where(xyz > eps, xyz.clamp_min(1e-12) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(1)
    lightness = torch.where(xyz[:, 1] > eps, 116.0 * fy - 16.0, 903.3 * xyz[:, 1])
    return torch.stack([lightness, 500.0 * (fx - fy), 200.0 * (fy - fz)], 1)
