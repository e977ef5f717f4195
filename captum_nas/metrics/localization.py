"""Weakly supervised object localisation (WSOL) metrics: MaxBoxAcc, PxAP, Top-1 Loc.

Definitions follow Choe et al., "Evaluating Weakly Supervised Object Localization
Methods Right" (CVPR 2020):

* maps are min-max normalised per image; at a CAM threshold ``t`` the foreground is
  the set of pixels with normalised value **strictly greater** than ``t`` (a constant
  map normalises to zeros and never has a foreground, so it never scores);
* a predicted box is the bounding box of a connected component (8-connectivity by
  default, like OpenCV contours) of the foreground;
* **MaxBoxAcc (version 1)**: the box of the largest component (most pixels; ties go
  to the component whose first pixel comes first in raster order), IoU threshold 0.5;
* **MaxBoxAccV2 (version 2)**: the boxes of all components, the best one counts, and
  the score is the mean over IoU thresholds 0.3, 0.5 and 0.7;
* for each IoU threshold the box accuracy is maximised over the CAM threshold grid
  (each IoU threshold picks its own best CAM threshold, as the reference code does).

Boxes are ``(x0, y0, x1, y1)`` with ``x1``, ``y1`` exclusive; with several boxes per
image the best IoU counts. Scores are fractions in [0, 1] (the paper prints percent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_nas._types import ThresholdsLike
from captum_nas._validation import check_choice, check_number, check_tensor
from captum_nas.metrics._boxes import box_iou, check_boxes
from captum_nas.metrics._checks import (
    check_maps,
    check_masks,
    check_thresholds,
    chunk_rows,
    default_cam_thresholds,
    minmax_normalize,
)
from captum_nas.segmentation.connectivity import mask_components


def _best_cam_threshold(
    accuracy: Tensor, cam_thresholds: Tensor, dim: int
) -> tuple[Tensor, Tensor]:
    """The best accuracy over the CAM thresholds (along ``dim``) and the threshold reaching it
    (the first on ties)."""
    best, arg = accuracy.max(dim)
    return best, cam_thresholds[arg]


@dataclass(frozen=True)
class MaxBoxAccResult:
    """Result of :func:`max_box_acc`. Higher is better for every accuracy.

    Attributes:
        score: scalar, the mean over IoU thresholds of ``max_box_acc``.
        max_box_acc: (n_iou,) best box accuracy over the CAM thresholds, per IoU threshold.
        best_cam_threshold: (n_iou,) the CAM threshold reaching it (the lowest on ties).
        box_acc: (n_iou, n_cam) box accuracy at every IoU and CAM threshold.
        best_iou: (N, n_cam) IoU of each image's predicted box(es) with its best
            ground-truth box at every CAM threshold (0 when no pixel exceeds it).
        iou_thresholds: (n_iou,) the IoU thresholds.
        cam_thresholds: (n_cam,) the CAM thresholds.
        version: 1 or 2.
    """

    score: Tensor
    max_box_acc: Tensor
    best_cam_threshold: Tensor
    box_acc: Tensor
    best_iou: Tensor
    iou_thresholds: Tensor
    cam_thresholds: Tensor
    version: int

    @classmethod
    def from_best_iou(
        cls, best_iou: Tensor, iou_thresholds: Tensor, cam_thresholds: Tensor, version: int
    ) -> MaxBoxAccResult:
        """Build a result from per-image IoUs (N, n_cam)."""
        hits = best_iou[None, :, :] >= iou_thresholds[:, None, None]  # (n_iou, N, n_cam)
        box_acc = hits.to(best_iou.dtype).mean(1)
        best, best_cam = _best_cam_threshold(box_acc, cam_thresholds, dim=1)
        return cls(
            score=best.mean(),
            max_box_acc=best,
            best_cam_threshold=best_cam,
            box_acc=box_acc,
            best_iou=best_iou,
            iou_thresholds=iou_thresholds,
            cam_thresholds=cam_thresholds,
            version=version,
        )

    @classmethod
    def concat(cls, results: Sequence[MaxBoxAccResult]) -> MaxBoxAccResult:
        """Merge results computed on several batches of one data set.

        All results must share IoU thresholds, CAM thresholds and version; the merged
        accuracies are those of the whole data set (not a mean of batch scores).
        """
        if len(results) == 0:
            raise ValueError("`results` is empty")
        first = results[0]
        for r in results[1:]:
            if (
                r.version != first.version
                or not torch.equal(r.iou_thresholds, first.iou_thresholds)
                or not torch.equal(r.cam_thresholds, first.cam_thresholds)
            ):
                raise ValueError("results to merge must share thresholds and version")
        best_iou = torch.cat([r.best_iou for r in results])
        return cls.from_best_iou(
            best_iou, first.iou_thresholds, first.cam_thresholds, first.version
        )


@dataclass(frozen=True)
class PxAPResult:
    """Result of :func:`pxap`. Higher is better.

    Attributes:
        score: scalar average precision in [0, 1].
        precision: (T,) precision at each threshold (descending thresholds).
        recall: (T,) recall at each threshold.
        thresholds: (T,) the thresholds, descending; a pixel is positive when its
            score is >= the threshold.
    """

    score: Tensor
    precision: Tensor
    recall: Tensor
    thresholds: Tensor


@dataclass(frozen=True)
class Top1LocResult:
    """Result of :func:`top1_loc`. Higher is better.

    Attributes:
        score: scalar, the best Top-1 Loc over the CAM thresholds.
        best_cam_threshold: scalar CAM threshold reaching it (lowest on ties).
        top1_loc: (n_cam,) fraction of images with the right class and a box IoU >=
            ``iou_threshold``, per CAM threshold.
        gt_known_loc: (n_cam,) the same ignoring the class (GT-known Loc).
        correct: (N,) bool, whether the predicted class is the label.
        best_iou: (N, n_cam) best box IoU per image and CAM threshold.
        cam_thresholds: (n_cam,) the CAM thresholds.
    """

    score: Tensor
    best_cam_threshold: Tensor
    top1_loc: Tensor
    gt_known_loc: Tensor
    correct: Tensor
    best_iou: Tensor
    cam_thresholds: Tensor


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def _check_version(version: Any) -> int:
    if isinstance(version, bool) or version not in (1, 2):
        raise ValueError(f"`version` must be 1 or 2, got {version!r}")
    return int(version)


def _check_connectivity(connectivity: Any) -> int:
    if isinstance(connectivity, bool) or connectivity not in (4, 8):
        raise ValueError(f"`connectivity` must be 4 or 8, got {connectivity!r}")
    return int(connectivity)


def _cam_grid(cam_thresholds: Any, like: Tensor) -> Tensor:
    if cam_thresholds is None:
        return default_cam_thresholds(like)
    t, _ = check_thresholds(cam_thresholds, "cam_thresholds", like)
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError(
            f"`cam_thresholds` must lie in [0, 1] (maps are min-max normalised), got "
            f"{t.tolist()[:10]}"
        )
    return t


def box_ious_over_thresholds(
    maps: Tensor,
    boxes: Any,
    *,
    version: int = 2,
    cam_thresholds: ThresholdsLike | None = None,
    connectivity: int = 8,
) -> Tensor:
    """Best box IoU of every image at every CAM threshold, the core of the WSOL metrics.

    Args:
        maps: (N, H, W), (N, 1, H, W) or (N, C, H, W) floating maps (channels averaged).
        boxes: (N, B, 4) tensor or list of N (B_i, 4) tensors, ``(x0, y0, x1, y1)``,
            ends exclusive.
        version: 1 (largest component's box) or 2 (best box of all components).
        cam_thresholds: thresholds in [0, 1] on the min-max normalised maps (strict
            ``>``); default 0.00, 0.01, ..., 0.99.
        connectivity: 8 (default) or 4.

    Returns:
        Tensor (N, n_cam) of IoUs in the maps' dtype and device.
    """
    m = check_maps(maps)
    version = _check_version(version)
    connectivity = _check_connectivity(connectivity)
    return _best_box_ious(m, boxes, cam_thresholds, connectivity, (version,))[version]


def _best_box_ious(
    m: Tensor,
    boxes: Any,
    cam_thresholds: ThresholdsLike | None,
    connectivity: int,
    versions: tuple[int, ...],
) -> dict[int, Tensor]:
    """:func:`box_ious_over_thresholds` for several versions from one component pass."""
    n, h, w = m.shape
    gt, valid = check_boxes(boxes, "boxes", n=n, height=h, width=w, device=m.device)
    work = m.to(_work_dtype(m.dtype))
    cams = _cam_grid(cam_thresholds, work)
    norm = minmax_normalize(work)
    t = cams.numel()
    out = {v: torch.zeros(n, t, dtype=torch.float64, device=m.device) for v in versions}
    per_chunk = chunk_rows(n, t * h * w)
    for s in range(0, n, per_chunk):
        part = norm[s : s + per_chunk]
        nc = part.shape[0]
        fg = (part[:, None] > cams[None, :, None, None]).reshape(nc * t, h, w)
        comps = mask_components(fg, connectivity=connectivity)
        k = comps.sizes.numel()
        if k == 0:
            continue
        image = s + torch.div(comps.mask_index, t, rounding_mode="floor")
        cb = comps.boxes.to(torch.float64)
        ious = box_iou(cb[:, None, :], gt[image])  # (K, B)
        ious = torch.where(valid[image], ious, torch.zeros_like(ious)).amax(1)
        best = torch.zeros(nc * t, dtype=torch.float64, device=m.device)
        if 2 in versions:
            out[2][s : s + nc] = best.scatter_reduce(
                0, comps.mask_index, ious, reduce="amax"
            ).reshape(nc, t)
        if 1 in versions:
            biggest = torch.zeros(nc * t, dtype=torch.long, device=m.device)
            biggest = biggest.scatter_reduce(0, comps.mask_index, comps.sizes, reduce="amax")
            ids = torch.arange(k, device=m.device)
            is_big = comps.sizes == biggest[comps.mask_index]
            key = torch.where(is_big, ids, torch.full_like(ids, k))
            chosen = torch.full((nc * t,), k, dtype=torch.long, device=m.device)
            chosen = chosen.scatter_reduce(0, comps.mask_index, key, reduce="amin")
            has = chosen < k
            out[1][s : s + nc] = torch.where(has, ious[chosen.clamp(max=k - 1)], best).reshape(
                nc, t
            )
    return {v: iou.to(m.dtype) for v, iou in out.items()}


def max_box_acc(
    maps: Tensor,
    boxes: Tensor | Sequence[Tensor],
    *,
    iou_thresholds: ThresholdsLike | None = None,
    version: int = 2,
    cam_thresholds: ThresholdsLike | None = None,
    connectivity: int = 8,
) -> MaxBoxAccResult:
    """MaxBoxAcc (version 1) or MaxBoxAccV2 (version 2) of a batch of maps.

    Higher is better. Sensitive to the CAM threshold grid (finer grids can only
    raise the score), to ``version`` (V2's all-components rule favours maps with
    several blobs) and, to a lesser degree, to ``connectivity``. Pass the whole data
    set at once, or merge batch results with :meth:`MaxBoxAccResult.concat`: the best
    CAM threshold is chosen over the data set, not per batch.

    Args:
        maps: (N, H, W), (N, 1, H, W) or (N, C, H, W) floating maps, finite; channels
            are averaged. Each map is min-max normalised; a constant map never has a
            foreground, so it never scores.
        boxes: (N, B, 4) tensor or a list of N (B_i, 4) tensors of ground-truth boxes
            ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive; the best IoU counts.
        iou_thresholds: IoU thresholds (a hit is IoU >= threshold); default (0.5,) for
            version 1 and (0.3, 0.5, 0.7) for version 2.
        version: 1 (largest component) or 2 (all components, best counts).
        cam_thresholds: thresholds in [0, 1] (foreground: normalised value > t);
            default 0.00, 0.01, ..., 0.99.
        connectivity: 8 (default) or 4 for the connected components.

    Returns:
        :class:`MaxBoxAccResult`, tensors on the maps' device in their dtype.

    Example:
        >>> maps = torch.zeros(1, 8, 8)
        >>> maps[0, 2:5, 1:7] = 1.0
        >>> max_box_acc(maps, torch.tensor([[[1, 2, 7, 5]]])).score
        tensor(1.)
    """
    version = _check_version(version)
    m = check_maps(maps)
    if iou_thresholds is None:
        iou_thresholds = (0.5,) if version == 1 else (0.3, 0.5, 0.7)
    ious_t, _ = check_thresholds(iou_thresholds, "iou_thresholds", m)
    if bool(((ious_t <= 0) | (ious_t > 1)).any()):
        raise ValueError(f"`iou_thresholds` must lie in (0, 1], got {ious_t.tolist()}")
    cams = _cam_grid(cam_thresholds, m)
    best_iou = box_ious_over_thresholds(
        m, boxes, version=version, cam_thresholds=cams, connectivity=connectivity
    )
    return MaxBoxAccResult.from_best_iou(best_iou, ious_t, cams, version)


def max_box_acc_v1_v2(
    maps: Tensor,
    boxes: Tensor | Sequence[Tensor],
    *,
    cam_thresholds: ThresholdsLike | None = None,
    connectivity: int = 8,
) -> tuple[MaxBoxAccResult, MaxBoxAccResult]:
    """MaxBoxAcc (V1, IoU 0.5) and MaxBoxAccV2 (IoU 0.3/0.5/0.7) from one pass.

    The same results as ``max_box_acc(..., version=1)`` and ``max_box_acc(...,
    version=2)`` with their default IoU thresholds, for about half the cost: the
    connected components of every thresholded map, the expensive part, are found once.

    Args:
        maps: as for :func:`max_box_acc`.
        boxes: as for :func:`max_box_acc`.
        cam_thresholds: as for :func:`max_box_acc`.
        connectivity: as for :func:`max_box_acc`.

    Returns:
        ``(v1, v2)`` :class:`MaxBoxAccResult` s.

    Example:
        >>> maps = torch.zeros(1, 8, 8)
        >>> maps[0, 2:6, 2:6] = 1.0
        >>> v1, v2 = max_box_acc_v1_v2(maps, torch.tensor([[[2, 2, 6, 6]]]))
        >>> v1.max_box_acc.tolist(), v2.max_box_acc.tolist()
        ([1.0], [1.0, 1.0, 1.0])
    """
    m = check_maps(maps)
    connectivity = _check_connectivity(connectivity)
    cams = _cam_grid(cam_thresholds, m)
    best = _best_box_ious(m, boxes, cams, connectivity, (1, 2))
    ious_v1, _ = check_thresholds((0.5,), "iou_thresholds", m)
    ious_v2, _ = check_thresholds((0.3, 0.5, 0.7), "iou_thresholds", m)
    return (
        MaxBoxAccResult.from_best_iou(best[1], ious_v1, cams, 1),
        MaxBoxAccResult.from_best_iou(best[2], ious_v2, cams, 2),
    )


def pxap(
    maps: Tensor,
    masks: Tensor,
    *,
    cam_thresholds: ThresholdsLike | str | None = None,
    normalize: bool = True,
) -> PxAPResult:
    """Pixel average precision (PxAP) of maps against object masks, over the batch.

    All pixels of the batch are pooled (as in the WSOL benchmark, where the pooled
    histogram runs over the whole data set), a pixel is predicted positive when its
    score is >= a threshold, and ``AP = sum_k (R_k - R_{k-1}) P_k`` over thresholds
    in descending order, starting from recall 0 (the step-wise rule of scikit-learn's
    ``average_precision_score``). Higher is better; a random map scores about the
    fraction of object pixels. Sensitive to the threshold grid and to per-image
    normalisation (which makes images comparable before pooling).

    Args:
        maps: (N, H, W), (N, 1, H, W) or (N, C, H, W) floating maps (channels averaged).
        masks: (N, H, W) or (N, 1, H, W) binary object masks (bool or 0/1).
        cam_thresholds: thresholds in [0, 1] on the normalised maps; default the
            101-point grid 0.00, 0.01, ..., 1.00; ``"all"`` uses every distinct score
            (exact AP, requires no normalisation range).
        normalize: min-max normalise each map first (default True; required for a
            threshold grid in [0, 1]).

    Returns:
        :class:`PxAPResult` on the maps' device, in their dtype.

    Example:
        >>> maps = torch.tensor([[[0.9, 0.1], [0.8, 0.3]]])
        >>> masks = torch.tensor([[[1, 0], [0, 1]]])
        >>> float(pxap(maps, masks, cam_thresholds="all").score)  # (1 + 2/3) / 2
        0.8333...
    """
    m = check_maps(maps)
    gt = check_masks(masks, "masks", like=m, nonempty=False)
    if not isinstance(normalize, bool):
        raise TypeError(f"`normalize` must be a bool, got {normalize!r}")
    n_pos = int(gt.sum())
    if n_pos == 0 or n_pos == gt.numel():
        raise ValueError(
            "`masks` must contain both object and background pixels over the batch for "
            f"PxAP, got {n_pos} object pixels out of {gt.numel()}"
        )
    work = m.to(_work_dtype(m.dtype))
    scores = minmax_normalize(work) if normalize else work
    s = scores.reshape(-1)
    y = gt.reshape(-1)
    if isinstance(cam_thresholds, str):
        check_choice(cam_thresholds, "cam_thresholds", ("all",))
        order = torch.argsort(s, descending=True, stable=True)
        s_sorted = s[order]
        y_sorted = y[order].to(torch.float64)
        tp = torch.cumsum(y_sorted, 0)
        fp = torch.cumsum(1 - y_sorted, 0)
        last = torch.ones_like(s_sorted, dtype=torch.bool)
        last[:-1] = s_sorted[1:] != s_sorted[:-1]
        tp, fp, thr = tp[last], fp[last], s_sorted[last]
    else:
        if cam_thresholds is None:
            grid = torch.linspace(0, 1, 101, dtype=torch.float64, device=m.device).to(work.dtype)
        else:
            grid = (
                _cam_grid(cam_thresholds, work)
                if normalize
                else check_thresholds(cam_thresholds, "cam_thresholds", work)[0]
            )
        thr = torch.unique_consecutive(torch.sort(grid, descending=True).values)
        pos_hist, neg_hist = _threshold_histograms(s[None], y[None], thr)
        r = pxap_from_histograms(pos_hist[0], neg_hist[0], thr)
        return PxAPResult(*(t.to(m.dtype) for t in (r.score, r.precision, r.recall, r.thresholds)))
    return _average_precision(tp, fp, n_pos, thr, m.dtype)


def _threshold_histograms(scores: Tensor, positive: Tensor, thr: Tensor) -> tuple[Tensor, Tensor]:
    """Per row, counts of object and background pixels by how many of the descending
    thresholds ``thr`` they reach: ``hist[:, k]`` counts pixels >= exactly the ``k``
    lowest thresholds. ``scores`` and ``positive`` are (N, P)."""
    # number of thresholds <= score: a pixel is positive for the highest `k` of them
    asc = torch.flip(thr, (0,))
    k = torch.searchsorted(asc, scores.contiguous(), right=True)  # 0..T; positive at asc[:k]
    t_n = thr.numel()
    offset = torch.arange(scores.shape[0], device=scores.device)[:, None] * (t_n + 1)
    rows = scores.shape[0]
    pos = torch.bincount((k + offset)[positive], minlength=rows * (t_n + 1))
    neg = torch.bincount((k + offset)[~positive], minlength=rows * (t_n + 1))
    return pos.reshape(rows, t_n + 1), neg.reshape(rows, t_n + 1)


def pxap_histograms(
    maps: Tensor, masks: Tensor, *, normalize: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-image pixel histograms of :func:`pxap` on its default 101-point grid.

    Summing the histograms of any split of a data set and passing the sums to
    :func:`pxap_from_histograms` gives exactly ``pxap`` of the whole data set (the
    counts are integers), which is how sharded evaluations merge PxAP.

    Args:
        maps: as for :func:`pxap`.
        masks: as for :func:`pxap` (an image may be all object or all background).
        normalize: min-max normalise each map first (as :func:`pxap`).

    Returns:
        ``(pos, neg, thresholds)``: (N, T + 1) int64 counts of object and background
        pixels reaching exactly the ``k`` lowest thresholds, and the (T,) descending
        thresholds in the maps' working dtype.

    Example:
        >>> maps = torch.tensor([[[0.9, 0.1], [0.8, 0.3]], [[0.2, 0.7], [0.6, 0.4]]])
        >>> masks = torch.tensor([[[1, 0], [0, 1]], [[0, 1], [1, 0]]])
        >>> pos, neg, thr = pxap_histograms(maps, masks)
        >>> score = pxap_from_histograms(pos.sum(0), neg.sum(0), thr).score
        >>> bool(torch.isclose(score, pxap(maps, masks).score))
        True
    """
    m = check_maps(maps)
    gt = check_masks(masks, "masks", like=m, nonempty=False)
    work = m.to(_work_dtype(m.dtype))
    scores = minmax_normalize(work) if normalize else work
    thr = pxap_thresholds(work.dtype, device=m.device)
    n = m.shape[0]
    pos, neg = _threshold_histograms(scores.reshape(n, -1), gt.reshape(n, -1).bool(), thr)
    return pos, neg, thr


def pxap_thresholds(
    dtype: torch.dtype = torch.float32, *, device: torch.device | str | None = None
) -> Tensor:
    """The descending default grid 1.00, 0.99, ..., 0.00 of :func:`pxap` for maps of
    ``dtype`` (computed in at least float32, as :func:`pxap` does)."""
    work = _work_dtype(dtype)
    grid = torch.linspace(0, 1, 101, dtype=torch.float64, device=device).to(work)
    return torch.unique_consecutive(torch.sort(grid, descending=True).values)


def pxap_from_histograms(pos_hist: Tensor, neg_hist: Tensor, thresholds: Tensor) -> PxAPResult:
    """PxAP from summed :func:`pxap_histograms` counts (see there).

    Args:
        pos_hist: (T + 1,) counts of object pixels.
        neg_hist: (T + 1,) counts of background pixels.
        thresholds: (T,) the descending thresholds; their dtype is the result's.

    Returns:
        :class:`PxAPResult`.

    Raises:
        ValueError: no object pixels, or no background pixels.
    """
    t_n = thresholds.numel()
    if pos_hist.shape != (t_n + 1,) or neg_hist.shape != (t_n + 1,):
        raise ValueError(
            f"`pos_hist` and `neg_hist` must have shape ({t_n + 1},) for {t_n} thresholds, "
            f"got {tuple(pos_hist.shape)} and {tuple(neg_hist.shape)}"
        )
    n_pos = int(pos_hist.sum())
    total = n_pos + int(neg_hist.sum())
    if n_pos == 0 or n_pos == total:
        raise ValueError(
            "`masks` must contain both object and background pixels over the batch for "
            f"PxAP, got {n_pos} object pixels out of {total}"
        )
    pos64, neg64 = pos_hist.to(torch.float64), neg_hist.to(torch.float64)
    tp, fp = _descending_counts(pos64, t_n), _descending_counts(neg64, t_n)
    return _average_precision(tp, fp, n_pos, thresholds, thresholds.dtype)


def _average_precision(
    tp: Tensor, fp: Tensor, n_pos: int, thr: Tensor, dt: torch.dtype
) -> PxAPResult:
    predicted = tp + fp
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.ones_like(tp))
    recall = tp / n_pos
    prev = torch.cat([recall.new_zeros(1), recall[:-1]])
    ap = ((recall - prev) * precision).sum()
    return PxAPResult(ap.to(dt), precision.to(dt), recall.to(dt), thr.to(dt))


