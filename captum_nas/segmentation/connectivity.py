"""Connected components, small-segment merging and label upsampling, in torch.

Two connected-component finders, both batched and on any device:

* :func:`connected_components` splits a batch of *label grids* into 4-connected
  regions of equal labels (used to make NAS segments connected);
* :func:`mask_components` finds the 4- or 8-connected components of a batch of
  *binary masks* with their boxes and sizes, by run-length union-find (used by the
  localisation metrics); :func:`label_mask_components` gives their pixel labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_nas._validation import describe
from captum_nas.segmentation.base import batch_ids, relabel_contiguous


def connected_components(labels: Tensor) -> Tensor:
    """4-connected components of equal labels, for a batch of grids.

    On CPU scikit-image's union-find (``skimage.measure.label``, image by image: one
    pass, about 10x faster than propagation on the grids of NAS); on other devices
    min-label propagation with pointer jumping, vectorised over the batch. Both give
    the same ids.

    Args:
        labels: integer tensor (N, H, W).

    Returns:
        LongTensor (N, H, W) with contiguous component ids 0..C_i-1 per image
        (ordered by their first pixel in raster order).

    Example:
        >>> connected_components(torch.tensor([[[0, 1, 0]]]))
        tensor([[[0, 1, 2]]])
    """
    if labels.dim() != 3:
        raise ValueError(f"`labels` must have shape (N, H, W), got {describe(labels)}")
    lab = labels.long()
    if lab.device.type == "cpu":
        return _components_union_find(lab)
    return _components_propagation(lab)


def _components_union_find(lab: Tensor) -> Tensor:
    """:func:`connected_components` of a CPU batch (N, H, W) with scikit-image."""
    from skimage.measure import label

    n, h, w = lab.shape
    arrays = lab.numpy()
    comp = torch.empty(n, h * w, dtype=torch.long)
    for i in range(n):
        comp[i] = torch.from_numpy(label(arrays[i], background=-1, connectivity=1).reshape(-1))
    # name every component by its first pixel in raster order, whatever the numbering
    first = torch.full((n, h * w + 1), h * w, dtype=torch.long)
    pixels = torch.arange(h * w).expand(n, h * w)
    first.scatter_reduce_(1, comp, pixels, reduce="amin")
    return relabel_contiguous(first.gather(1, comp).reshape(n, 1, h, w)).squeeze(1)


def _components_propagation(lab: Tensor) -> Tensor:
    """:func:`connected_components` by min-label propagation with pointer jumping."""
    n, h, w = lab.shape
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
    size, then id), with which it shares the longest border (ties go to the larger
    neighbour, then to the higher id). Rounds repeat until no segment under
    ``min_size`` has a larger neighbour. Segments must be connected for the result to
    be connected. Every image is merged on its own: the result for an image does not
    depend on the other images of the batch.

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
        glob = batch_ids(lab, k)
        sizes = torch.bincount(glob, minlength=n * k)
        small = sizes < min_size
        small &= sizes > 0
        if not bool(small.any()):
            break
        g = glob.view(n, h, w)
        a = torch.cat([g[:, :, 1:].reshape(-1), g[:, 1:, :].reshape(-1)])
        b = torch.cat([g[:, :, :-1].reshape(-1), g[:, :-1, :].reshape(-1)])
        diff = a != b
        a, b = a[diff], b[diff]
        src = torch.cat([a, b])
        dst = torch.cat([b, a])
        m = n * k
        local = torch.arange(m, device=device) % k  # the id inside its own image
        # a strict total order by (size, id inside the image), the same alone or in a batch
        same_size = sizes[dst] == sizes[src]
        larger = (sizes[dst] > sizes[src]) | (same_size & (local[dst] > local[src]))
        ok = small[src] & larger
        src, dst = src[ok], dst[ok]
        if src.numel() == 0:
            break
        pair = src * m + dst
        uniq, counts = torch.unique(pair, return_counts=True)
        usrc, udst = uniq // m, uniq % m
        # best neighbour, compared key by key (no mixed-scale score): the longest border,
        # then the larger neighbour, then the larger id inside the image
        keep = torch.ones_like(usrc, dtype=torch.bool)
        for key in (counts, sizes[udst], local[udst]):
            masked = torch.where(keep, key, torch.full_like(key, -1))
            best = torch.full((m,), -1, dtype=torch.long, device=device)
            best.scatter_reduce_(0, usrc, masked, reduce="amax")
            keep &= masked == best[usrc]
        is_best = keep
        target = torch.arange(m, device=device)
        target[usrc[is_best]] = udst[is_best]
        # chains only go up in (size, id), so pointer jumping terminates
        for _ in range(m):
            nxt = target[target]
            if torch.equal(nxt, target):
                break
            target = nxt
        lab = local[target[glob]].reshape(n, h, w)  # merged ids, back inside each image
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
    one-hot tensor. Internal to NAS (not re-exported from
    :mod:`captum_nas.segmentation`); the signature may change.
    """
    _, h, w = labels.shape
    if (h, w) == tuple(size):
        return labels.long().clone()
    if mode == "nearest":
        up = F.interpolate(labels.unsqueeze(1).float(), size=size, mode="nearest")
        return up.squeeze(1).long()
    return _bilinear_label_vote(labels, (int(size[0]), int(size[1])))


