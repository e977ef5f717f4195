"""class_areas / class_maps: hand-computed areas of true and wrong classes."""

from __future__ import annotations

import pytest
import torch

from captum_nas.explainer.specificity import class_areas, class_maps


def test_class_areas_hand_computed() -> None:
    maps = torch.zeros(2, 3, 2, 2)
    maps[0, 1] = 1.0  # image 0, true class 1: full
    maps[0, 0, 0, 0] = 1.0  # a wrong class covers a quarter
    maps[1, 2, :, 0] = 0.5  # image 1, true class 2: area 0.25
    out = class_areas(maps, torch.tensor([1, 2]))
    assert out.true_area == pytest.approx((1.0 + 0.25) / 2)
    assert out.other_area == pytest.approx(0.25 / 4)
    assert out.ratio == pytest.approx(0.0625 / 0.625)
    # normalised by the true map's maximum: image 1's true map becomes 0/1 -> area 0.5
    norm = class_areas(maps, torch.tensor([1, 2]), normalize=True)
    assert norm.true_area == pytest.approx((1.0 + 0.5) / 2)


def test_class_maps_calls_every_class() -> None:
    x = torch.randn(2, 3, 4, 4)

    def fn(inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return target.float().view(-1, 1, 1, 1).expand_as(inputs)

    maps = class_maps(fn, x, 3)
    assert maps.shape == (2, 3, 4, 4)
    assert torch.equal(maps[:, 2], torch.full((2, 4, 4), 2.0))


def test_bad_labels() -> None:
    with pytest.raises(ValueError, match=r"`labels` must lie in \[0, 3\)"):
        class_areas(torch.zeros(1, 3, 2, 2), torch.tensor([3]))
