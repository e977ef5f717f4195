"""Tests for MaxBoxAcc (V1/V2), PxAP and Top-1 Loc."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from sklearn.metrics import average_precision_score

from captum_nas.metrics.localization import (
    MaxBoxAccResult,
    box_ious_over_thresholds,
    max_box_acc,
    max_box_acc_v1_v2,
    pxap,
    top1_loc,
)


def _rect_map(n: int, h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> torch.Tensor:
    maps = torch.zeros(n, h, w)
    maps[:, y0:y1, x0:x1] = 1.0
    return maps


def _smooth_maps(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(n, 1, h, w, generator=gen)
    return F.avg_pool2d(noise, 7, stride=1, padding=3).squeeze(1)


def _iou_np(p: np.ndarray, g: np.ndarray) -> float:
    ix = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
    iy = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
    inter = ix * iy
    union = (p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
    return inter / union


def _reference_best_iou(maps: torch.Tensor, boxes: list[np.ndarray], version: int) -> np.ndarray:
    """Direct per-image, per-threshold implementation with scipy."""
    out = np.zeros((maps.shape[0], 100))
    for i in range(maps.shape[0]):
        x = maps[i].double().numpy()
        x = (x - x.min()) / (x.max() - x.min())
        for j, t in enumerate(np.arange(100) / 100):
            lab, n = ndimage.label(x > t, structure=np.ones((3, 3)))
            if n == 0:
                continue
            slices = ndimage.find_objects(lab)
            cand = [np.array([s[1].start, s[0].start, s[1].stop, s[0].stop], float) for s in slices]
            if version == 1:
                sizes = np.bincount(lab.ravel())[1:]
                cand = [cand[int(np.argmax(sizes))]]
            out[i, j] = max(_iou_np(p, g) for p in cand for g in boxes[i])
    return out


def test_perfect_map_scores_one_both_versions() -> None:
    maps = _rect_map(2, 12, 20, x0=3, y0=2, x1=15, y1=7)
    boxes = torch.tensor([[[3, 2, 15, 7]], [[3, 2, 15, 7]]])
    for version in (1, 2):
        res = max_box_acc(maps, boxes, version=version)
        assert float(res.score) == 1.0
        assert torch.equal(res.best_iou, torch.ones(2, 100))
        assert float(res.best_cam_threshold[0]) == 0.0


def test_no_relevance_inside_scores_zero() -> None:
    maps = _rect_map(1, 12, 20, x0=0, y0=0, x1=3, y1=3)
    res = max_box_acc(maps, torch.tensor([[[10, 6, 20, 12]]]))
    assert float(res.score) == 0.0
    assert torch.equal(res.best_iou, torch.zeros(1, 100))


def test_swapped_xy_fails() -> None:
    # a wide, short object: (x0, y0, x1, y1) = (2, 1, 18, 5)
    maps = _rect_map(1, 24, 24, x0=2, y0=1, x1=18, y1=5)
    right = max_box_acc(maps, torch.tensor([[[2, 1, 18, 5]]]), version=1)
    swapped = max_box_acc(maps, torch.tensor([[[1, 2, 5, 18]]]), version=1)
    assert float(right.score) == 1.0
    assert float(swapped.score) == 0.0


def test_known_iou_half() -> None:
    # predicted 4x4 blob inside an 8x4 ground-truth box: IoU exactly 0.5
    maps = _rect_map(1, 10, 12, x0=2, y0=3, x1=6, y1=7)
    gt = torch.tensor([[[2, 3, 10, 7]]])
    res = max_box_acc(maps, gt, iou_thresholds=(0.3, 0.5, 0.7))
    assert torch.allclose(res.best_iou, torch.full((1, 100), 0.5))
    assert res.max_box_acc.tolist() == [1.0, 1.0, 0.0]
    assert float(res.score) == pytest.approx(2 / 3)


def test_v1_largest_component_vs_v2_all_components() -> None:
    maps = torch.zeros(1, 20, 20)
    maps[0, 0:10, 0:10] = 1.0  # large blob, no object there
    maps[0, 15:18, 15:19] = 1.0  # small blob exactly on the object
    gt = torch.tensor([[[15, 15, 19, 18]]])
    v1 = max_box_acc(maps, gt, version=1)
    v2 = max_box_acc(maps, gt, version=2, iou_thresholds=0.5)
    assert float(v1.score) == 0.0
    assert float(v2.score) == 1.0


def test_several_boxes_per_image_best_counts() -> None:
    maps = torch.zeros(2, 16, 16)
    maps[0, 1:5, 1:9] = 1.0
    maps[1, 10:15, 2:6] = 1.0
    boxes = [
        torch.tensor([[9, 9, 15, 15], [1, 1, 9, 5]]),  # second box matches
        torch.tensor([[2, 10, 6, 15]]),
    ]
    res = max_box_acc(maps, boxes, version=1)
    assert float(res.score) == 1.0
    padded = torch.tensor([[[9, 9, 15, 15], [1, 1, 9, 5]], [[2, 10, 6, 15], [2, 10, 6, 15]]])
    assert torch.equal(max_box_acc(maps, padded, version=1).best_iou, res.best_iou)


def test_constant_map_never_scores_never_nan() -> None:
    maps = torch.full((2, 8, 8), 3.0)
    res = max_box_acc(maps, torch.tensor([[[0, 0, 8, 8]], [[0, 0, 8, 8]]]))
    assert float(res.score) == 0.0
    assert not bool(torch.isnan(res.box_acc).any())
    assert torch.equal(res.best_iou, torch.zeros(2, 100))


def test_threshold_is_strict_on_normalised_map() -> None:
    # values 0, 0.5, 1 after normalisation: at t = 0.5 only the top pixel is foreground
    maps = torch.tensor([[[0.0, 1.0, 2.0]]])
    ious = box_ious_over_thresholds(
        maps, torch.tensor([[[2, 0, 3, 1]]]), cam_thresholds=[0.49, 0.5]
    )
    assert ious.tolist() == [[0.5, 1.0]]


@pytest.mark.parametrize("version", [1, 2])
def test_matches_scipy_reference(version: int) -> None:
    maps = _smooth_maps(5, 21, 27, seed=version)
    boxes_np = [np.array([[3, 2, 20, 14]], float), np.array([[0, 0, 9, 9], [10, 5, 27, 21]], float)]
    boxes_np += [np.array([[5, 5, 12, 19]], float)] * 3
    boxes = [torch.from_numpy(b) for b in boxes_np]
    ours = box_ious_over_thresholds(maps.double(), boxes, version=version).numpy()
    np.testing.assert_allclose(ours, _reference_best_iou(maps, boxes_np, version), atol=1e-12)


def test_v2_matches_opencv_external_contours() -> None:
    maps = _smooth_maps(3, 18, 22, seed=7).double()
    gt = np.array([4, 3, 17, 15], float)
    ours = box_ious_over_thresholds(
        maps, torch.from_numpy(np.stack([gt[None]] * 3)), version=2
    ).numpy()
    for i in range(3):
        x = maps[i].numpy()
        x = (x - x.min()) / (x.max() - x.min())
        for j, t in enumerate(np.arange(100) / 100):
            contours, _ = cv2.findContours(
                (x > t).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            best = 0.0
            for c in contours:
                bx, by, bw, bh = cv2.boundingRect(c)
                best = max(best, _iou_np(np.array([bx, by, bx + bw, by + bh], float), gt))
            assert ours[i, j] == pytest.approx(best, abs=1e-12)


def test_channel_layouts_agree() -> None:
    maps = _smooth_maps(2, 10, 14, seed=1)
    boxes = torch.tensor([[[2, 2, 9, 8]], [[0, 3, 14, 10]]])
    a = max_box_acc(maps, boxes)
    b = max_box_acc(maps.unsqueeze(1), boxes)
    c = max_box_acc(maps.unsqueeze(1).expand(2, 3, 10, 14), boxes)
    assert torch.equal(a.box_acc, b.box_acc) and torch.equal(a.box_acc, c.box_acc)


def test_dtype_preserved_and_concat() -> None:
    maps = _smooth_maps(4, 10, 10, seed=2).double()
    boxes = torch.tensor([[[1, 1, 7, 7]]] * 4)
    whole = max_box_acc(maps, boxes)
    assert whole.score.dtype == torch.float64 and whole.best_iou.dtype == torch.float64
    merged = MaxBoxAccResult.concat(
        [max_box_acc(maps[:1], boxes[:1]), max_box_acc(maps[1:], boxes[1:])]
    )
    assert torch.equal(merged.box_acc, whole.box_acc)
    assert torch.equal(merged.score, whole.score)
    other = max_box_acc(maps[:1], boxes[:1], cam_thresholds=[0.5])
    with pytest.raises(ValueError, match="share"):
        MaxBoxAccResult.concat([whole, other])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"version": 3}, ValueError, "version"),
        ({"iou_thresholds": (0.5, 1.5)}, ValueError, "iou_thresholds"),
        ({"cam_thresholds": [-0.1, 0.5]}, ValueError, "cam_thresholds"),
        ({"connectivity": 6}, ValueError, "connectivity"),
        ({"cam_thresholds": "fine"}, TypeError, "cam_thresholds"),
    ],
)
def test_max_box_acc_rejects_options(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        max_box_acc(torch.rand(1, 6, 6), torch.tensor([[[0, 0, 3, 3]]]), **kwargs)


def test_max_box_acc_rejects_inputs() -> None:
    boxes = torch.tensor([[[0, 0, 3, 3]]])
    with pytest.raises(ValueError, match="NaN"):
        max_box_acc(torch.full((1, 6, 6), float("nan")), boxes)
    with pytest.raises(ValueError, match="shape"):
        max_box_acc(torch.rand(6, 6), boxes)
    with pytest.raises(ValueError, match="images"):
        max_box_acc(torch.rand(2, 6, 6), boxes)
    with pytest.raises(ValueError, match="invalid"):
        max_box_acc(torch.rand(1, 6, 6), torch.tensor([[[0, 0, 7, 3]]]))
    with pytest.raises(ValueError, match="invalid"):
        max_box_acc(torch.rand(1, 6, 6), torch.tensor([[[3, 0, 3, 3]]]))


def test_pxap_exact_matches_sklearn() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(3, 9, 11, generator=gen)
    scores = (scores * 8).round() / 8  # many ties
    masks = torch.rand(3, 9, 11, generator=gen) < 0.3
    ours = pxap(scores, masks, cam_thresholds="all", normalize=False)
    ref = average_precision_score(masks.reshape(-1).numpy(), scores.reshape(-1).numpy())
    assert float(ours.score) == pytest.approx(ref, abs=1e-6)


def test_pxap_grid_matches_direct_count() -> None:
    gen = torch.Generator().manual_seed(1)
    maps = torch.rand(2, 8, 8, generator=gen, dtype=torch.float64)
    masks = torch.rand(2, 8, 8, generator=gen) < 0.4
    res = pxap(maps, masks, cam_thresholds=[0.2, 0.5, 0.8])
    x = maps.reshape(2, -1)
    x = (x - x.min(1, keepdim=True).values) / (
        x.max(1, keepdim=True).values - x.min(1, keepdim=True).values
    )
    y = masks.reshape(2, -1)
    ap, prev_r = 0.0, 0.0
    for t in (0.8, 0.5, 0.2):
        pos = x >= t
        tp = float((pos & y).sum())
        p, r = tp / float(pos.sum()), tp / float(y.sum())
        ap += (r - prev_r) * p
        prev_r = r
    assert float(res.score) == pytest.approx(ap, abs=1e-12)
    assert res.thresholds.tolist() == [0.8, 0.5, 0.2]


def test_pxap_perfect_and_default_grid() -> None:
    masks = torch.zeros(2, 6, 6, dtype=torch.bool)
    masks[:, 1:4, 2:5] = True
    res = pxap(masks.float(), masks)
    assert float(res.score) == 1.0
    assert res.thresholds.numel() == 101 and float(res.recall[-1]) == 1.0


def test_pxap_rejects() -> None:
    with pytest.raises(ValueError, match="both object and background"):
        pxap(torch.rand(1, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="cam_thresholds"):
        pxap(torch.rand(1, 4, 4), torch.eye(4).unsqueeze(0), cam_thresholds="exact")
    with pytest.raises(ValueError, match="0 and 1"):
        pxap(torch.rand(1, 4, 4), torch.full((1, 4, 4), 2.0))


def test_top1_loc() -> None:
    maps = _rect_map(3, 10, 10, x0=2, y0=2, x1=8, y1=6)
    boxes = torch.tensor([[[2, 2, 8, 6]], [[2, 2, 8, 6]], [[0, 7, 3, 10]]])
    labels = torch.tensor([1, 0, 2])
    logits = torch.tensor([[0.0, 5.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]])
    res = top1_loc(maps, boxes, logits, labels)
    # image 0: right class, right box; image 1: wrong class; image 2: wrong box
    assert res.correct.tolist() == [True, False, True]
    assert float(res.score) == pytest.approx(1 / 3)
    assert float(res.gt_known_loc.max()) == pytest.approx(2 / 3)
    same = top1_loc(maps, boxes, logits.argmax(1), labels, cam_thresholds=0.5)
    assert same.top1_loc.shape == (1,) and float(same.score) == pytest.approx(1 / 3)


def test_top1_loc_rejects() -> None:
    maps = torch.rand(2, 6, 6)
    boxes = torch.tensor([[[0, 0, 3, 3]]] * 2)
    with pytest.raises(ValueError, match="labels"):
        top1_loc(maps, boxes, torch.tensor([0, 1]), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="logits_or_predictions"):
        top1_loc(maps, boxes, torch.rand(3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="iou_threshold"):
        top1_loc(maps, boxes, torch.tensor([0, 1]), torch.tensor([0, 1]), iou_threshold=0)


def test_v1_v2_in_one_pass_equal_separate_calls() -> None:
    # noisy blobs: several components per threshold, so V1 and V2 differ
    g = torch.Generator().manual_seed(0)
    maps = F.avg_pool2d(torch.rand(6, 1, 40, 48, generator=g), 5, 1, 2)[:, 0]
    boxes = [torch.tensor([[4, 6, 30, 25], [20, 20, 44, 38]])] * 3 + [
        torch.tensor([[0, 0, 12, 40]])
    ] * 3
    v1, v2 = max_box_acc_v1_v2(maps, boxes, cam_thresholds=torch.linspace(0, 0.95, 20))
    sep1 = max_box_acc(maps, boxes, version=1, cam_thresholds=torch.linspace(0, 0.95, 20))
    sep2 = max_box_acc(maps, boxes, version=2, cam_thresholds=torch.linspace(0, 0.95, 20))
    assert v1.version == 1 and v2.version == 2
    assert not torch.equal(v1.best_iou, v2.best_iou)
    for a, b in ((v1, sep1), (v2, sep2)):
        assert torch.equal(a.best_iou, b.best_iou)
        assert torch.equal(a.max_box_acc, b.max_box_acc) and torch.equal(a.score, b.score)
    # the V1 test case above: the largest blob misses, the small one hits
    maps = torch.zeros(1, 20, 20)
    maps[0, 0:10, 0:10] = 1.0
    maps[0, 15:18, 15:19] = 1.0
    v1, v2 = max_box_acc_v1_v2(maps, torch.tensor([[[15, 15, 19, 18]]]))
    assert float(v1.score) == 0.0 and float(v2.max_box_acc[1]) == 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pxap_from_summed_histograms_of_any_split_equals_pxap(dtype: torch.dtype) -> None:
    from captum_nas.metrics.localization import (
        pxap_from_histograms,
        pxap_histograms,
        pxap_thresholds,
    )

    g = torch.Generator().manual_seed(0)
    maps = torch.rand(7, 1, 12, 10, generator=g, dtype=dtype)
    masks = torch.rand(7, 1, 12, 10, generator=g) > 0.6
    masks[2] = True  # an all-object image is fine inside a data set
    whole = pxap(maps, masks)
    pos, neg, thr = pxap_histograms(maps, masks)
    assert pos.shape == neg.shape == (7, 102) and pos.dtype == torch.int64
    assert int(pos.sum() + neg.sum()) == maps.numel()
    assert torch.equal(thr, pxap_thresholds(dtype))
    # split into shards, histograms summed: the same numbers, bit for bit
    parts = [pxap_histograms(maps[s], masks[s]) for s in (slice(0, 3), slice(3, 7))]
    merged = pxap_from_histograms(
        sum(p[0].sum(0) for p in parts), sum(p[1].sum(0) for p in parts), thr
    )
    assert torch.equal(merged.score, whole.score)
    assert torch.equal(merged.precision, whole.precision)
    with pytest.raises(ValueError, match="both object and background"):
        pxap_from_histograms(torch.zeros(102, dtype=torch.long), neg.sum(0), thr)
    with pytest.raises(ValueError, match="shape"):
        pxap_from_histograms(pos.sum(0)[:5], neg.sum(0), thr)
