"""Guided backward pass (both paths), segmentation scores."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from captum_nas.guidance import LRPDecoder
from captum_nas.guidance.losses import heatmap_segmentation_loss, pixel_labels
from captum_nas.guidance.training import (
    GuidanceConfig,
    SegmentationScores,
    guided_backward,
    heatmap_segmentation,
)


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 8, 8, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    masks = torch.zeros(6, 1, 8, 8, dtype=torch.bool)
    masks[:, :, 2:6, 2:6] = True
    targets = pixel_labels(masks, y, labelled=torch.tensor([True, False, True, False, False, True]))
    return x, y, targets


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_memory_saving_path_gives_the_same_gradients(mode: str) -> None:
    x, y, targets = _batch()
    cfg = GuidanceConfig(classification_weight=0.7, segmentation_weight=2.0, scale=50.0)
    results, grads = [], []
    for saving in (False, True):
        model = _model()
        model.train(mode == "train")
        r = guided_backward(
            LRPDecoder(model),
            x,
            y,
            targets,
            GuidanceConfig(**{**cfg.__dict__, "memory_saving": saving}),
        )
        results.append(r)
        grads.append(_grads(model))
    assert results[0].loss == pytest.approx(results[1].loss, rel=1e-5)
    assert results[0].n_pixel_labelled == 3
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_loss_is_the_weighted_sum_on_the_labelled_images() -> None:
    x, y, targets = _batch()
    model = _model().eval()
    cfg = GuidanceConfig(classification_weight=0.5, segmentation_weight=3.0, scale=10.0)
    r = guided_backward(LRPDecoder(model), x, y, targets, cfg)
    with torch.no_grad():
        logits = model(x)
        idx = torch.tensor([0, 2, 5])
        maps = LRPDecoder(model)(x[idx]).heatmaps
        seg = heatmap_segmentation_loss(maps, targets[idx], scale=10.0)
    assert r.classification == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)
    assert r.segmentation == pytest.approx(float(seg), rel=1e-5)
    assert r.loss == pytest.approx(0.5 * r.classification + 3.0 * r.segmentation, rel=1e-6)


def test_batch_without_pixel_labels_trains_only_the_classification() -> None:
    x, y, _ = _batch()
    model = _model().eval()
    r = guided_backward(LRPDecoder(model), x, y, torch.full((6, 8, 8), -1))
    got = _grads(model)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for a, b in zip(got, _grads(model)):
        torch.testing.assert_close(a, b)
    assert r.segmentation == 0.0 and r.n_pixel_labelled == 0


def test_guided_steps_lower_the_segmentation_loss() -> None:
    x, y, targets = _batch()
    model = _model().eval()
    decoder = LRPDecoder(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    cfg = GuidanceConfig(classification_weight=0.1, scale=64.0)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        losses.append(guided_backward(decoder, x, y, targets, cfg).segmentation)
        optimizer.step()
    assert losses[-1] < 0.6 * losses[0]


def test_segmentation_scores_hand_computed() -> None:
    scores = SegmentationScores(3)
    target = torch.tensor([[[0, 1, 1, 0]]])
    predicted = torch.tensor([[[1, 1, 2, 0]]])
    scores.update(predicted, target, logits_correct=1)
    # foreground: predicted at {0,1,2}, true at {1,2} -> 2/3. Class pixels: label 1 true
    # at {1,2}, predicted at {0,1} -> 1 / 3; label 2 predicted at {2}, never true -> 0 / 1;
    # summed: (1 + 0) / (3 + 1).
    assert scores.foreground_iou == pytest.approx(2 / 3)
    assert scores.class_iou == pytest.approx(1 / 4)
    # mean over the labels present in the target (0: 1/2, 1: 1/3)
    assert scores.miou == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert scores.accuracy == 1.0


def test_heatmap_segmentation_shapes() -> None:
    x, _, _ = _batch()
    labels, logits = heatmap_segmentation(LRPDecoder(_model().eval()), x, scale=1.0)
    assert labels.shape == (6, 8, 8) and logits.shape == (6, 3) and not logits.requires_grad


def test_bad_batches() -> None:
    x, y, targets = _batch()
    decoder = LRPDecoder(_model().eval())
    with pytest.raises(ValueError, match="pixel_targets"):
        guided_backward(decoder, x, y, targets[:, :4])
    with pytest.raises(ValueError, match="labels"):
        guided_backward(decoder, x, y[:3], targets)
    with pytest.raises(ValueError, match="scale"):
        GuidanceConfig(scale=-1.0)
