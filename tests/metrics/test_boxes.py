"""Tests for the metrics' box helpers."""

from __future__ import annotations

import pytest
import torch

from captum_nas.metrics._boxes import boxes_to_mask, check_boxes


def test_check_boxes_accepts_list_and_tensor() -> None:
    boxes, valid = check_boxes(
        [torch.tensor([[0, 0, 2, 3]]), torch.tensor([[1, 1, 4, 2], [0, 0, 1, 1]])],
        "boxes",
        n=2,
        height=5,
        width=4,
        device=torch.device("cpu"),
    )
    assert boxes.shape == (2, 2, 4)
    assert valid.tolist() == [[True, False], [True, True]]
    t, v = check_boxes(
        torch.tensor([[[0, 0, 4, 5]]]), "boxes", n=1, height=5, width=4, device=torch.device("cpu")
    )
    assert t.shape == (1, 1, 4) and bool(v.all())


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        (torch.tensor([[[2, 0, 2, 3]]]), "invalid"),  # x1 <= x0
        (torch.tensor([[[0, 3, 2, 1]]]), "invalid"),  # y1 <= y0
        (torch.tensor([[[0, 0, 5, 3]]]), "invalid"),  # x1 > width
        (torch.tensor([[[-1, 0, 2, 3]]]), "invalid"),
        (torch.tensor([[[0, 0, 2, float("nan")]]]), "NaN"),
        (torch.tensor([[[0, 0, 2, 3]], [[0, 0, 2, 3]]]), "images"),  # batch mismatch
        (torch.tensor([[[0, 0, 2]]]), "shape"),
        ([torch.tensor([[0, 0, 2, 3]]), torch.tensor([[0, 0, 1, 1]])], "entries"),
    ],
)
def test_check_boxes_rejects(boxes: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_boxes(boxes, "boxes", n=1, height=5, width=4, device=torch.device("cpu"))


def test_boxes_to_mask_x_is_width() -> None:
    boxes = torch.tensor([[[1.0, 0.0, 4.0, 2.0]]], dtype=torch.float64)
    mask = boxes_to_mask(boxes, torch.ones(1, 1, dtype=torch.bool), 3, 5)
    expected = torch.zeros(1, 3, 5, dtype=torch.bool)
    expected[0, 0:2, 1:4] = True
    assert torch.equal(mask, expected)
