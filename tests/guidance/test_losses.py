"""Heatmap segmentation loss, background channel, pixel labels, combined objective."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from captum_nas.guidance.losses import (
    guided_loss,
    heatmap_segmentation_loss,
    pixel_labels,
    segment_heatmaps,
    with_background,
)


def test_pixel_labels_background_class_and_ignore() -> None:
    masks = torch.tensor([[[True, False]], [[False, True]], [[True, True]]]).unsqueeze(1)
    labels = torch.tensor([2, 0, 1])
    out = pixel_labels(masks, labels, labelled=torch.tensor([True, True, False]))
    assert out.tolist() == [[[3, 0]], [[0, 1]], [[-1, -1]]]


def test_loss_hand_computed_one_pixel() -> None:
    # scores [background 0, a, b] = [0, 1, 2]; label 1 (class 0): -log(e / (1 + e + e^2))
    heatmaps = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1).requires_grad_(True)
    loss = heatmap_segmentation_loss(heatmaps, torch.tensor([[[1]]]))
    expected = -math.log(math.e / (1 + math.e + math.e**2))
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert heatmaps.grad is not None
    # scale multiplies the heatmaps, background shifts the constant channel
    scaled = heatmap_segmentation_loss(heatmaps, torch.tensor([[[0]]]), scale=2.0, background=1.0)
    assert float(scaled) == pytest.approx(-math.log(math.e / (math.e + math.e**2 + math.e**4)))


def test_loss_equals_cross_entropy_with_ignored_pixels() -> None:
    g = torch.Generator().manual_seed(0)
    heatmaps = torch.randn(2, 3, 4, 5, generator=g)
    labels = torch.randint(0, 4, (2, 4, 5), generator=g)
    labels[0, :2] = -1
    ref = F.cross_entropy(
        torch.cat([torch.zeros(2, 1, 4, 5), heatmaps], 1), labels, ignore_index=-1
    )
    torch.testing.assert_close(heatmap_segmentation_loss(heatmaps, labels), ref)
    # a background output of the model's own: channel 0
    own = heatmap_segmentation_loss(heatmaps, labels.clamp(max=2), background=None)
    torch.testing.assert_close(own, F.cross_entropy(heatmaps, labels.clamp(max=2), ignore_index=-1))


def test_all_ignored_gives_zero_with_graph() -> None:
    heatmaps = torch.randn(1, 2, 3, 3, requires_grad=True)
    loss = heatmap_segmentation_loss(heatmaps, torch.full((1, 3, 3), -1))
    assert float(loss) == 0.0 and loss.requires_grad


def test_guided_loss_weights() -> None:
    g = torch.Generator().manual_seed(1)
    logits, labels = torch.randn(4, 3, generator=g), torch.tensor([0, 1, 2, 1])
    heatmaps, targets = (
        torch.randn(2, 3, 2, 2, generator=g),
        torch.randint(0, 4, (2, 2, 2), generator=g),
    )
    out = guided_loss(
        logits, labels, heatmaps, targets, classification_weight=0.5, segmentation_weight=3.0
    )
    torch.testing.assert_close(out.classification, F.cross_entropy(logits, labels))
    torch.testing.assert_close(out.segmentation, heatmap_segmentation_loss(heatmaps, targets))
    torch.testing.assert_close(out.total, 0.5 * out.classification + 3.0 * out.segmentation)
    none = guided_loss(logits, labels, None, None)
    assert float(none.segmentation) == 0.0
    with pytest.raises(ValueError, match="both"):
        guided_loss(logits, labels, heatmaps, None)


def test_segment_heatmaps_argmax_with_background() -> None:
    heatmaps = torch.tensor([[[[-1.0, 0.5]], [[-2.0, 0.7]]]])  # (1, 2, 1, 2)
    assert segment_heatmaps(heatmaps).tolist() == [[[0, 2]]]
    assert segment_heatmaps(heatmaps, background=0.6).tolist() == [[[0, 2]]]
    assert segment_heatmaps(heatmaps, background=0.8).tolist() == [[[0, 0]]]
    assert with_background(heatmaps, torch.tensor(0.3)).shape == (1, 3, 1, 2)


def test_bad_input() -> None:
    heatmaps = torch.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match="labels"):
        heatmap_segmentation_loss(heatmaps, torch.zeros(1, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        heatmap_segmentation_loss(heatmaps, torch.full((1, 3, 3), 5))
    with pytest.raises(TypeError, match="integer"):
        heatmap_segmentation_loss(heatmaps, torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="scale"):
        heatmap_segmentation_loss(heatmaps, torch.zeros(1, 3, 3, dtype=torch.long), scale=0.0)
    with pytest.raises(TypeError, match="background"):
        with_background(heatmaps, "zero")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labelled"):
        pixel_labels(
            torch.ones(2, 1, 2, 2, dtype=torch.bool),
            torch.tensor([0, 1]),
            labelled=torch.tensor([True]),
        )
