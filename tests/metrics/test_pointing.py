"""Tests for the pointing games and relevance mass / rank accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from captum_nas.metrics.pointing import (
    energy_pointing_game,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
)


def _peak(n: int, h: int, w: int, y: int, x: int) -> torch.Tensor:
    maps = torch.zeros(n, h, w)
    maps[:, y, x] = 1.0
    return maps


def _mask(n: int, h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    m = torch.zeros(n, h, w, dtype=torch.bool)
    m[:, y0:y1, x0:x1] = True
    return m


def test_pointing_peak_inside_and_outside() -> None:
    mask = _mask(1, 20, 20, 5, 8, 5, 8)
    assert pointing_game(_peak(1, 20, 20, 6, 6), mask, tolerance=0).tolist() == [1.0]
    assert pointing_game(_peak(1, 20, 20, 0, 0), mask, tolerance=0).tolist() == [0.0]


def test_pointing_tolerance_is_euclidean() -> None:
    mask = torch.zeros(1, 20, 20, dtype=torch.bool)
    mask[0, 10, 10] = True
    peak = _peak(1, 20, 20, 13, 14)  # offset (3, 4): distance 5
    assert pointing_game(peak, mask, tolerance=4.9).tolist() == [0.0]
    assert pointing_game(peak, mask, tolerance=5).tolist() == [1.0]
    far = _peak(1, 20, 20, 14, 14)  # offset (4, 4): distance 5.66, within a 5 square
    assert pointing_game(far, mask, tolerance=5).tolist() == [0.0]
    assert pointing_game(far, mask, tolerance=6).tolist() == [1.0]


def test_pointing_default_tolerance_15() -> None:
    mask = _mask(1, 40, 40, 0, 2, 0, 2)
    assert pointing_game(_peak(1, 40, 40, 1, 16), mask).tolist() == [1.0]  # 15 px away
    assert pointing_game(_peak(1, 40, 40, 1, 17), mask).tolist() == [0.0]


def test_pointing_ties_and_constant_map() -> None:
    mask = _mask(1, 10, 10, 0, 3, 0, 3)
    maps = torch.zeros(1, 10, 10)
    maps[0, 9, 9] = 1.0
    maps[0, 1, 1] = 1.0  # a tied maximum on the object
    assert pointing_game(maps, mask, tolerance=0).tolist() == [1.0]
    assert pointing_game(torch.full((1, 10, 10), 2.0), mask, tolerance=0).tolist() == [0.0]


def test_pointing_batch_dtype_and_channels() -> None:
    mask = _mask(2, 8, 8, 0, 4, 0, 4)
    maps = torch.stack([_peak(1, 8, 8, 1, 1)[0], _peak(1, 8, 8, 7, 7)[0]]).double()
    out = pointing_game(maps.unsqueeze(1).expand(2, 3, 8, 8), mask.unsqueeze(1), tolerance=0)
    assert out.dtype == torch.float64 and out.tolist() == [1.0, 0.0]


def test_relevance_mass_known_values() -> None:
    mask = _mask(1, 4, 4, 0, 2, 0, 2)
    inside = torch.zeros(1, 4, 4)
    inside[0, 0:2, 0:2] = 1.0
    assert relevance_mass_accuracy(inside, mask).tolist() == [1.0]
    assert relevance_mass_accuracy(1.0 - inside, mask).tolist() == [0.0]
    mixed = inside.clone()
    mixed[0, 3, 3] = 2.0  # mass 4 inside, 2 outside
    mixed[0, 3, 0] = -5.0  # negative relevance ignored
    assert relevance_mass_accuracy(mixed, mask).tolist() == [pytest.approx(4 / 6)]
    assert relevance_mass_accuracy(-inside, mask).tolist() == [0.0]  # no positive mass


def test_energy_pointing_game_boxes_equal_masks() -> None:
    gen = torch.Generator().manual_seed(0)
    maps = torch.rand(2, 6, 9, generator=gen)
    boxes = [torch.tensor([[1, 2, 7, 5]]), torch.tensor([[0, 0, 2, 2], [5, 3, 9, 6]])]
    mask = torch.zeros(2, 6, 9, dtype=torch.bool)
    mask[0, 2:5, 1:7] = True
    mask[1, 0:2, 0:2] = True
    mask[1, 3:6, 5:9] = True
    assert torch.allclose(energy_pointing_game(maps, boxes), energy_pointing_game(maps, mask))
    assert torch.allclose(energy_pointing_game(maps, mask), relevance_mass_accuracy(maps, mask))


def test_energy_pointing_game_mask_with_width_four() -> None:
    # a (N, H, 4) mask must not be read as boxes
    maps = torch.ones(1, 5, 4)
    mask = torch.zeros(1, 5, 4)
    mask[0, 0, :] = 1
    assert energy_pointing_game(maps, mask).tolist() == [pytest.approx(0.2)]


def test_relevance_rank_known_and_ties() -> None:
    mask = _mask(1, 2, 3, 0, 1, 0, 3)  # top row: 3 pixels
    maps = torch.tensor([[[5.0, 4.0, 0.0], [3.0, 1.0, 2.0]]])
    # top-3: 5, 4 (object), 3 (background)
    assert relevance_rank_accuracy(maps, mask).tolist() == [pytest.approx(2 / 3)]
    # constant map: chance level = 3 / 6, whatever the sort order
    assert relevance_rank_accuracy(torch.ones(1, 2, 3), mask).tolist() == [0.5]
    # tie at the K-th value: 5 (object) above, then 2 places among 4 tied pixels, 2 on object
    tied = torch.tensor([[[5.0, 1.0, 1.0], [1.0, 1.0, 0.0]]])
    assert relevance_rank_accuracy(tied, mask).tolist() == [pytest.approx((1 + 2 * 2 / 4) / 3)]


@pytest.mark.parametrize(
    "fn",
    [pointing_game, relevance_mass_accuracy, relevance_rank_accuracy, energy_pointing_game],
)
def test_rejects_bad_inputs(fn: object) -> None:
    maps = torch.rand(2, 5, 5)
    good = _mask(2, 5, 5, 0, 2, 0, 2)
    with pytest.raises(ValueError, match="no object pixel"):
        fn(maps, torch.zeros(2, 5, 5, dtype=torch.bool))  # type: ignore[operator]
    with pytest.raises(ValueError):
        fn(maps, good[:1])  # type: ignore[operator]
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.full((2, 5, 5), float("nan")), good)  # type: ignore[operator]
    with pytest.raises(ValueError, match="shape"):
        fn(torch.rand(5, 5), good)  # type: ignore[operator]


def test_rejects_bad_tolerance_and_mask_values() -> None:
    mask = _mask(1, 5, 5, 0, 2, 0, 2)
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(torch.rand(1, 5, 5), mask, tolerance=-1)
    with pytest.raises(ValueError, match="0 and 1"):
        relevance_mass_accuracy(torch.rand(1, 5, 5), mask.float() * 3)


# ---------------------------------------------------------------- Quantus parity


def _quantus_inputs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, nn.Module]:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(6, 1, 12, 12, generator=gen)
    s = torch.zeros(6, 1, 12, 12)
    for i in range(6):
        y0, x0 = (
            int(torch.randint(0, 8, (1,), generator=gen)),
            int(torch.randint(0, 8, (1,), generator=gen)),
        )
        s[i, 0, y0 : y0 + 4, x0 : x0 + 3] = 1.0
    x = torch.rand(6, 1, 12, 12, generator=gen)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 2)).eval()
    return x.numpy(), a.numpy(), s.numpy(), model


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("PointingGame", lambda a, s: pointing_game(a, s, tolerance=0)),
        ("RelevanceMassAccuracy", relevance_mass_accuracy),
        ("RelevanceRankAccuracy", relevance_rank_accuracy),
    ],
)
def test_parity_with_quantus(name: str, ours: object) -> None:
    quantus = pytest.importorskip("quantus")
    x, a, s, model = _quantus_inputs(seed=len(name))
    # boost the object in every other image so that scores span hits and misses
    a[::2] = a[::2] * (1.0 + 2.0 * s[::2])
    metric = getattr(quantus, name)(normalise=False, abs=False, disable_warnings=True)
    theirs = np.array(
        metric(
            model=model, x_batch=x, y_batch=np.zeros(6, int), a_batch=a, s_batch=s, device="cpu"
        ),
        dtype=float,
    )
    got = ours(torch.from_numpy(a), torch.from_numpy(s)).double().numpy()  # type: ignore[operator]
    assert got.max() > got.min()  # a non-trivial comparison
    # non-negative maps without ties: same definitions; float tolerance only
    np.testing.assert_allclose(got, theirs, atol=1e-6)
