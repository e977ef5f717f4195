"""Colour features and full-resolution boundary refinement for NAS segments.

NAS clusters on a coarse working grid (e.g. 56x56 for 224 px inputs), so its segment
borders are blocky at the input resolution. :func:`refine_labels` moves the borders to
the image's edges: every input pixel chooses among the labels of its four bilinear
source cells on the grid the one whose cluster is nearest, where the distance is the bilinearly
interpolated grid distance to the cluster's centre (exactly the distance of the
interpolated embedding, up to a term the same for every cluster) plus a weighted
distance between the pixel's own colour and the cluster's mean colour at full
resolution. A few iterations update the mean colours. The work is O(N H W) per
iteration, independent of the number of clusters.
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_nas.segmentation.connectivity import _source_index
from captum_nas.segmentation.kmeans import cluster_means

# sRGB D65 -> XYZ, and the D65 white point
_RGB2XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_WHITE = (0.950456, 1.0, 1.088754)


def rgb_to_lab(images: Tensor) -> Tensor:
    """CIELAB (D65) of sRGB images in [0, 1], as scikit-image's ``rgb2lab``.

    Args:
        images: (N, 3, H, W) float tensor in [0, 1].

    Returns:
        (N, 3, H, W) with L in [0, 100] and a, b in about [-128, 127].

    Example:
        >>> rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten().round()  # doctest: +NORMALIZE_WHITESPACE
        tensor([100., 0., 0.])
    """
    # in place where a temporary is not needed again: the textbook formulas with fewer
    # full-size allocations (equal to them up to float rounding)
    x = images.float().clamp(0.0, 1.0)
    high = x > 0.04045
    lin = x + 0.055
    # ((x + 0.055) / 1.055) ** 2.4 as exp(2.4 log(.)): 2x faster than pow on CPU
    lin.div_(1.055).log_().mul_(2.4).exp_()
    lin = torch.where(high, lin, x.div_(12.92), out=lin)
    # XYZ relative to the white point: one (3, 3) matrix with the white folded in, as a
    # matmul over (N, 3, H*W) (a contiguous result; einsum's is 3x slower)
    m = (
        torch.tensor(_RGB2XYZ, dtype=torch.float64)
        / torch.tensor(_WHITE, dtype=torch.float64)[:, None]
    )
    n, _, h, w = lin.shape
    xyz = torch.matmul(m.to(lin), lin.reshape(n, 3, h * w)).reshape(n, 3, h, w)
    eps = 0.008856
    above = xyz > eps
    low_lightness = 903.3 * xyz[:, 1:2]
    f = xyz.clamp_min(1e-12).log_().mul_(1.0 / 3.0).exp_()  # cube root
    f = torch.where(above, f, xyz.mul_(7.787).add_(16.0 / 116.0), out=f)
    out = torch.empty_like(f)
    lightness = (116.0 * f[:, 1:2]).sub_(16.0)
    torch.where(above[:, 1:2], lightness, low_lightness, out=out[:, 0:1])
    torch.sub(f[:, 0:1], f[:, 1:2], out=out[:, 1:2]).mul_(500.0)
    torch.sub(f[:, 1:2], f[:, 2:3], out=out[:, 2:3]).mul_(200.0)
    return out


def color_features(images: Tensor) -> Tensor:
    """CIELAB scaled to about unit range (each channel divided by 100), (N, 3, H, W)."""
    return rgb_to_lab(images).div_(100.0)


def cluster_distances(points: Tensor, labels: Tensor, n_labels: int) -> Tensor:
    """Squared distance of every point to the mean of every label's points.

    Args:
        points: (N, P, D) features.
        labels: (N, P) ids in ``0..n_labels-1``.
        n_labels: number of ids.

    Returns:
        (N, n_labels, P); ids without points get a large distance.
    """
    centres, counts = cluster_means(points, labels, n_labels)
    dist = (
        (points * points).sum(-1).unsqueeze(1)
        - 2 * centres @ points.transpose(1, 2)
        + (centres * centres).sum(-1).unsqueeze(-1)
    ).clamp_min(0)
    return dist.masked_fill((counts == 0).unsqueeze(-1), torch.finfo(dist.dtype).max / 4)


def refine_labels(
    labels: Tensor,
    distances: Tensor,
    colors: Tensor,
    *,
    color_weight: float,
    iterations: int = 2,
) -> Tensor:
    """Bring grid labels to the colours' resolution with borders that follow the image.

    Only the pixels whose four source cells carry more than one label have a choice;
    the others keep that label, and the distances and colour costs are computed for the
    border pixels alone (the same arithmetic, so the same labels as computing them
    everywhere).

    Args:
        labels: (N, h, w) ids on the working grid.
        distances: (N, K, h * w) squared distance of every grid cell to every
            cluster's centre (see :func:`cluster_distances`).
        colors: (N, 3, H, W) per-pixel colour features at the output resolution.
        color_weight: weight of the colour features (the colour distance is scaled by
            its square, as a feature appended with this weight would be).
        iterations: colour updates; 0 assigns by the interpolated distances alone.

    Returns:
        LongTensor (N, H, W) of ids (a subset of the grid's, not relabelled).

    Example:
        >>> lab = torch.tensor([[[0, 1]]])
        >>> dist = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
        >>> refine_labels(lab, dist, torch.zeros(1, 3, 1, 4), color_weight=0.0).tolist()
        [[[0, 0, 1, 1]]]
    """
    n, h, w = labels.shape
    k = distances.shape[1]
    big_h, big_w = int(colors.shape[-2]), int(colors.shape[-1])
    big = big_h * big_w
    dev = labels.device
    dtype = distances.dtype
    lab = labels.long()
    # the four bilinear source cells of every output pixel, and their weights
    r0, r1, a0, a1 = _source_index(big_h, h, dev)
    c0, c1, b0, b1 = _source_index(big_w, w, dev)
    cells, weights, cands = [], [], []
    for rows, wy in ((r0, a0), (r1, a1)):
        rows_lab = lab.index_select(1, rows)  # (N, H, w)
        for cols, wx in ((c0, b0), (c1, b1)):
            cells.append((rows.view(-1, 1) * w + cols.view(1, -1)).reshape(-1))
            weights.append((wy.view(-1, 1) * wx.view(1, -1)).reshape(-1).to(dtype))
            cands.append(rows_lab.index_select(2, cols).reshape(n, big))
    out = cands[0].clone()  # (N, H*W): a pixel whose candidates agree keeps that label
    border = (cands[0] != cands[1]) | (cands[0] != cands[2]) | (cands[0] != cands[3])
    where = border.reshape(-1).nonzero().squeeze(1)  # flat (image, pixel) of the choices
    if where.numel() == 0:
        return out.reshape(n, big_h, big_w)
    img, pix = where // big, where % big
    cand_b = [cand.reshape(-1).index_select(0, where) for cand in cands]
    # interpolated distances of the border pixels' candidates (same order of operations
    # as over the whole image: zeros, then the four weighted cells added in turn)
    flat = distances.reshape(-1)
    img_base = img * (k * h * w)
    cell_b = [cell.index_select(0, pix) for cell in cells]
    weight_b = [weight.index_select(0, pix) for weight in weights]
    dists = []
    for cand in cand_b:
        base = img_base + cand * (h * w)
        d = torch.zeros(where.numel(), dtype=dtype, device=dev)
        for cell, weight in zip(cell_b, weight_b):
            d += flat.index_select(0, base + cell).mul_(weight)  # weight * distance
        dists.append(d)

    def pick(costs: list[Tensor]) -> Tensor:
        best_cost, best = costs[0], cand_b[0]
        for cost, cand in zip(costs[1:], cand_b[1:]):
            better = cost < best_cost
            best_cost = torch.where(better, cost, best_cost)
            best = torch.where(better, cand, best)
        return best

    chosen = pick(dists)
    out.view(-1)[where] = chosen
    if iterations <= 0 or color_weight <= 0:
        return out.reshape(n, big_h, big_w)
    n_ch = colors.shape[1]
    col = colors.reshape(n, n_ch, -1).to(dtype)  # (N, 3, HW)
    col_b = [col[:, ch].reshape(-1).index_select(0, where) for ch in range(n_ch)]
    ones = torch.ones_like(out, dtype=dtype)
    w2 = float(color_weight) ** 2
    mean_index = [img * k + cand for cand in cand_b]
    gathered, diff_buf, term = (torch.empty(where.numel(), dtype=dtype, device=dev) for _ in "abc")
    for _ in range(iterations):
        # the clusters' mean colours over every pixel (in pixel order, as before)
        counts = torch.zeros(n, k, dtype=dtype, device=dev).scatter_add_(1, out, ones)
        means = []
        for ch in range(n_ch):
            sums = torch.zeros(n, k, dtype=dtype, device=dev)
            means.append((sums.scatter_add_(1, out, col[:, ch]) / counts.clamp_min(1)).reshape(-1))
        costs = []
        for index, d in zip(mean_index, dists):
            cost = d.clone()
            for ch, mean in enumerate(means):
                picked = torch.index_select(mean, 0, index, out=gathered)
                diff = torch.sub(col_b[ch], picked, out=diff_buf)
                cost += torch.mul(diff, w2, out=term).mul_(diff)  # w2 * diff * diff
            costs.append(cost)
        new = pick(costs)
        if torch.equal(new, chosen):
            break
        chosen = new
        out.view(-1)[where] = chosen
    return out.reshape(n, big_h, big_w)
