"""Property-based invariants of pooling, metrics, relevance curves and segmentation.

Complements ``tests/segmentation/test_properties.py`` (relabelling partitions,
connected components, grid balance, k-means, NAS batch permutation), which these
tests do not repeat.
"""

from __future__ import annotations

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from captum_nas.metrics import (
    continuous_iou,
    energy_pointing_game,
    mask_f1,
    mask_iou,
    max_box_acc,
    pointing_game,
    pxap,
    relevance_curve,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
    roc_auc,
)
from captum_nas.pooling import REDUCTIONS, segment_pool
from captum_nas.segmentation import (
    GridSegmenter,
    is_contiguous,
    n_segments_per_image,
    relabel_contiguous,
)

FAST = settings(max_examples=30, deadline=None)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _values(shape: tuple[int, ...], seed: int, ties: bool) -> Tensor:
    """Random floats, or small integers (many ties, constant maps) when ``ties``."""
    g = _gen(seed)
    if ties:
        return torch.randint(-2, 3, shape, generator=g).double()
    return torch.randn(shape, generator=g, dtype=torch.float64)


def _sizes(n: int, side: tuple[int, int], ids: int) -> list[st.SearchStrategy[int]]:
    """A batch size in 1..n, a height and a width in ``side``, a number of ids in 1..ids, a seed."""
    height = width = st.integers(*side)
    return [st.integers(1, n), height, width, st.integers(1, ids), st.integers(0, 2**16)]


# a batch of maps (N, C, H, W) with its segments (N, 1, H, W)
pooling_cases = st.builds(
    lambda n, c, h, w, k, seed, ties: (
        _values((n, c, h, w), seed, ties),
        torch.randint(0, k, (n, 1, h, w), generator=_gen(seed + 1)),
    ),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 7),
    st.integers(1, 7),
    st.integers(1, 12),
    st.integers(0, 2**16),
    st.booleans(),
)

# maps (N, H, W) and object masks with at least one object and one background pixel
metric_cases = st.builds(
    lambda n, h, w, seed, ties, density: _maps_and_masks(n, h, w, seed, ties, density),
    st.integers(1, 4),
    st.integers(1, 8),
    st.integers(2, 8),
    st.integers(0, 2**16),
    st.booleans(),
    st.floats(0.05, 0.95),
)


def _maps_and_masks(
    n: int, h: int, w: int, seed: int, ties: bool, density: float
) -> tuple[Tensor, Tensor]:
    maps = _values((n, h, w), seed, ties)
    masks = torch.rand(n, h, w, generator=_gen(seed + 1)) < density
    flat = masks.reshape(n, -1)
    flat[:, 0] = True  # an object pixel
    flat[:, -1] = False  # a background pixel (w >= 2)
    return maps, masks