@dataclass(frozen=True)
class MaskComponents:
    """Connected components of a batch of binary masks, as a flat list.

    Attributes:
        mask_index: LongTensor (K,), the mask each component belongs to.
        boxes: LongTensor (K, 4), bounding boxes ``(x0, y0, x1, y1)``, ends exclusive.
        sizes: LongTensor (K,), number of pixels.
        run_component: LongTensor (R,), the component (0..K-1) of each horizontal run.
        runs: LongTensor (R, 4) ``(mask, y, x0, x1)`` of each run, x1 exclusive.
    """

    mask_index: Tensor
    boxes: Tensor
    sizes: Tensor
    run_component: Tensor
    runs: Tensor


def mask_components(binary: Tensor, *, connectivity: int = 8) -> MaskComponents:
    """Connected components of a batch of binary masks, vectorised in torch.

    Each row is cut into runs of foreground pixels (one pass over the pixels); every
    run is linked to the runs of the row above that touch it (found by binary search,
    8-connectivity widens the run by one pixel on each side), and the run graph is
    solved by hooking and pointer jumping (union-find, all links at once). Only the
    run extraction touches every pixel; the iterations run on the much smaller run
    graph. Components are ordered by mask, then by their first pixel in raster order.

    Args:
        binary: bool tensor (M, H, W).
        connectivity: 8 (default, like OpenCV's contours) or 4.

    Returns:
        A :class:`MaskComponents` with every component's mask, bounding box and size.

    Example:
        >>> c = mask_components(torch.tensor([[[1, 0, 1], [0, 0, 1]]], dtype=torch.bool))
        >>> c.boxes
        tensor([[0, 0, 1, 1],
                [2, 0, 3, 2]])
    """
    if connectivity not in (4, 8):
        raise ValueError(f"`connectivity` must be 4 or 8, got {connectivity!r}")
    if binary.dtype != torch.bool or binary.dim() != 3:
        raise ValueError(f"`binary` must be a bool tensor (M, H, W), got {describe(binary)}")
    _, h, w = binary.shape
    device = binary.device
    # runs: transitions along each row of the mask padded with a background column
    # on both sides alternate start, end, start, end, ...
    padded = F.pad(binary, (1, 1), value=False)
    trans = torch.nonzero((padded[..., 1:] ^ padded[..., :-1]).reshape(-1)).squeeze(1)
    trans = trans.reshape(-1, 2)
    row = torch.div(trans[:, 0], w + 1, rounding_mode="floor")  # global row id m * h + y
    r_x0 = trans[:, 0] % (w + 1)
    r_x1 = trans[:, 1] % (w + 1)
    r_mask = torch.div(row, h, rounding_mode="floor")
    r_y = row % h
    n_runs = row.numel()
    runs = torch.stack([r_mask, r_y, r_x0, r_x1], 1)
    # links: a run touches the runs of the row above whose interval meets its own
    # (widened by one pixel for 8-connectivity); these form a contiguous range
    delta = 1 if connectivity == 8 else 0
    stride = w + 2
    start_key = row * stride + r_x0
    end_key = row * stride + r_x1
    lo = torch.searchsorted(end_key, (row - 1) * stride + r_x0 - delta, right=True)
    hi = torch.searchsorted(start_key, (row - 1) * stride + r_x1 + delta, right=False)
    counts = torch.where(r_y > 0, (hi - lo).clamp(min=0), torch.zeros_like(lo))
    eb = torch.repeat_interleave(torch.arange(n_runs, device=device), counts)
    offsets = torch.cumsum(counts, 0) - counts
    ea = lo[eb] + torch.arange(eb.numel(), device=device) - offsets[eb]
    parent = torch.arange(n_runs, device=device)
    while ea.numel() > 0:
        pa, pb = parent[ea], parent[eb]
        differ = pa != pb
        if not bool(differ.any()):
            break
        ea, eb, pa, pb = ea[differ], eb[differ], pa[differ], pb[differ]
        lo = torch.minimum(pa, pb)
        parent.scatter_reduce_(0, pa, lo, reduce="amin")
        parent.scatter_reduce_(0, pb, lo, reduce="amin")
        while True:
            nxt = parent[parent]
            if torch.equal(nxt, parent):
                break
            parent = nxt
    is_root = parent == torch.arange(n_runs, device=device)
    comp_of_root = torch.cumsum(is_root.long(), 0) - 1
    run_component = comp_of_root[parent]
    k = int(is_root.sum())
    sizes = torch.zeros(k, dtype=torch.long, device=device).scatter_add(
        0, run_component, r_x1 - r_x0
    )
    big = torch.full((k,), max(h, w) + 1, dtype=torch.long, device=device)
    neg = torch.full((k,), -1, dtype=torch.long, device=device)
    boxes = torch.stack(
        [
            big.scatter_reduce(0, run_component, r_x0, reduce="amin"),
            big.scatter_reduce(0, run_component, r_y, reduce="amin"),
            neg.scatter_reduce(0, run_component, r_x1, reduce="amax"),
            neg.scatter_reduce(0, run_component, r_y + 1, reduce="amax"),
        ],
        1,
    )
    return MaskComponents(r_mask[is_root], boxes, sizes, run_component, runs)


