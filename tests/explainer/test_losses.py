"""Each loss term of the Explainer pinned by a hand-computed case."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from captum_nas.explainer.losses import (
    DEFAULT_WEIGHTS,
    area_loss,
    classification_loss,
    entropy_loss,
    explainer_loss,
    extract_masks,
    label_matrix,
    mean_mask_loss,
    total_variation,
)


def test_default_weights_are_the_papers() -> None:
    # the authors' code: every weight 1 except the mean-mask ones, areas in [0.05, 0.3]
    assert DEFAULT_WEIGHTS == {
        **dict.fromkeys(("entropy_weight", "tv_weight", "area_weight"), 1.0),
        "mean_target_weight": 0.1,
        "mean_nontarget_weight": 0.3,
        "min_area": 0.05,
        "max_area": 0.3,
    }


def test_label_matrix_ids_and_multi_hot() -> None:
    assert label_matrix(torch.tensor([2, 0]), 3).tolist() == [
        [False, False, True],
        [True, False, False],
    ]
    multi = torch.tensor([[1, 0, 1], [0, 1, 0]])
    assert label_matrix(multi, 3).tolist() == [[True, False, True], [False, True, False]]


@pytest.mark.parametrize(
    ("labels", "error", "match"),
    [
        (torch.tensor([0, 3]), ValueError, r"class ids in \[0, 3\).*\[0, 3\]"),
        (torch.tensor([-1]), ValueError, "class ids in"),
        (torch.tensor([0.0, 1.0]), TypeError, "integers"),
        (torch.tensor([[1, 0]]), ValueError, "3 columns"),
        (torch.tensor([[1, 0, 2]]), ValueError, "only 0 and 1"),
        (torch.tensor([[0, 0, 0]]), ValueError, "at least one"),
    ],
)
def test_label_matrix_rejects_bad_labels(labels: torch.Tensor, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        label_matrix(labels, 3)


def test_extract_masks_max_over_labelled_and_other_classes() -> None:
    logits = torch.tensor([1.0, 2.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2).clone()
    target, non_target = extract_masks(logits, torch.tensor([0]))
    assert torch.allclose(target, torch.full((1, 2, 2), torch.sigmoid(torch.tensor(1.0)).item()))
    assert torch.allclose(
        non_target, torch.full((1, 2, 2), torch.sigmoid(torch.tensor(2.0)).item())
    )
    # multi-hot: classes 0 and 2 labelled -> target is max(1, -1), non-target is class 1
    target, non_target = extract_masks(logits, torch.tensor([[1, 0, 1]]))
    assert torch.allclose(target, torch.sigmoid(torch.tensor(1.0)).expand(1, 2, 2))
    assert torch.allclose(non_target, torch.sigmoid(torch.tensor(2.0)).expand(1, 2, 2))


def test_extract_masks_single_class_has_empty_non_target_and_finite_gradients() -> None:
    logits = torch.zeros(2, 1, 3, 3, requires_grad=True)
    target, non_target = extract_masks(logits, torch.tensor([0, 0]))
    assert torch.equal(non_target, torch.zeros(2, 3, 3))
    (target.sum() + non_target.sum()).backward()
    assert logits.grad is not None and torch.allclose(logits.grad, torch.full_like(logits, 0.25))


def test_classification_loss_cross_entropy_and_bce() -> None:
    # CE of uniform logits over 2 classes: log 2
    assert classification_loss(torch.zeros(1, 2), torch.tensor([1])).item() == pytest.approx(
        math.log(2)
    )
    logits = torch.tensor([[2.0, -1.0]])
    expected = -(math.log(1 / (1 + math.exp(-2))) + math.log(1 / (1 + math.exp(-1)))) / 2
    got = classification_loss(logits, torch.tensor([[1, 0]]))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_entropy_loss_uniform_and_confident() -> None:
    assert entropy_loss(torch.zeros(3, 4)).item() == pytest.approx(-math.log(4) / 4, rel=1e-6)
    # p = (0.75, 0.25): entropy 0.5623..., divided by K = 2
    logits = torch.log(torch.tensor([[0.75, 0.25]]))
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert entropy_loss(logits).item() == pytest.approx(-h / 2, rel=1e-6)
    # a one-hot prediction has (clamped) entropy ~0: the worst value
    assert entropy_loss(torch.tensor([[100.0, -100.0]])).item() == pytest.approx(0.0, abs=1e-6)


def test_total_variation_hand_computed() -> None:
    # m = [[0, 1, 1], [0, 0, 1]]; right diffs with reflect: row 0: |0-1|, |1-1|, |1-1|(mirror
    # col 1) -> 1, 0, 0; row 1: 0, 1, 1. Down: row 0: |0-0|, |1-0|, |1-1| -> 0, 1, 0; row 1
    # mirrors row 0: 0, 1, 0. Total 1 + 0 + 0 + 0 + 1 + 1 + 0 + 1 + 0 + 0 + 1 + 0 = 5 over 6.
    m = torch.tensor([[[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]])
    assert total_variation(m).item() == pytest.approx(5 / 6)
    assert total_variation(m[:, None]).item() == pytest.approx(5 / 6)
    assert total_variation(torch.full((2, 4, 4), 0.3)).item() == 0.0


def test_total_variation_matches_the_authors_convolution() -> None:
    torch.manual_seed(0)
    m = torch.rand(3, 7, 5)
    right = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, -1.0], [0.0, 0.0, 0.0]]).view(1, 1, 3, 3)
    down = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]]).view(1, 1, 3, 3)
    padded = F.pad(m[:, None], (1, 1, 1, 1), mode="reflect")
    ref = (F.conv2d(padded, right).abs() + F.conv2d(padded, down).abs()).mean()
    assert total_variation(m).item() == pytest.approx(ref.item(), rel=1e-6)


def test_area_loss_hand_computed() -> None:
    # 2x2 mask, one pixel at 1: min_area = max_area = 0.5 -> steps [1, 1, 0, 0];
    # sorted [1, 0, 0, 0] is one pixel short of the minimum: 1 / 4
    m = torch.zeros(1, 1, 2, 2)
    m[0, 0, 0, 0] = 1.0
    assert area_loss(m, torch.tensor([0]), min_area=0.5, max_area=0.5).item() == 0.25
    # 10 pixels at 0.6: min 0.1 -> first value should be 1 (short 0.4); max 0.3 -> the
    # 7 values after the first 3 should be 0 (excess 0.6 each): (0.4 + 4.2) / 10
    m = torch.full((1, 1, 1, 10), 0.6)
    got = area_loss(m, torch.tensor([0]), min_area=0.1, max_area=0.3)
    assert got.item() == pytest.approx(0.46)
    # a mask inside the bounds costs nothing, whatever the other classes do
    ok = torch.zeros(1, 2, 1, 10)
    ok[0, 0, 0, :2] = 1.0
    ok[0, 1] = 1.0
    assert area_loss(ok, torch.tensor([0]), min_area=0.1, max_area=0.3).item() == 0.0


def test_area_loss_sums_labelled_classes_and_averages_images() -> None:
    m = torch.zeros(2, 2, 1, 4)  # every mask empty: min 0.5 -> 2 pixels short -> 0.5 each
    single = area_loss(m, torch.tensor([0, 1]), min_area=0.5, max_area=0.5)
    assert single.item() == pytest.approx(0.5)
    multi = area_loss(m, torch.tensor([[1, 1], [0, 1]]), min_area=0.5, max_area=0.5)
    assert multi.item() == pytest.approx((1.0 + 0.5) / 2)


def test_area_loss_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="min_area"):
        area_loss(torch.zeros(1, 1, 2, 2), torch.tensor([0]), min_area=0.4, max_area=0.3)
    with pytest.raises(ValueError, match="max_area"):
        area_loss(torch.zeros(1, 1, 2, 2), torch.tensor([0]), max_area=1.5)


def test_mean_mask_loss() -> None:
    assert mean_mask_loss(torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])).item() == 0.25
    with pytest.raises(TypeError, match="floating"):
        mean_mask_loss(torch.ones(2, dtype=torch.long))


class _Linear(nn.Module):
    """Logits = weights times the mean of each input channel: easy to compute by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean((2, 3)))