def _segment_stats(values: Tensor, segments: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per (image, channel, id): pixel count, min and max of ``values``, by brute force."""
    n, c = values.shape[:2]
    k = int(segments.max()) + 1
    count = torch.zeros(n, c, k)
    lo = torch.full((n, c, k), float("inf"), dtype=values.dtype)
    hi = torch.full((n, c, k), float("-inf"), dtype=values.dtype)
    for i in range(n):
        for s in range(k):
            inside = segments[i, 0] == s
            if inside.any():
                for j in range(c):
                    v = values[i, j][inside]
                    count[i, j, s] = v.numel()
                    lo[i, j, s], hi[i, j, s] = v.min(), v.max()
    return count, lo, hi


# ------------------------------------------------------------------------- pooling


@FAST
@given(pooling_cases, st.sampled_from(REDUCTIONS), st.sampled_from([None, "sum", "mean"]))
def test_pooled_map_is_constant_in_each_segment_and_holds_its_score(
    case: tuple[Tensor, Tensor], reduce: str, channel_reduce: str | None
) -> None:
    attr, seg = case
    out = segment_pool(attr, seg, reduce=reduce, channel_reduce=channel_reduce)
    count, lo, hi = _segment_stats(out.map, seg)
    present = count > 0
    assert torch.equal(lo[present], hi[present])
    scores = out.scores if channel_reduce is None else out.scores[:, None].expand_as(lo)
    assert torch.equal(lo[present], scores[present])
    assert bool(torch.isnan(scores[~present]).all())


@FAST
@given(pooling_cases, st.sampled_from(["mean", "max", "min", "median", "abs-mean"]))
def test_pooling_is_idempotent(case: tuple[Tensor, Tensor], reduce: str) -> None:
    attr, seg = case
    once = segment_pool(attr, seg, reduce=reduce).map
    twice = segment_pool(once, seg, reduce=reduce).map
    if reduce in ("max", "min", "median"):
        assert torch.equal(twice, once)  # picks one of the equal values
    else:
        torch.testing.assert_close(twice, once, rtol=1e-12, atol=1e-12)


@FAST
@given(pooling_cases)
def test_mean_pooling_keeps_every_segment_total(case: tuple[Tensor, Tensor]) -> None:
    attr, seg = case
    out = segment_pool(attr, seg, reduce="mean")
    k = out.scores.shape[-1]
    one_hot = torch.nn.functional.one_hot(seg[:, 0], k).to(attr.dtype)  # (N, H, W, K)
    totals = torch.einsum("nchw,nhwk->nck", attr, one_hot)
    sizes = one_hot.sum((1, 2))[:, None, :]
    present = sizes.expand_as(totals) > 0
    # score x size = the segment's total, and the pooled map keeps it pixel by pixel
    torch.testing.assert_close((out.scores * sizes)[present], totals[present])
    torch.testing.assert_close(torch.einsum("nchw,nhwk->nck", out.map, one_hot), totals)


@FAST
@given(pooling_cases, st.sampled_from(REDUCTIONS))
def test_permuting_the_batch_permutes_the_pooling(case: tuple[Tensor, Tensor], reduce: str) -> None:
    attr, seg = case
    perm = torch.randperm(attr.shape[0], generator=_gen(attr.shape[0]))
    full = segment_pool(attr, seg, reduce=reduce)
    permuted = segment_pool(attr[perm], seg[perm], reduce=reduce)
    assert torch.equal(permuted.map, full.map[perm])
    torch.testing.assert_close(permuted.scores, full.scores[perm], rtol=0, atol=0, equal_nan=True)


# --------------------------------------------------------------------- relabelling


@FAST
@given(*_sizes(3, (1, 6), 20))
def test_relabelling_keeps_id_order_and_counts(n: int, h: int, w: int, k: int, seed: int) -> None:
    seg = torch.randint(0, k, (n, 1, h, w), generator=_gen(seed)) * 3 + 5
    out = relabel_contiguous(seg)
    assert is_contiguous(out) and torch.equal(relabel_contiguous(out), out)
    for i in range(n):
        ids = torch.unique(seg[i])  # sorted: the new id of ids[j] is j
        assert torch.equal(out[i], torch.searchsorted(ids, seg[i]))
    counts = torch.tensor([torch.unique(seg[i]).numel() for i in range(n)])
    assert torch.equal(n_segments_per_image(out), counts)


# ------------------------------------------------------------------------- metrics


def _in_unit_interval(t: Tensor) -> bool:
    return bool(((t >= 0) & (t <= 1)).all())


@FAST
@given(metric_cases)
def test_metrics_stay_in_their_documented_ranges(case: tuple[Tensor, Tensor]) -> None:
    maps, masks = case
    n, h, w = maps.shape
    for score in (
        relevance_mass_accuracy(maps, masks),
        relevance_rank_accuracy(maps, masks),
        energy_pointing_game(maps, masks),
        mask_iou(maps, masks, thresholds=[-1.0, 0.0, 0.5, 2.0]),
        mask_f1(maps, masks, thresholds=[0.1, 0.9], normalize=True),
        continuous_iou(maps.sigmoid(), masks),
        roc_auc(maps, masks),
        pxap(maps, masks).score,
        pxap(maps, masks, cam_thresholds="all").score,
    ):
        assert score.dtype == maps.dtype and _in_unit_interval(score)
    hits = pointing_game(maps, masks, tolerance=1.5)
    assert bool(((hits == 0) | (hits == 1)).all())
    boxes = torch.tensor([[[0, 0, w, h]]]).expand(n, 1, 4)
    for version in (1, 2):
        res = max_box_acc(maps, boxes, version=version)
        assert _in_unit_interval(res.score) and _in_unit_interval(res.box_acc)
        assert _in_unit_interval(res.best_iou)
    # complementary maps: ROC-AUCs add up to 1 (ties count one half)
    torch.testing.assert_close(roc_auc(maps, masks) + roc_auc(-maps, masks), torch.ones(n).double())


@FAST
@given(metric_cases)
def test_permuting_the_batch_permutes_the_metrics(case: tuple[Tensor, Tensor]) -> None:
    maps, masks = case
    n, h, w = maps.shape
    perm = torch.randperm(n, generator=_gen(n * 7 + h))
    for fn in (
        relevance_mass_accuracy,
        relevance_rank_accuracy,
        roc_auc,
        pointing_game,
        lambda m, k: mask_iou(m, k, thresholds=[0.0, 0.5]),
        lambda m, k: mask_f1(m, k, normalize=True),
        lambda m, k: continuous_iou(m.sigmoid(), k),
    ):
        # sums over an image may round differently at another memory offset: 1e-12
        expected = fn(maps, masks)[perm]
        torch.testing.assert_close(fn(maps[perm], masks[perm]), expected, rtol=1e-12, atol=1e-12)
    # data-set level scores do not depend on the order of the images
    torch.testing.assert_close(pxap(maps[perm], masks[perm]).score, pxap(maps, masks).score)
    boxes = torch.stack([torch.tensor([[0, 0, w, h]]), torch.tensor([[0, 0, 1, 1]])] * 2)[:n]
    a = max_box_acc(maps[perm], boxes[perm])
    b = max_box_acc(maps, boxes)
    assert torch.equal(a.best_iou, b.best_iou[perm]) and torch.equal(a.score, b.score)


# ---------------------------------------------------------------- relevance curves


def _linear_model(c: int, h: int, w: int, classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, classes)).double().eval()


@FAST
@given(*_sizes(3, (2, 6), 9), st.sampled_from(["morf", "lerf", "random"]), st.data())
def test_relevance_curves_have_n_steps_plus_one_points(
    n: int, h: int, w: int, k: int, seed: int, order: str, data: st.DataObject
) -> None:
    x = torch.randn(n, 2, h, w, generator=_gen(seed), dtype=torch.float64)
    attr = _values((n, 1, h, w), seed + 1, ties=k % 2 == 0)
    seg = relabel_contiguous(torch.randint(0, k, (n, 1, h, w), generator=_gen(seed + 2)))
    units = int(seg.max()) + 1
    steps = data.draw(st.integers(1, units))
    res = relevance_curve(
        _linear_model(2, h, w), x, attr, None, segments=seg, order=order, n_steps=steps
    )
    assert res.scores.shape == res.fraction_removed.shape == (n, steps + 1)
    assert res.n_steps == steps
    assert bool((res.fraction_removed[:, 0] == 0).all())
    assert bool((res.fraction_removed[:, -1] == 1).all())
    assert bool((res.fraction_removed.diff(dim=1) >= 0).all())
    assert torch.equal(res.units_removed[:, -1], res.n_units)
    assert _in_unit_interval(res.scores)  # softmax probabilities


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 4), st.integers(0, 2**16), st.sampled_from(["morf", "lerf", "random"]))
def test_permuting_the_batch_permutes_the_relevance_curves(n: int, seed: int, order: str) -> None:
    h = w = 4
    x = torch.randn(n, 1, h, w, generator=_gen(seed), dtype=torch.float64)
    attr = _values((n, h, w), seed + 1, ties=True)
    seg = torch.randint(0, 5, (n, 1, h, w), generator=_gen(seed + 2))
    target = torch.randint(0, 3, (n,), generator=_gen(seed + 3))
    perm = torch.randperm(n, generator=_gen(seed + 4))
    model = _linear_model(1, h, w)
    full = relevance_curve(model, x, attr, target, segments=seg, order=order, n_steps=1)
    permuted = relevance_curve(
        model, x[perm], attr[perm], target[perm], segments=seg[perm], order=order, n_steps=1
    )
    torch.testing.assert_close(permuted.scores, full.scores[perm])
    assert torch.equal(permuted.n_units, full.n_units[perm])
    assert torch.equal(permuted.target, full.target[perm])


# -------------------------------------------------------------------- segmentation


@FAST
@given(*_sizes(4, (1, 12), 20))
def test_permuting_the_batch_permutes_the_grid_segments(
    n: int, h: int, w: int, k: int, seed: int
) -> None:
    assume(k <= h * w)
    x = torch.randn(n, 3, h, w, generator=_gen(seed))
    perm = torch.randperm(n, generator=_gen(seed + 1))
    grid = GridSegmenter(k)
    assert torch.equal(grid(x[perm]), grid(x)[perm])
    patches = GridSegmenter(patch_size=1 + seed % 4)
    assert torch.equal(patches(x[perm]), patches(x)[perm])