def _descending_counts(hist: Tensor, t_n: int) -> Tensor:
    """Counts of pixels positive at each descending threshold from bucket histogram.

    ``hist[k]`` counts pixels above exactly the ``k`` lowest thresholds; at the j-th
    highest threshold (j = 0..T-1) a pixel is positive when ``k >= T - j``.
    """
    # suffix sums: above[q] = sum_{k >= q} hist[k]
    above = torch.flip(torch.cumsum(torch.flip(hist, (0,)), 0), (0,))
    q = t_n - torch.arange(t_n, device=hist.device)
    return above[q]


def top1_loc(
    maps: Tensor,
    boxes: Tensor | Sequence[Tensor],
    logits_or_predictions: Tensor,
    labels: Tensor,
    *,
    iou_threshold: float = 0.5,
    version: int = 1,
    cam_thresholds: ThresholdsLike | None = None,
    connectivity: int = 8,
) -> Top1LocResult:
    """Top-1 localisation accuracy: right class and a box with IoU >= ``iou_threshold``.

    Higher is better. Bounded above by both the classification accuracy and the
    GT-known localisation (reported alongside). Sensitive to the CAM threshold (pass
    a single value to fix it; with a grid the best one over the batch is reported)
    and to ``version`` (1: largest component's box, the classic rule).

    Args:
        maps: (N, H, W), (N, 1, H, W) or (N, C, H, W) floating maps.
        boxes: (N, B, 4) tensor or list of N (B_i, 4) tensors, ends exclusive.
        logits_or_predictions: floating logits/probabilities (N, K) (argmax taken) or
            integer predicted classes (N,), >= 0.
        labels: integer true classes (N,), >= 0.
        iou_threshold: IoU needed for a hit, in (0, 1].
        version: 1 (default) or 2, see :func:`max_box_acc`.
        cam_thresholds: threshold(s) in [0, 1]; default 0.00, ..., 0.99.
        connectivity: 8 (default) or 4.

    Returns:
        :class:`Top1LocResult` on the maps' device in their dtype.

    Example:
        >>> maps = torch.zeros(2, 8, 8)
        >>> maps[:, 2:5, 1:7] = 1.0
        >>> boxes = torch.tensor([[[1, 2, 7, 5]], [[1, 2, 7, 5]]])
        >>> top1_loc(maps, boxes, torch.tensor([3, 1]), torch.tensor([3, 2])).score
        tensor(0.5000)
    """
    m = check_maps(maps)
    n = m.shape[0]
    iou_thr = check_number(
        iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0, strict_min=True
    )
    check_tensor(logits_or_predictions, "logits_or_predictions")
    check_tensor(labels, "labels")
    if (
        labels.dim() != 1
        or labels.shape[0] != n
        or labels.is_floating_point()
        or (labels.dtype == torch.bool)
    ):
        raise ValueError(
            f"`labels` must be an integer tensor of shape ({n},), got {labels.dtype} "
            f"shape {tuple(labels.shape)}"
        )
    lp = logits_or_predictions
    if lp.is_floating_point():
        if lp.dim() != 2 or lp.shape[0] != n:
            raise ValueError(
                f"`logits_or_predictions` as floating scores must have shape ({n}, K), got "
                f"{tuple(lp.shape)}"
            )
        if not bool(torch.isfinite(lp).all()):
            raise ValueError("`logits_or_predictions` contains NaN or Inf values")
        pred = lp.argmax(1)
    else:
        if lp.dim() != 1 or lp.shape[0] != n or lp.dtype == torch.bool:
            raise ValueError(
                f"`logits_or_predictions` as class ids must be an integer tensor of shape "
                f"({n},), got {lp.dtype} shape {tuple(lp.shape)}"
            )
        pred = lp
    for value, what in ((labels, "labels"), (pred, "logits_or_predictions")):
        if value.numel() and int(value.min()) < 0:
            raise ValueError(f"`{what}` must hold class ids >= 0, got {int(value.min())}")
    correct = pred.to(m.device).long() == labels.to(m.device).long()
    cams = _cam_grid(cam_thresholds, m)
    best_iou = box_ious_over_thresholds(
        m, boxes, version=version, cam_thresholds=cams, connectivity=connectivity
    )
    hit = best_iou >= iou_thr
    gt_known = hit.to(m.dtype).mean(0)
    top1 = (hit & correct[:, None]).to(m.dtype).mean(0)
    best, best_cam = _best_cam_threshold(top1, cams, dim=0)
    return Top1LocResult(
        score=best,
        best_cam_threshold=best_cam,
        top1_loc=top1,
        gt_known_loc=gt_known,
        correct=correct,
        best_iou=best_iou,
        cam_thresholds=cams,
    )


__all__ = [
    "MaxBoxAccResult",
    "PxAPResult",
    "Top1LocResult",
    "box_ious_over_thresholds",
    "max_box_acc",
    "pxap",
    "top1_loc",
]