def test_explainer_loss_is_the_weighted_sum_of_the_terms() -> None:
    torch.manual_seed(0)
    images = torch.randn(2, 2, 4, 4)
    logits = torch.randn(2, 2, 4, 4)
    labels = torch.tensor([0, 1])
    clf = _Linear()
    out = explainer_loss(clf, images, logits, labels, entropy_weight=2.0, tv_weight=0.5)
    t, nt = extract_masks(logits, labels)
    expected = {
        "classification": classification_loss(clf(t[:, None] * images), labels).item(),
        "entropy": 2.0 * entropy_loss(clf((1 - t)[:, None] * images)).item(),
        "tv": 0.5 * (total_variation(t) + total_variation(nt)).item(),
        "area": area_loss(logits.sigmoid(), labels).item(),
        "mean_target": 0.1 * t.mean().item(),
        "mean_nontarget": 0.3 * nt.mean().item(),
    }
    assert out.terms == pytest.approx(expected, rel=1e-5)
    assert out.total.item() == pytest.approx(sum(expected.values()), rel=1e-5)
    masked_pred = clf(t[:, None] * images).argmax(1)
    assert out.masked_correct == int((masked_pred == labels).sum())


def test_explainer_loss_bad_input() -> None:
    clf = _Linear()
    images = torch.randn(2, 2, 4, 4)
    with pytest.raises(ValueError, match=r"masks have shape .*images' N, H and W"):
        explainer_loss(clf, images, torch.randn(2, 2, 3, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
        explainer_loss(clf, images, torch.randn(2, 2, 4, 4), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"3 masks.*logits \(N, 3\)"):
        explainer_loss(clf, images, torch.randn(2, 3, 4, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="entropy_weight"):
        explainer_loss(
            clf, images, torch.randn(2, 2, 4, 4), torch.tensor([0, 1]), entropy_weight=-1
        )
