"""Tests for the metrics' map, mask and threshold checks."""

from __future__ import annotations

import pytest
import torch

from captum_nas.metrics._checks import check_maps, check_masks, check_thresholds, minmax_normalize


def test_minmax_constant_map_is_zero_not_nan() -> None:
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[7.0, 7.0], [7.0, 7.0]]])
    out = minmax_normalize(maps)
    assert torch.equal(out[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.equal(out[1], torch.zeros(2, 2))


def test_check_maps_reduces_channels_by_mean() -> None:
    maps = torch.stack([torch.ones(3, 3), 3 * torch.ones(3, 3)]).unsqueeze(0)  # (1, 2, 3, 3)
    assert torch.equal(check_maps(maps), 2 * torch.ones(1, 3, 3))
    assert check_maps(torch.ones(2, 1, 3, 4)).shape == (2, 3, 4)
    assert check_maps(torch.ones(2, 3, 4)).shape == (2, 3, 4)


@pytest.mark.parametrize(
    ("maps", "error", "match"),
    [
        (torch.ones(3, 3), ValueError, "shape"),
        (torch.ones(1, 1, 1, 3, 3), ValueError, "shape"),
        (torch.ones(1, 3, 3, dtype=torch.long), TypeError, "floating"),
        (torch.tensor([[[float("nan")]]]), ValueError, "NaN"),
        ([[1.0]], TypeError, "torch.Tensor"),
    ],
)
def test_check_maps_rejects(maps: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_maps(maps)


def test_check_masks() -> None:
    like = torch.zeros(2, 3, 3)
    ok = torch.zeros(2, 1, 3, 3)
    ok[:, :, 1, 1] = 1
    assert check_masks(ok, "masks", like=like).dtype == torch.bool
    with pytest.raises(ValueError, match="0 and 1"):
        check_masks(ok * 0.5, "masks", like=like)
    with pytest.raises(ValueError, match="does not match"):
        check_masks(ok[:1], "masks", like=like)
    with pytest.raises(ValueError, match="no object pixel"):
        check_masks(torch.zeros(2, 3, 3), "masks", like=like)
    soft = check_masks(ok * 0.5, "masks", like=like, soft=True)
    assert soft.dtype == like.dtype and float(soft.max()) == 0.5


def test_check_thresholds() -> None:
    like = torch.zeros(1, dtype=torch.float64)
    t, scalar = check_thresholds(0.5, "t", like)
    assert scalar and t.dtype == torch.float64 and t.tolist() == [0.5]
    t, scalar = check_thresholds([0.1, 0.2], "t", like)
    assert not scalar and t.tolist() == [0.1, 0.2]
    with pytest.raises(TypeError):
        check_thresholds("a", "t", like)
    with pytest.raises(ValueError, match="finite"):
        check_thresholds([float("inf")], "t", like)
