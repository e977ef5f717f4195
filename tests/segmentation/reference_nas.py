"""Test-only copies of NAS code as first released, to pin that faster versions give
the same results bit for bit: the full-resolution label refinement, costing all four
candidates of every pixel, and the k-means++ seeding, computing its distances over the
whole batch at once."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from captum_nas.segmentation.connectivity import _source_index


def _reference_sq_dist_to(x: Tensor, centre: Tensor, buf: Tensor) -> Tensor:
    """Squared distances (N, P) of points (N, P, D) to one centre per image (N, D).

    Direct differences (exact, no cancellation), written into ``buf`` and squared by a
    multiply: ``** 2`` on a large tensor is several times slower on CPU.
    """
    torch.sub(x, centre.unsqueeze(1), out=buf)
    return buf.mul_(buf).sum(-1)


def reference_kmeans_pp(
    x: Tensor, k: int, generator: torch.Generator, groups: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """k-means++ centres (N, K, D), and with ``groups`` the group of each centre (N, K)."""
    n, p, _ = x.shape
    # one uniform per step, shared by all images (batch == one-by-one)
    uniforms = torch.rand(k, generator=generator, dtype=torch.float64).to(x.device)
    batch = torch.arange(n, device=x.device)
    first = (uniforms[0] * p).long().clamp_(max=p - 1).expand(n)
    centres = [x[batch, first]]
    buf = torch.empty_like(x)
    closest = _reference_sq_dist_to(x, centres[0], buf)
    centre_groups: list[Tensor] = []
    if groups is not None:
        centre_groups.append(groups[batch, first])
        closest = closest.masked_fill(groups != centre_groups[0].unsqueeze(1), math.inf)
    # degenerate images (all points identical) fall back to uniform sampling
    uniform_cdf = torch.arange(1, p + 1, device=x.device, dtype=torch.float64).expand(n, p)
    for step in range(1, k):
        weights = closest.double()
        if groups is not None:
            # points of groups without a centre yet come first, drawn uniformly
            uncovered = torch.isinf(weights)
            weights = torch.where(uncovered.any(1, keepdim=True), uncovered.double(), weights)
        cdf = weights.cumsum(1)
        total = cdf[:, -1:]
        degenerate = total <= 0
        cdf = torch.where(degenerate, uniform_cdf, cdf)
        total = torch.where(degenerate, torch.full_like(total, float(p)), total)
        idx = torch.searchsorted(cdf, uniforms[step] * total).squeeze(1).clamp_(max=p - 1)
        centre = x[batch, idx]
        centres.append(centre)
        dist = _reference_sq_dist_to(x, centre, buf)
        if groups is not None:
            centre_groups.append(groups[batch, idx])
            dist = dist.masked_fill(groups != centre_groups[-1].unsqueeze(1), math.inf)
        torch.minimum(closest, dist, out=closest)
    return torch.stack(centres, 1), torch.stack(centre_groups, 1) if groups is not None else None


def reference_refine_labels(
    labels: Tensor,
    distances: Tensor,
    colors: Tensor,
    *,
    color_weight: float,
    iterations: int = 2,
) -> Tensor:
    """``refine_labels`` as first released: every pixel's four candidates costed."""
    n, h, w = labels.shape
    k = distances.shape[1]
    big_h, big_w = int(colors.shape[-2]), int(colors.shape[-1])
    dev = labels.device
    lab = labels.long().reshape(n, h * w)
    flat = distances.reshape(n, k * h * w)
    # the four bilinear source cells of every output pixel, and their weights
    r0, r1, a0, a1 = _source_index(big_h, h, dev)
    c0, c1, b0, b1 = _source_index(big_w, w, dev)
    cells, weights = [], []
    for rows, wy in ((r0, a0), (r1, a1)):
        for cols, wx in ((c0, b0), (c1, b1)):
            cells.append((rows.view(-1, 1) * w + cols.view(1, -1)).reshape(1, -1))
            weights.append((wy.view(-1, 1) * wx.view(1, -1)).reshape(1, -1).to(distances.dtype))
    # candidates: the labels of the four source cells; their interpolated distances
    cands = [lab.gather(1, cell.expand(n, -1)) for cell in cells]
    dists = []
    for cand in cands:
        base = cand * (h * w)
        d = torch.zeros(n, big_h * big_w, dtype=distances.dtype, device=dev)
        for cell, weight in zip(cells, weights):
            d += weight * flat.gather(1, base + cell)
        dists.append(d)

    def pick(costs: list[Tensor]) -> Tensor:
        best_cost, best = costs[0], cands[0]
        for cost, cand in zip(costs[1:], cands[1:]):
            better = cost < best_cost
            best_cost = torch.where(better, cost, best_cost)
            best = torch.where(better, cand, best)
        return best

    out = pick(dists)  # (N, H*W)
    if iterations <= 0 or color_weight <= 0:
        return out.reshape(n, big_h, big_w)
    col = colors.reshape(n, colors.shape[1], -1).to(distances.dtype)  # (N, 3, HW)
    ones = torch.ones_like(out, dtype=distances.dtype)
    w2 = float(color_weight) ** 2
    for _ in range(iterations):
        counts = torch.zeros(n, k, dtype=distances.dtype, device=dev).scatter_add_(1, out, ones)
        means = []
        for ch in range(col.shape[1]):
            sums = torch.zeros(n, k, dtype=distances.dtype, device=dev)
            means.append(sums.scatter_add_(1, out, col[:, ch]) / counts.clamp_min(1))
        costs = []
        for cand, d in zip(cands, dists):
            cost = d.clone()
            for ch, mean in enumerate(means):
                diff = col[:, ch] - mean.gather(1, cand)
                cost += w2 * diff * diff
            costs.append(cost)
        new = pick(costs)
        if torch.equal(new, out):
            break
        out = new
    return out.reshape(n, big_h, big_w)