def label_mask_components(binary: Tensor, *, connectivity: int = 8) -> Tensor:
    """Pixel labels of :func:`mask_components`: (M, H, W), -1 on background.

    Component ids run 0..K_m-1 within each mask, in raster order of first pixels.

    Example:
        >>> label_mask_components(torch.tensor([[[1, 0, 1]]], dtype=torch.bool))
        tensor([[[ 0, -1,  1]]])
    """
    m, h, w = binary.shape
    comps = mask_components(binary, connectivity=connectivity)
    first = torch.full((m,), comps.sizes.numel(), dtype=torch.long, device=binary.device)
    ids = torch.arange(comps.sizes.numel(), device=binary.device)
    first = first.scatter_reduce(0, comps.mask_index, ids, reduce="amin")
    local = comps.run_component - first[comps.runs[:, 0]]
    # write each run's label on its pixels: +label at x0, -label at x1, cumulative sum
    delta = torch.zeros(m, h, w + 1, dtype=torch.long, device=binary.device)
    r = comps.runs
    delta.index_put_((r[:, 0], r[:, 1], r[:, 2]), local + 1, accumulate=True)
    delta.index_put_((r[:, 0], r[:, 1], r[:, 3]), -(local + 1), accumulate=True)
    return delta.cumsum(2)[..., :w] - 1
