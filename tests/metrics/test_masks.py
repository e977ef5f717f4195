"""Tests for mask IoU / F1 (points and curves), continuous IoU and ROC-AUC."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from captum_nas.metrics.masks import continuous_iou, mask_f1, mask_iou, roc_auc


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    maps = torch.rand(4, 7, 9, generator=gen)
    masks = torch.rand(4, 7, 9, generator=gen) < 0.35
    masks[:, 0, 0] = True
    masks[:, -1, -1] = False
    return maps, masks


def test_iou_f1_hand_values() -> None:
    maps = torch.tensor([[[0.9, 0.6], [0.2, 0.1]]])
    mask = torch.tensor([[[1, 0], [1, 0]]])
    # > 0.5: {(0,0), (0,1)}; object {(0,0), (1,0)}: TP 1, FP 1, FN 1
    assert mask_iou(maps, mask).tolist() == [pytest.approx(1 / 3)]
    assert mask_f1(maps, mask).tolist() == [pytest.approx(0.5)]
    # > 0.1 (strict): three pixels predicted, TP 2
    assert mask_iou(maps, mask, thresholds=0.1).tolist() == [pytest.approx(2 / 3)]
    assert mask_iou(maps, mask, thresholds=0.95).tolist() == [0.0]


def test_curves_match_brute_force() -> None:
    maps, masks = _data(0)
    thresholds = [0.0, 0.1, 0.33, 0.5, 0.77, 1.0]
    iou = mask_iou(maps, masks, thresholds=thresholds)
    f1 = mask_f1(maps, masks, thresholds=torch.tensor(thresholds))
    assert iou.shape == (4, 6) and f1.shape == (4, 6)
    for j, t in enumerate(thresholds):
        pred = maps > t
        inter = (pred & masks).flatten(1).sum(1).double()
        union = (pred | masks).flatten(1).sum(1).double()
        size = pred.flatten(1).sum(1).double() + masks.flatten(1).sum(1).double()
        assert torch.allclose(iou[:, j].double(), inter / union)
        assert torch.allclose(f1[:, j].double(), 2 * inter / size)


def test_normalize_option() -> None:
    maps, masks = _data(1)
    scaled = 10 * maps + 3
    a = mask_iou(scaled, masks, thresholds=[0.2, 0.6], normalize=True)
    lo = maps.flatten(1).min(1).values[:, None, None]
    hi = maps.flatten(1).max(1).values[:, None, None]
    b = mask_iou((maps - lo) / (hi - lo), masks, thresholds=[0.2, 0.6])
    assert torch.allclose(a, b)


def test_perfect_and_empty_prediction() -> None:
    masks = torch.zeros(2, 5, 5, dtype=torch.bool)
    masks[:, 1:3, 1:4] = True
    assert mask_iou(masks.float(), masks).tolist() == [1.0, 1.0]
    assert mask_f1(torch.zeros(2, 5, 5), masks).tolist() == [0.0, 0.0]


def test_continuous_iou() -> None:
    maps = torch.tensor([[[1.0, 0.5], [0.0, 0.0]]])
    assert continuous_iou(maps, torch.tensor([[[1, 1], [0, 0]]])).tolist() == [0.75]
    # equals the IoU on binary maps
    bmaps, masks = _data(2)
    binary = (bmaps > 0.5).float()
    assert torch.allclose(continuous_iou(binary, masks), mask_iou(binary, masks))
    # soft masks are accepted
    soft = torch.tensor([[[0.5, 1.0], [0.0, 0.0]]])
    assert continuous_iou(maps, soft).tolist() == [pytest.approx(1.0 / 2.0)]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        continuous_iou(maps * 2, torch.tensor([[[1, 1], [0, 0]]]))


def test_roc_auc_matches_sklearn_with_ties() -> None:
    maps, masks = _data(3)
    maps = (maps * 4).round() / 4  # heavy ties
    ours = roc_auc(maps.double(), masks)
    for i in range(4):
        ref = roc_auc_score(masks[i].flatten().numpy(), maps[i].flatten().numpy())
        assert float(ours[i]) == pytest.approx(ref, abs=1e-12)
    assert ours.dtype == torch.float64


def test_roc_auc_known_values() -> None:
    masks = torch.zeros(1, 4, 4, dtype=torch.bool)
    masks[0, :2] = True
    assert roc_auc(masks.float(), masks).tolist() == [1.0]
    assert roc_auc(1 - masks.float(), masks).tolist() == [0.0]
    assert roc_auc(torch.ones(1, 4, 4), masks).tolist() == [0.5]
    with pytest.raises(ValueError, match="background"):
        roc_auc(torch.rand(1, 4, 4), torch.ones(1, 4, 4))


@pytest.mark.parametrize("fn", [mask_iou, mask_f1, continuous_iou, roc_auc])
def test_rejects_bad_inputs(fn: object) -> None:
    maps, masks = _data(4)
    with pytest.raises(ValueError, match="no object pixel"):
        fn(maps, torch.zeros_like(masks))  # type: ignore[operator]
    with pytest.raises(ValueError, match="does not match"):
        fn(maps, masks[:2])  # type: ignore[operator]
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.full_like(maps, float("nan")), masks)  # type: ignore[operator]
    with pytest.raises(ValueError, match="shape"):
        fn(maps[0], masks)  # type: ignore[operator]


def test_rejects_bad_thresholds() -> None:
    maps, masks = _data(5)
    with pytest.raises(TypeError, match="thresholds"):
        mask_iou(maps, masks, thresholds="high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="thresholds"):
        mask_f1(maps, masks, thresholds=[float("nan")])
    with pytest.raises(TypeError, match="normalize"):
        mask_iou(maps, masks, normalize=1)  # type: ignore[arg-type]


def test_dtype_preserved() -> None:
    maps, masks = _data(6)
    for fn in (mask_iou, mask_f1, continuous_iou, roc_auc):
        assert fn(maps.double(), masks).dtype == torch.float64
        assert fn(maps, masks).dtype == torch.float32
    assert np.isfinite(mask_iou(maps, masks, thresholds=[0.0, 1.0]).numpy()).all()