# sRGB D65 -> XYZ, and the D65 white point
_REF_RGB2XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_REF_WHITE = (0.950456, 1.0, 1.088754)


def reference_rgb_to_lab(images: Tensor) -> Tensor:
    """``rgb_to_lab`` as first released (one new tensor per operation)."""
    x = images.float().clamp(0.0, 1.0)
    lin = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    m = torch.tensor(_REF_RGB2XYZ, dtype=lin.dtype, device=lin.device)
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    xyz = xyz / torch.tensor(_REF_WHITE, dtype=lin.dtype, device=lin.device).view(1, 3, 1, 1)
    eps = 0.008856
    f = torch.where(xyz > eps, xyz.clamp_min(1e-12) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    lightness = torch.where(xyz[:, 1:2] > eps, 116.0 * f[:, 1:2] - 16.0, 903.3 * xyz[:, 1:2])
    a = 500.0 * (f[:, 0:1] - f[:, 1:2])
    b = 200.0 * (f[:, 1:2] - f[:, 2:3])
    return torch.cat([lightness, a, b], 1)


def _reference_assign(x: Tensor, c: Tensor, allowed: Tensor | None = None) -> Tensor:
    """Nearest centre per point: argmin of ``||c||^2 - 2 x.c`` (``||x||^2`` is constant).

    ``allowed`` (N, P, K) bool restricts each point to some centres.
    """
    d = torch.baddbmm((c * c).sum(-1).unsqueeze(1), x, c.transpose(1, 2), alpha=-2.0)
    if allowed is not None:
        d = d.masked_fill_(~allowed, math.inf)
    return d.argmin(-1)


def reference_lloyd(
    x: Tensor, centroids: Tensor, allowed: Tensor | None, max_iter: int
) -> tuple[Tensor, Tensor, Tensor, int]:
    """The Lloyd loop of ``batched_kmeans`` as first released (every cluster summed again
    in every iteration): labels, centroids, inertia and iterations from initial centres."""
    n, p, d = x.shape
    k = centroids.shape[1]
    centroids = centroids.clone()
    labels = _reference_assign(x, centroids, allowed)
    # only images whose assignment still moves are iterated: a converged image is at a
    # fixed point of Lloyd's step, so dropping it gives the same result as iterating it,
    # and a batch costs what its images cost one by one
    active = torch.arange(n, device=x.device)
    xa, ca, la, aa = x, centroids, labels, allowed
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        na = xa.shape[0]
        # member sums per (image, cluster): one index_add over the flattened batch
        # (accumulates in point order, so an image's sums do not depend on the batch)
        flat_labels = (la + (torch.arange(na, device=x.device) * k).unsqueeze(1)).reshape(-1)
        sums = torch.zeros(na * k, d, dtype=x.dtype, device=x.device)
        sums.index_add_(0, flat_labels, xa.reshape(na * p, d))
        sums = sums.reshape(na, k, d)
        counts = torch.bincount(flat_labels, minlength=na * k).reshape(na, k).to(x.dtype)
        new = sums / counts.clamp_min(1).unsqueeze(-1)
        ca = torch.where((counts > 0).unsqueeze(-1), new, ca)
        new_la = _reference_assign(xa, ca, aa)
        moved = (new_la != la).any(1)
        la = new_la
        centroids[active] = ca
        labels[active] = la
        if not bool(moved.any()):
            break
        if not bool(moved.all()):
            keep = moved.nonzero().squeeze(1)
            active, xa, ca, la = active[keep], xa[keep], ca[keep], la[keep]
            aa = None if aa is None else aa[keep]
    # inertia from direct differences: the matmul expansion cancels badly far from 0
    assigned = centroids.gather(1, labels.unsqueeze(-1).expand(n, p, d))
    diff = x - assigned
    inertia = (diff * diff).sum((1, 2))
    return labels, centroids, inertia, n_iter


def reference_batched_kmeans(x: Tensor, n_clusters: int, *, max_iter: int = 30, seed: int = 0):
    """``batched_kmeans`` (flat, no groups) as first released, from the copies above."""
    from captum_nas.segmentation.kmeans import KMeansResult

    init, _ = reference_kmeans_pp(x, n_clusters, torch.Generator().manual_seed(int(seed)))
    labels, centroids, inertia, n_iter = reference_lloyd(x, init, None, max_iter)
    return KMeansResult(labels=labels, centroids=centroids, inertia=inertia, n_iter=n_iter)
