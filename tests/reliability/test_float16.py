"""Half precision at realistic sizes: sums over 224 x 224 maps must not overflow.

float16 holds values up to 65504; the sum over one segment of a 224 x 224 map with
values around 50 is about 600 000. Pooling and the mass metrics sum in float32 and cast
the result back, so their half-precision result is the float64 result of the same
values rounded to the maps' dtype. The references below are computed in float64 with
plain masks (no code shared with the functions under test).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from captum_nas._precision import accumulation_dtype
from captum_nas.metrics import (
    continuous_iou,
    energy_pointing_game,
    mask_iou,
    pxap,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
    roc_auc,
    semantic_mass,
)
from captum_nas.pooling import pool_segments, segment_pool

N, C, S = 2, 3, 224
HALF_DTYPES = [torch.float16, torch.bfloat16]
# relative precision of one rounding to the dtype (plus the float32 sum's error)
REL_TOL = {torch.float16: 2e-3, torch.bfloat16: 1.6e-2}


def _maps(dtype: torch.dtype, low: float = 1.0, high: float = 100.0) -> Tensor:
    """(2, 3, 224, 224) maps, uniform in [low, high), rounded to ``dtype``."""
    g = torch.Generator().manual_seed(0)
    return (torch.rand(N, C, S, S, generator=g, dtype=torch.float64) * (high - low) + low).to(dtype)


def _quadrants() -> Tensor:
    """Four 112 x 112 segments (12544 pixels each) shared by the batch."""
    ids = torch.zeros(1, 1, S, S, dtype=torch.long)
    ids[..., :112, 112:] = 1
    ids[..., 112:, :112] = 2
    ids[..., 112:, 112:] = 3
    return ids


def _reference(values: Tensor, ids: Tensor, reduce: str) -> Tensor:
    """(N, C, K) pooled scores in float64, one boolean mask per segment."""
    v = values.double()
    out = torch.empty(v.shape[0], v.shape[1], int(ids.max()) + 1, dtype=torch.float64)
    for k in range(out.shape[2]):
        inside = v[:, :, ids[0, 0] == k]  # (N, C, pixels)
        if reduce == "mean":
            out[:, :, k] = inside.mean(2)
        elif reduce == "sum":
            out[:, :, k] = inside.sum(2)
        elif reduce == "abs-mean":
            out[:, :, k] = inside.abs().mean(2)
        elif reduce == "l2":
            out[:, :, k] = inside.pow(2).sum(2).sqrt()
        else:
            out[:, :, k] = inside.amax(2)
    return out


def _assert_rounded(result: Tensor, reference: Tensor, dtype: torch.dtype) -> None:
    """``result`` (in ``dtype``) is ``reference`` rounded to ``dtype``: relatively
    close where it fits, Inf exactly where it does not."""
    assert result.dtype == dtype
    fits = reference.abs() <= torch.finfo(dtype).max
    assert bool(torch.isfinite(result[fits]).all())
    torch.testing.assert_close(
        result[fits].double(), reference[fits], rtol=REL_TOL[dtype], atol=0.0
    )
    assert bool(torch.isinf(result[~fits]).all())


def test_accumulation_dtype() -> None:
    assert accumulation_dtype(torch.float16) == torch.float32
    assert accumulation_dtype(torch.bfloat16) == torch.float32
    assert accumulation_dtype(torch.float32) == torch.float32
    assert accumulation_dtype(torch.float64) == torch.float64


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@pytest.mark.parametrize("reduce", ["mean", "abs-mean", "l2", "sum", "max"])
def test_segment_pool_on_224px_half_maps_matches_float64(dtype: torch.dtype, reduce: str) -> None:
    maps = _maps(dtype)
    ids = _quadrants()
    pooled = segment_pool(maps, ids, reduce=reduce)
    ref = _reference(maps, ids, reduce)
    _assert_rounded(pooled.scores, ref, dtype)
    # the map holds every segment's score on its pixels
    expected_map = ref.gather(2, ids.expand(N, C, S, S).reshape(N, C, -1)).reshape(N, C, S, S)
    _assert_rounded(pooled.map, expected_map, dtype)
    if reduce in ("mean", "abs-mean", "l2") and dtype == torch.float16:
        # all three fit float16 comfortably (mean ~ 50, l2 ~ 6 500): no Inf anywhere
        assert bool(torch.isfinite(pooled.scores).all())


def test_float16_sum_overflows_only_where_the_true_sum_does() -> None:
    """A segment sum of ~630 000 is beyond float16: Inf, as the float64 sum rounded."""
    maps = _maps(torch.float16)
    scores = segment_pool(maps, _quadrants(), reduce="sum").scores
    assert bool(torch.isinf(scores).all())
    small = segment_pool(maps / 100, _quadrants(), reduce="sum").scores  # ~ 6 300
    _assert_rounded(small, _reference(maps / 100, _quadrants(), "sum"), torch.float16)


def test_l2_of_tiny_half_values_does_not_underflow() -> None:
    """Squares of 1e-4 are below float16's smallest subnormal (6e-8)."""
    maps = _maps(torch.float16, low=1e-4, high=2e-4)
    ids = _quadrants()
    _assert_rounded(
        segment_pool(maps, ids, reduce="l2").scores, _reference(maps, ids, "l2"), torch.float16
    )


