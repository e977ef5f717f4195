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

from captum_nas._validation import check_positive_int
from captum_nas.segmentation.base import batch_ids
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
    # in place where a temporary is not needed again: the same operations, in the same
    # order, as the textbook formulas, with fewer full-size allocations
    x = images.float().clamp(0.0, 1.0)
    high = x > 0.04045
    lin = x + 0.055
    lin.div_(1.055).pow_(2.4)  # ((x + 0.055) / 1.055) ** 2.4
    lin = torch.where(high, lin, x.div_(12.92), out=lin)
    m = torch.tensor(_RGB2XYZ, dtype=lin.dtype, device=lin.device)
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    xyz.div_(torch.tensor(_WHITE, dtype=lin.dtype, device=lin.device).view(1, 3, 1, 1))
    eps = 0.008856
    above = xyz > eps
    low_lightness = 903.3 * xyz[:, 1:2]
    f = xyz.clamp_min(1e-12).pow_(1.0 / 3.0)
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


def cluster_distances(
    points: Tensor, labels: Tensor, n_labels: int, *, dims: int | None = None
) -> Tensor:
    """Squared distance of every point to the mean of every label's points.

    Args:
        points: (N, P, D) features.
        labels: (N, P) ids in ``0..n_labels-1``.
        n_labels: number of ids.
        dims: only the first ``dims`` features count, an integer in ``1..D`` (default:
            all ``D``); the same distances as passing ``points[..., :dims]``, without
            copying the slice.

    Returns:
        (N, n_labels, P); ids without points get a large distance.

    Raises:
        TypeError, ValueError: ``dims`` not an integer in ``1..D``.

    Example:
        >>> pts = torch.tensor([[[0.0, 9.0], [2.0, 9.0], [5.0, -9.0]]])
        >>> cluster_distances(pts, torch.tensor([[0, 0, 1]]), 2, dims=1).tolist()
        [[[1.0, 1.0, 16.0], [25.0, 9.0, 0.0]]]
    """
    d = points.shape[-1] if dims is None else check_positive_int(dims, "dims")
    if d > points.shape[-1]:
        raise ValueError(f"`dims` must be at most the {points.shape[-1]} features, got {d}")
    # the means of every feature, then the first ``d``: a feature's sums do not depend on
    # the others (``index_add_`` adds whole rows, and strided rows one by one, several
    # times slower than dense ones)
    centres, counts = cluster_means(points.contiguous(), labels, n_labels)
    centres = centres[..., :d]
    used = points[..., :d]
    # |p|^2 - 2 c.p + |c|^2 in place: (-2 c).p is exactly -(2 c.p), so adding it is
    # exactly subtracting
    dist = torch.bmm(centres * -2, used.transpose(1, 2))
    dist.add_((used * used).sum(-1).unsqueeze(1)).add_((centres * centres).sum(-1).unsqueeze(-1))
    dist.clamp_min_(0)
    return dist.masked_fill_((counts == 0).unsqueeze(-1), torch.finfo(dist.dtype).max / 4)


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
    the others keep that label. The distances and colour costs are computed for the
    border pixels alone, once per distinct label among a pixel's four candidates, with
    the same arithmetic, so the labels are those of costing all four candidates of
    every pixel, bit for bit (ties go to the first candidate in source order).

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
    big, hw = big_h * big_w, h * w
    dev = labels.device
    dtype = distances.dtype
    # Every output pixel's four bilinear source cells are those of its block: the grid
    # cell (r0, c0) and its neighbours below and to the right (clamped to the grid), so
    # labels and cells are found once per block, and weights once per pixel position.
    r0, _, a0, a1 = _source_index(big_h, h, dev)
    c0, _, b0, b1 = _source_index(big_w, w, dev)
    below = (torch.arange(h, device=dev) + 1).clamp_(max=h - 1)
    right = (torch.arange(w, device=dev) + 1).clamp_(max=w - 1)
    lab = labels.long()
    lab_below = lab.index_select(1, below)
    quad = [  # (top-left, top-right, bottom-left, bottom-right) label of every block
        q.reshape(n * hw)
        for q in (lab, lab.index_select(2, right), lab_below, lab_below.index_select(2, right))
    ]
    # A label costs the same wherever it appears among a pixel's four candidates, and
    # ``pick`` keeps the first of equal costs, so only the order of each label's first
    # appearance matters: a repeat is never picked over its first appearance. Most
    # border blocks carry two labels: candidate 0 and the first candidate that differs
    # from it ("slots" 0 and 1); blocks with three or four also cost candidates 2 and 3
    # (after slot 1, which is one of candidates 1-3, their first appearances keep
    # their order).
    new1 = quad[1] != quad[0]
    new2 = (quad[2] != quad[0]) & (quad[2] != quad[1])
    new3 = (quad[3] != quad[0]) & (quad[3] != quad[1]) & (quad[3] != quad[2])
    slots = [quad[0], torch.where(new1, quad[1], torch.where(new2, quad[2], quad[3]))]
    slots += quad[2:]
    extra = new1.to(torch.uint8) + new2 + new3  # distinct labels - 1
    # candidate 0 everywhere (the choice of the pixels whose four cells agree), and
    # the border pixels
    cols = c0.expand(n, big_h, big_w)
    out = lab.index_select(1, r0).gather(2, cols).reshape(n, big)
    border = extra.view(n, h, w).bool().index_select(1, r0).gather(2, cols)
    img, pix = (i.contiguous() for i in border.reshape(n, big).nonzero().unbind(1))
    if img.numel() == 0:
        return out.reshape(n, big_h, big_w)
    where = img * big + pix  # flat (image, pixel)
    block_of = (r0.view(-1, 1) * w + c0.view(1, -1)).reshape(-1)  # (H*W,) block of a pixel
    blk = block_of.index_select(0, pix).add_(img * hw)  # flat (image, block)
    img_k = img * k
    # the pixels with three or four distinct labels (few) also cost slots 2 and 3
    many = (extra.index_select(0, blk) > 1).nonzero().squeeze(1)
    blk_m = blk.index_select(0, many)
    pix_m = pix.index_select(0, many)
    # the interpolated distances of the border pixels' slots: each block's distances at
    # its four cells, then at the pixels, weighted and added in turn (the same order of
    # operations as over the whole image)
    img_block = torch.arange(n, device=dev).repeat_interleave(hw)
    grid = torch.arange(hw, device=dev).view(h, w)
    cells = [
        cell.reshape(-1).repeat(n)
        for cell in (grid, grid.index_select(1, right), grid[below], grid[below][:, right])
    ]
    weights = [
        (wy.view(-1, 1) * wx.view(1, -1)).reshape(-1).to(dtype)
        for wy, wx in ((a0, b0), (a0, b1), (a1, b0), (a1, b1))
    ]
    weight_b = [weight.index_select(0, pix) for weight in weights]
    weight_m = [weight.index_select(0, pix_m) for weight in weights]
    flat = distances.reshape(-1)

    def interpolated(slot: Tensor, blocks: Tensor, weights: list[Tensor]) -> Tensor:
        base = (img_block * k).add_(slot).mul_(hw)
        terms = (
            flat.index_select(0, base + cell).index_select(0, blocks).mul_(weight)
            for cell, weight in zip(cells, weights)
        )
        d = next(terms)  # rather than 0 + it, which differs only for -0.0 (equal in order)
        for term in terms:
            d += term
        return d

    dists = [interpolated(slots[i], blk, weight_b) for i in (0, 1)]
    dists += [interpolated(slots[i], blk_m, weight_m) for i in (2, 3)]
    cand = [slots[i].index_select(0, blk) for i in (0, 1)]
    cand += [slots[i].index_select(0, blk_m) for i in (2, 3)]
    step = cand[1] - cand[0]  # slot 0 plus ``better`` times this is the better slot

    def pick(costs: list[Tensor]) -> Tensor:
        better = costs[1] < costs[0]
        best = step * better
        best += cand[0]
        if many.numel():
            better_m = better.index_select(0, many)
            best_cost_m = torch.where(
                better_m, costs[1].index_select(0, many), costs[0].index_select(0, many)
            )
            best_m = best.index_select(0, many)
            for cost, label in zip(costs[2:], cand[2:]):
                better_m = cost < best_cost_m
                best_cost_m = torch.where(better_m, cost, best_cost_m)
                best_m = torch.where(better_m, label, best_m)
            best.index_copy_(0, many, best_m)
        return best

    chosen = pick(dists)
    flat_out = out.view(-1)
    flat_out.scatter_(0, where, chosen)
    if iterations <= 0 or color_weight <= 0:
        return out.reshape(n, big_h, big_w)
    n_ch = colors.shape[1]
    col = colors.reshape(n, n_ch, big).to(dtype)  # (N, C, HW)
    # one channel's plane is a view when the colours are stored channel by channel
    col_b = [col[:, ch].reshape(-1).index_select(0, where) for ch in range(n_ch)]
    col_m = [c.index_select(0, many) for c in col_b]
    w2 = float(color_weight) ** 2
    mean_index = [img_k + cand[0], img_k + cand[1]]
    img_k_m = img_k.index_select(0, many)
    mean_index += [img_k_m + cand[2], img_k_m + cand[3]]
    # the pixels without choice always count for their label (exact integer counts)
    rows_per = torch.bincount(r0, minlength=h)
    cols_per = torch.bincount(c0, minlength=w)
    npix = (rows_per.view(-1, 1) * cols_per.view(1, -1)).reshape(-1).repeat(n)
    fixed_counts = torch.bincount(  # whole numbers, exact in float64
        batch_ids(lab, k), weights=npix.double().mul_(extra == 0), minlength=n * k
    )
    index = out.unsqueeze(1).expand(n, n_ch, big)
    buffers = [torch.empty(where.numel(), dtype=dtype, device=dev) for _ in range(3)]
    for _ in range(iterations):
        # the clusters' mean colours over every pixel (in pixel order, as before)
        counts = fixed_counts + torch.bincount(img_k + chosen, minlength=n * k)
        sums = torch.zeros(n, n_ch, k, dtype=dtype, device=dev).scatter_add_(2, index, col)
        per_channel = sums.div_(counts.to(dtype).clamp_min_(1).view(n, 1, k)).transpose(0, 1)
        means = [per_channel[ch].reshape(-1) for ch in range(n_ch)]
        costs = []
        for i, (idx, d) in enumerate(zip(mean_index, dists)):
            cost = d.clone()
            cb = col_b if i < 2 else col_m
            picked, diff, term = (buf[: d.numel()] for buf in buffers)
            for ch, mean in enumerate(means):
                torch.index_select(mean, 0, idx, out=picked)
                torch.sub(cb[ch], picked, out=diff)
                cost += torch.mul(diff, w2, out=term).mul_(diff)  # w2 * diff * diff
            costs.append(cost)
        new = pick(costs)
        if torch.equal(new, chosen):
            break
        chosen = new
        flat_out.scatter_(0, where, chosen)
    return out.reshape(n, big_h, big_w)
