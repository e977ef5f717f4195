"""Connected components and small-segment merging on batched label grids, in torch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_nas.segmentation.base import relabel_contiguous


def connected_components(labels: Tensor) -> Tensor:
    """4-connected components of equal labels, for a batch of grids.

    Min-label propagation with pointer jumping, vectorised over the batch.

    Args:
        labels: integer tensor (N, H, W).

    Returns:
        LongTensor (N, H, W) with contiguous component ids 0..C_i-1 per image
        (ordered by their first pixel in raster order).

    Example:
        >>> connected_components(torch.tensor([[[0, 1, 0]]]))
        tensor([[[0, 1, 2]]])
    """
    n, h, w = labels.shape
    lab = labels.long()
    big = h * w
    comp = torch.arange(big, device=lab.device).reshape(1, h, w).expand(n, h, w).clone()
    same_right = lab[:, :, 1:] == lab[:, :, :-1]
    same_down = lab[:, 1:, :] == lab[:, :-1, :]
    while True:
        prev = comp
        cur = comp.clone()
        # propagate the minimum id between equal-label neighbours, both directions
        right = torch.where(same_right, torch.minimum(cur[:, :, 1:], cur[:, :, :-1]), cur[:, :, 1:])
        cur[:, :, 1:] = right
        cur[:, :, :-1] = torch.where(
            same_right, torch.minimum(cur[:, :, :-1], right), cur[:, :, :-1]
        )
        down = torch.where(same_down, torch.minimum(cur[:, 1:, :], cur[:, :-1, :]), cur[:, 1:, :])
        cur[:, 1:, :] = down
        cur[:, :-1, :] = torch.where(same_down, torch.minimum(cur[:, :-1, :], down), cur[:, :-1, :])
        # pointer jumping: each pixel adopts the id its current id points to
        flat = cur.reshape(n, -1)
        for _ in range(4):
            flat = torch.minimum(flat, flat.gather(1, flat))
        comp = flat.reshape(n, h, w)
        if torch.equal(comp, prev):
            break
    return relabel_contiguous(comp.unsqueeze(1)).squeeze(1)


def merge_small_segments(labels: Tensor, min_size: int, *, max_rounds: int = 50) -> Tensor:
    """Merge segments smaller than ``min_size`` pixels into a larger neighbour.

    Each small segment joins the 4-neighbour, among those larger than itself (by
    size, then id), with which it shares the longest border. Rounds repeat until no
    segment under ``min_size`` has a larger neighbour. Segments must be connected
    for the result to be connected.

    Args:
        labels: integer tensor (N, H, W), ids contiguous per image.
        min_size: minimum segment size in pixels.
        max_rounds: safety bound on merge rounds.

    Returns:
        LongTensor (N, H, W), ids contiguous per image.
    """
    n, h, w = labels.shape
    lab = relabel_contiguous(labels.unsqueeze(1)).squeeze(1)
    device = lab.device
    for _ in range(max_rounds):
        k = int(lab.max()) + 1
        offset = (torch.arange(n, device=device) * k).view(n, 1, 1)
        glob = (lab + offset).reshape(-1)
        sizes = torch.bincount(glob, minlength=n * k)
        small = sizes < min_size
        small &= sizes > 0
        if not bool(small.any()):
            break
        g = lab + offset
        a = torch.cat([g[:, :, 1:].reshape(-1), g[:, 1:, :].reshape(-1)])
        b = torch.cat([g[:, :, :-1].reshape(-1), g[:, :-1, :].reshape(-1)])
        diff = a != b
        a, b = a[diff], b[diff]
        src = torch.cat([a, b])
        dst = torch.cat([b, a])
        m = n * k
        # rank: a strict total order by (size, id)
        rank = sizes * m + torch.arange(m, device=device)
        ok = small[src] & (rank[dst] > rank[src])
        src, dst = src[ok], dst[ok]
        if src.numel() == 0:
            break
        pair = src * m + dst
        uniq, counts = torch.unique(pair, return_counts=True)
        usrc, udst = uniq // m, uniq % m
        # best neighbour: longest border, ties to the larger neighbour
        score = counts * (m + 1) + rank[udst] // m
        best = torch.full((m,), -1, dtype=torch.long, device=device)
        best.scatter_reduce_(0, usrc, score, reduce="amax")
        is_best = score == best[usrc]
        target = torch.arange(m, device=device)
        target[usrc[is_best]] = udst[is_best]
        # chains only go up in rank, so pointer jumping terminates
        for _ in range(m):
            nxt = target[target]
            if torch.equal(nxt, target):
                break
            target = nxt
        lab = target[glob].reshape(n, h, w) - offset
        lab = relabel_contiguous(lab.unsqueeze(1)).squeeze(1)
    return lab


def _source_index(out_size: int, in_size: int, device: torch.device) -> tuple[Tensor, ...]:
    """Bilinear source rows/cols and weights (``align_corners=False``), as F.interpolate."""
    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    dst = torch.arange(out_size, dtype=torch.float32)
    src = ((dst + 0.5) * scale - 0.5).clamp_min(0.0)
    i0 = src.long().clamp_(max=in_size - 1)
    i1 = (i0 + 1).clamp_(max=in_size - 1)
    lam1 = src - i0.float()
    lam0 = 1.0 - lam1
    return i0.to(device), i1.to(device), lam0.to(device), lam1.to(device)


def _bilinear_label_vote(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """Argmax of the bilinearly upsampled one-hot encoding, without building it.

    Each output pixel takes the label with the largest summed bilinear weight among its
    four source neighbours (ties to the smaller label, as ``argmax`` over one-hot
    channels does). Memory and time are O(N H W), independent of the number of labels.
    """
    _, h, w = labels.shape
    oh, ow = size
    r0, r1, a0, a1 = _source_index(oh, h, labels.device)
    c0, c1, b0, b1 = _source_index(ow, w, labels.device)
    lab = labels.long()
    rows0, rows1 = lab[:, r0], lab[:, r1]  # (N, oh, w)
    cand = torch.stack([rows0[:, :, c0], rows0[:, :, c1], rows1[:, :, c0], rows1[:, :, c1]])
    wy0, wy1 = a0.view(oh, 1), a1.view(oh, 1)
    wx0, wx1 = b0.view(1, ow), b1.view(1, ow)
    weights = torch.stack([wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1]).unsqueeze(1)
    # score of candidate i: total weight of the neighbours carrying the same label
    score = weights.expand_as(cand).clone()  # each candidate counts its own weight
    for i in range(4):
        for j in range(i + 1, 4):
            same = cand[i] == cand[j]
            score[i] += same * weights[j]
            score[j] += same * weights[i]
    best_score, best_label = score[0], cand[0]
    for i in range(1, 4):
        better = (score[i] > best_score) | ((score[i] == best_score) & (cand[i] < best_label))
        best_score = torch.where(better, score[i], best_score)
        best_label = torch.where(better, cand[i], best_label)
    return best_label


def upsample_labels(labels: Tensor, size: tuple[int, int], *, mode: str = "bilinear") -> Tensor:
    """Bring label grids (N, h, w) to ``size`` (H, W).

    ``mode="nearest"`` copies labels; ``"bilinear"`` gives smooth borders: each pixel
    takes the argmax of the bilinearly upsampled one-hot encoding, computed from the
    four source neighbours of each pixel without materialising the (N, K, H, W)
    one-hot tensor.
    """
    _, h, w = labels.shape
    if (h, w) == tuple(size):
        return labels.long().clone()
    if mode == "nearest":
        up = F.interpolate(labels.unsqueeze(1).float(), size=size, mode="nearest")
        return up.squeeze(1).long()
    return _bilinear_label_vote(labels, (int(size[0]), int(size[1])))