def test_constant_half_map_pools_exactly() -> None:
    """Hand-computed: a map of 100 over one 224 x 224 segment has mean 100 and
    l2 = 100 * 224 = 22400 (before: Inf for both, the float16 sum overflowed)."""
    maps = torch.full((1, 1, S, S), 100.0, dtype=torch.float16)
    one = torch.zeros(1, 1, S, S, dtype=torch.long)
    assert segment_pool(maps, one).scores.item() == 100.0
    assert segment_pool(maps, one, reduce="abs-mean").scores.item() == 100.0
    # the float32 sum of 50176 squares (5e8) rounds; within one float16 step (16)
    assert abs(segment_pool(maps, one, reduce="l2").scores.item() - 22400.0) <= 16.0


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@pytest.mark.parametrize("pooling", ["magnitude", "contribution"])
def test_pool_segments_on_224px_half_maps(dtype: torch.dtype, pooling: str) -> None:
    maps = _maps(dtype) / 100  # contribution sums stay within float16 (~ 19 000)
    ids = _quadrants()
    out = pool_segments(maps, ids, pooling=pooling)
    summed = maps.double().sum(1, keepdim=True)
    ref = _reference(summed, ids, "mean" if pooling == "magnitude" else "sum")[:, 0]
    _assert_rounded(out.scores, ref, dtype)


def test_segment_pool_with_many_segments_and_channel_reduce_at_224px() -> None:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 40, (N, 1, 28, 28), generator=g)
    ids = ids.repeat_interleave(8, 2).repeat_interleave(8, 3)
    maps = _maps(torch.float16)
    pooled = segment_pool(maps, ids, channel_reduce="mean", reduce="l2").scores
    ref = segment_pool(maps.double(), ids, channel_reduce="mean", reduce="l2").scores
    _assert_rounded(pooled, ref, torch.float16)


# ---- metrics on (2, 224, 224) maps -------------------------------------------------

MASK = torch.zeros(N, S, S, dtype=torch.bool)
MASK[:, 40:150, 60:130] = True
BOXES = torch.tensor([[[60, 40, 130, 150]], [[60, 40, 130, 150]]])


def _mass_reference(maps: Tensor, region: Tensor) -> Tensor:
    m = maps.double().mean(1).clamp(min=0).reshape(N, -1)
    return (m * region.reshape(N, -1)).sum(1) / m.sum(1)


METRICS: dict[str, Callable[[Tensor], Any]] = {
    "relevance_mass_accuracy": lambda m: relevance_mass_accuracy(m, MASK),
    "energy_pointing_game-boxes": lambda m: energy_pointing_game(m, BOXES),
    "energy_pointing_game-masks": lambda m: energy_pointing_game(m, MASK),
    "semantic_mass": lambda m: semantic_mass(m, _quadrants(), MASK.long() * 2 - 1).mass,
    "relevance_rank_accuracy": lambda m: relevance_rank_accuracy(m, MASK),
    "continuous_iou": lambda m: continuous_iou(m / 100, MASK),
    "roc_auc": lambda m: roc_auc(m, MASK),
    "pxap": lambda m: pxap(m, MASK).score,
    "mask_iou": lambda m: mask_iou(m, MASK, thresholds=[0.5]),
}


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@pytest.mark.parametrize("name", list(METRICS))
def test_metrics_on_224px_half_maps_match_float64(name: str, dtype: torch.dtype) -> None:
    maps = _maps(dtype)
    out = METRICS[name](maps)
    assert out.dtype == dtype
    assert bool(torch.isfinite(out).all())
    expected = METRICS[name](maps.double())
    torch.testing.assert_close(out.double(), expected, rtol=REL_TOL[dtype], atol=1e-3)


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_mass_metrics_against_a_hand_written_float64_reference(dtype: torch.dtype) -> None:
    maps = _maps(dtype)
    expected = _mass_reference(maps, MASK)  # the object holds ~15 % of the pixels
    assert 0.1 < float(expected.min()) < float(expected.max()) < 0.2
    for out in (relevance_mass_accuracy(maps, MASK), energy_pointing_game(maps, BOXES)):
        torch.testing.assert_close(out.double(), expected, rtol=REL_TOL[dtype], atol=0.0)


def test_mass_of_tiny_half_values_does_not_vanish() -> None:
    """Values ~1e-6 (float16 subnormals) still give the right share, not 0."""
    maps = _maps(torch.float16, low=1e-6, high=2e-6)
    out = relevance_mass_accuracy(maps, MASK)
    torch.testing.assert_close(out.double(), _mass_reference(maps, MASK), rtol=5e-3, atol=0.0)
