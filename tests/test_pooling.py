"""Known answers for segment pooling."""

from __future__ import annotations

import math

import pytest
import torch

from captum_nas.pooling import PooledAttribution, pool_segments, segment_pool

ATTR = torch.tensor([[[[1.0, -3.0, 2.0], [5.0, 7.0, -4.0]]]])  # (1, 1, 2, 3)
SEG = torch.tensor([[[[0, 0, 1], [1, 1, 2]]]])
# segment 0: [1, -3]; segment 1: [2, 5, 7]; segment 2: [-4]
EXPECTED = {
    "mean": [-1.0, 14.0 / 3.0, -4.0],
    "sum": [-2.0, 14.0, -4.0],
    "max": [1.0, 7.0, -4.0],
    "min": [-3.0, 2.0, -4.0],
    "median": [-3.0, 5.0, -4.0],  # lower median for an even count, like torch.median
    "abs-mean": [2.0, 14.0 / 3.0, 4.0],
    "l2": [math.sqrt(10.0), math.sqrt(78.0), 4.0],
}


@pytest.mark.parametrize("reduce", sorted(EXPECTED))
def test_every_reduction_hand_computed(reduce: str) -> None:
    out = segment_pool(ATTR, SEG, reduce=reduce)
    assert isinstance(out, PooledAttribution)
    expected = torch.tensor(EXPECTED[reduce])
    torch.testing.assert_close(out.scores, expected.reshape(1, 1, 3))
    torch.testing.assert_close(out.map, expected[SEG])


def test_median_matches_torch_median_per_segment() -> None:
    torch.manual_seed(0)
    attr = torch.randn(2, 3, 6, 5)
    seg = torch.randint(0, 4, (2, 1, 6, 5))
    scores = segment_pool(attr, seg, reduce="median").scores
    for n in range(2):
        for c in range(3):
            for k in range(4):
                vals = attr[n, c][seg[n, 0] == k]
                if vals.numel():
                    assert scores[n, c, k] == vals.median()
                else:
                    assert torch.isnan(scores[n, c, k])


@pytest.mark.parametrize(
    ("channel_reduce", "pixel"),
    [("sum", [1.0, -1.0]), ("abs-sum", [5.0, 3.0]), ("mean", [1.0 / 3.0, -1.0 / 3.0])],
)
def test_channel_reductions(channel_reduce: str, pixel: list[float]) -> None:
    # two pixels (one segment each), three channels: pixel 0 = (1, -2, 2), pixel 1 = (1, -1, -1)
    attr = torch.tensor([[1.0, -2.0, 2.0], [1.0, -1.0, -1.0]]).T.reshape(1, 3, 1, 2)
    seg = torch.tensor([[[[0, 1]]]])
    out = segment_pool(attr, seg, channel_reduce=channel_reduce)
    torch.testing.assert_close(out.scores, torch.tensor([pixel]))
    assert out.map.shape == attr.shape
    torch.testing.assert_close(out.map[0, :, 0, 1], torch.full((3,), pixel[1]))


def test_per_channel_keeps_channels_and_sum() -> None:
    torch.manual_seed(1)
    attr = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    seg = torch.randint(0, 5, (3, 1, 8, 8))
    out = segment_pool(attr, seg)
    assert out.scores.shape == (3, 3, 5)
    # mean pooling keeps the per-channel sum (completeness)
    torch.testing.assert_close(out.map.sum((2, 3)), attr.sum((2, 3)))


def test_one_pixel_per_segment_is_identity_and_one_segment_is_mean() -> None:
    torch.manual_seed(2)
    attr = torch.randn(2, 3, 4, 5)
    ids = torch.arange(20).reshape(1, 1, 4, 5)
    assert torch.equal(segment_pool(attr, ids).map, attr)
    one = torch.zeros(1, 1, 4, 5, dtype=torch.long)
    torch.testing.assert_close(
        segment_pool(attr, one).map, attr.mean((2, 3), keepdim=True).expand_as(attr)
    )


@pytest.mark.parametrize("reduce", sorted(EXPECTED))
def test_pooling_twice_equals_once_for_idempotent(reduce: str) -> None:
    torch.manual_seed(3)
    attr = torch.randn(2, 3, 6, 6)
    seg = torch.randint(0, 6, (2, 1, 6, 6))
    once = segment_pool(attr, seg, reduce=reduce).map
    twice = segment_pool(once, seg, reduce=reduce).map
    if reduce in ("mean", "max", "min", "median"):
        torch.testing.assert_close(twice, once)
    else:  # sum/l2/abs-mean are not idempotent: the second pass sees constant segments
        assert twice.shape == once.shape


def test_chunked_batch_equals_full_batch_and_padding_is_nan() -> None:
    torch.manual_seed(4)
    attr = torch.randn(4, 2, 5, 5)
    seg = torch.randint(0, 3, (4, 1, 5, 5))
    seg[3] = 0
    seg[3, 0, 0, 0] = 7  # K = 8 for the batch; ids 1..6 absent in image 3
    full = segment_pool(attr, seg)
    parts = [segment_pool(attr[i : i + 2], seg[i : i + 2]) for i in (0, 2)]
    torch.testing.assert_close(full.map, torch.cat([p.map for p in parts]))
    assert full.scores.shape == (4, 2, 8)
    assert torch.isnan(full.scores[0, :, 3:]).all()
    assert torch.isnan(full.scores[3, :, 1:7]).all()
    assert not torch.isnan(full.map).any()


def test_shared_mask_broadcasts() -> None:
    attr = torch.arange(8.0).reshape(2, 1, 2, 2)
    seg = torch.tensor([[[[0, 0], [1, 1]]]])
    out = segment_pool(attr, seg)
    torch.testing.assert_close(out.scores, torch.tensor([[[0.5, 2.5]], [[4.5, 6.5]]]))


def test_layer_map_is_upsampled_bilinearly() -> None:
    small = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    seg = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    out = segment_pool(small, seg)
    assert out.map.shape == (1, 1, 4, 4)
    torch.testing.assert_close(out.scores, torch.tensor([[[1.5]]]))  # symmetric upsampling


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_preserved(dtype: torch.dtype) -> None:
    attr = torch.randn(2, 3, 4, 4, dtype=dtype)
    seg = torch.randint(0, 3, (2, 1, 4, 4))
    for reduce in EXPECTED:
        out = segment_pool(attr, seg, reduce=reduce, channel_reduce="sum")
        assert out.map.dtype == dtype and out.scores.dtype == dtype
        assert out.map.device == attr.device


def test_gradient_of_mean_pooling_is_analytic() -> None:
    torch.manual_seed(5)
    attr = torch.randn(2, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    seg = torch.randint(0, 3, (2, 1, 3, 4))
    weights = torch.randn(2, 1, 3, 4, dtype=torch.float64)
    (segment_pool(attr, seg).map * weights).sum().backward()
    # d/d a_p of sum_q w_q mean_{seg(q)} = (sum of w over p's segment) / |segment|
    expected = torch.empty_like(weights)
    for n in range(2):
        for k in range(3):
            m = seg[n, 0] == k
            if m.any():
                expected[n, 0][m] = weights[n, 0][m].sum() / m.sum()
    torch.testing.assert_close(attr.grad, expected)
    torch.autograd.gradcheck(
        lambda a: segment_pool(a, seg, reduce="sum").map, (attr.detach().requires_grad_(),)
    )


def test_bad_arguments_rejected() -> None:
    attr = torch.randn(2, 1, 4, 4)
    seg = torch.zeros(2, 1, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="reduce"):
        segment_pool(attr, seg, reduce="mode")
    with pytest.raises(ValueError, match="channel_reduce"):
        segment_pool(attr, seg, channel_reduce="max")
    with pytest.raises(ValueError, match="interpolate_mode"):
        segment_pool(attr, seg, interpolate_mode="cubic")
    with pytest.raises(TypeError, match="attributions"):
        segment_pool(attr.long(), seg)
    with pytest.raises(ValueError, match="attributions"):
        segment_pool(attr[0], seg)
    with pytest.raises(TypeError, match="segments"):
        segment_pool(attr, seg.float())
    with pytest.raises(ValueError, match="batch size 3"):
        segment_pool(attr, torch.zeros(3, 1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="negative"):
        segment_pool(attr, seg - 1)


# ------------------------------------------------------------------ named pooling modes

# two channels on a 2x2 image, segments: top row 0, bottom row 1
_A = torch.tensor([[[[1.0, -3.0], [2.0, 2.0]], [[2.0, 1.0], [-4.0, 3.0]]]])
_SEG = torch.tensor([[[[0, 0], [1, 1]]]])
# channel sums: [[3, -2], [-2, 5]]


def test_magnitude_pooling_hand_computed() -> None:
    pooled = pool_segments(_A, _SEG)  # "magnitude" is the default
    # segment 0: (|3| + |-2|) / 2 = 2.5; segment 1: (|-2| + |5|) / 2 = 3.5
    torch.testing.assert_close(pooled.scores, torch.tensor([[2.5, 3.5]]))
    expected = torch.tensor([[2.5, 2.5], [3.5, 3.5]]).expand(1, 2, 2, 2)
    torch.testing.assert_close(pooled.map, expected)
    # the signed mean would cancel to 0.5 and 1.5: magnitude does not
    signed = segment_pool(_A, _SEG, channel_reduce="sum").scores
    torch.testing.assert_close(signed, torch.tensor([[0.5, 1.5]]))


def test_contribution_pooling_hand_computed_keeps_the_total() -> None:
    pooled = pool_segments(_A, _SEG, pooling="contribution")
    # segment 0: 3 - 2 = 1; segment 1: -2 + 5 = 3; they add up to the map's total 4
    torch.testing.assert_close(pooled.scores, torch.tensor([[1.0, 3.0]]))
    # spread over 2 pixels x 2 channels
    expected = torch.tensor([[0.25, 0.25], [0.75, 0.75]]).expand(1, 2, 2, 2)
    torch.testing.assert_close(pooled.map, expected)
    assert float(pooled.map.sum()) == float(_A.sum()) == 4.0


def test_named_pooling_channels_absent_ids_and_batches() -> None:
    one = _A.sum(1, keepdim=True)  # a one-channel map repeated over 3 output channels
    mag = pool_segments(one, _SEG, channels=3)
    assert mag.map.shape == (1, 3, 2, 2)
    torch.testing.assert_close(mag.map[:, 2], torch.tensor([[[2.5, 2.5], [3.5, 3.5]]]))
    con = pool_segments(one, _SEG, pooling="contribution", channels=3)
    torch.testing.assert_close(con.map.sum(), one.sum())
    # per-image masks; id 2 is absent from the first image
    seg = torch.stack([_SEG[0], torch.tensor([[[0, 1], [2, 2]]])])
    both = pool_segments(torch.cat([_A, _A]), seg)
    assert torch.isnan(both.scores[0, 2])
    torch.testing.assert_close(both.scores[1], torch.tensor([3.0, 2.0, 3.5]))


def test_named_pooling_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="pooling"):
        pool_segments(_A, _SEG, pooling="mean")
    with pytest.raises(ValueError, match="channels"):
        pool_segments(_A, _SEG, channels=0)
    with pytest.raises(ValueError, match="attributions"):
        pool_segments(_A[0], _SEG)


@pytest.mark.parametrize("reduce", ["mean", "sum", "abs-mean", "l2", "max", "min", "median"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_refused_by_every_reduction(reduce: str, bad: float) -> None:
    attr = torch.ones(2, 3, 4, 4)
    attr[1, 2, 3, 0] = bad
    seg = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="NaN or Inf"):
        segment_pool(attr, seg, reduce=reduce)


def test_finite_values_whose_sum_overflows_are_pooled_not_refused() -> None:
    big = torch.finfo(torch.float32).max
    attr = torch.full((1, 1, 2, 2), big)
    seg = torch.zeros(1, 1, 2, 2, dtype=torch.long)
    assert torch.isinf(segment_pool(attr, seg, reduce="sum").scores).all()
    # the mean of the same segment overflows in its sum too: the inputs were finite
    assert torch.isinf(segment_pool(attr, seg).scores).all()


def _blob_mask(n: int, size: int, k: int, seed: int) -> torch.Tensor:
    """Superpixel-like masks: every pixel takes the id of its nearest of ``k`` random
    centres (long runs of one id along every row, as NAS or SLIC give)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.rand(n, k, 2, generator=gen) * size
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    grid = torch.stack([yy, xx], -1).reshape(1, -1, 1, 2).float()
    dist = ((grid - centres.unsqueeze(1)) ** 2).sum(-1)
    return dist.argmin(-1).reshape(n, 1, size, size)


@pytest.mark.parametrize("reduce", ["mean", "sum", "abs-mean", "l2", "max", "min"])
def test_superpixel_masks_match_a_float64_per_segment_loop(reduce: str) -> None:
    # the partial sums (one per lane of pixels) stay within float32 rounding of the
    # exact per-segment values, on long runs of one id (where the lanes matter)
    seg = _blob_mask(2, 64, 7, seed=1)
    attr = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    pooled = segment_pool(attr, seg, reduce=reduce)
    ops = {
        "mean": lambda v: v.mean(),
        "sum": lambda v: v.sum(),
        "abs-mean": lambda v: v.abs().mean(),
        "l2": lambda v: v.pow(2).sum().sqrt(),
        "max": lambda v: v.max(),
        "min": lambda v: v.min(),
    }
    for n in range(2):
        for c in range(3):
            for k in range(7):
                vals = attr[n, c][seg[n, 0] == k].double()
                expected = ops[reduce](vals)
                got = pooled.scores[n, c, k].double()
                if reduce in ("max", "min"):
                    assert got == expected
                else:  # float32 rounding: a few ulps of the sum of magnitudes
                    scale = {"sum": vals.abs().sum(), "l2": expected}.get(reduce, vals.abs().mean())
                    assert abs(got - expected) <= 1e-6 * scale, (n, c, k, got, expected)
    torch.testing.assert_close(
        pooled.map,
        pooled.scores.gather(2, seg.reshape(2, 1, -1).expand(2, 3, -1)).reshape(attr.shape),
    )


@pytest.mark.parametrize("reduce", ["mean", "sum", "l2", "max"])
def test_result_does_not_depend_on_labels_batch_or_channel_count(reduce: str) -> None:
    seg = _blob_mask(3, 48, 9, seed=3)
    attr = torch.randn(3, 2, 48, 48, generator=torch.Generator().manual_seed(4))
    full = segment_pool(attr, seg, reduce=reduce)
    # permuted and sparse labels (K * lanes above the pixel count): the same bits
    relabel = torch.randperm(9, generator=torch.Generator().manual_seed(5)) * 500 + 7
    sparse = segment_pool(attr, relabel[seg], reduce=reduce)
    assert torch.equal(sparse.map, full.map)
    assert torch.equal(sparse.scores[..., relabel], full.scores)
    # one image at a time, and one channel at a time (a 1-channel map is too small to
    # hold the lane ids, which then get their own memory): the same bits
    for i in range(3):
        one = segment_pool(attr[i : i + 1], seg[i : i + 1], reduce=reduce)
        assert torch.equal(one.map, full.map[i : i + 1])
        for c in range(2):
            chan = segment_pool(attr[i : i + 1, c : c + 1], seg[i : i + 1], reduce=reduce)
            assert torch.equal(chan.map[:, 0], full.map[i : i + 1, c])


def test_max_gradient_with_ties_is_shared_evenly() -> None:
    # a segment whose maximum 2.0 appears at three pixels, two of them 8 apart (one
    # lane): each gets a third of the gradient, as with one slot per segment
    attr = torch.tensor([[[[2.0, 0.0, 2.0, 1.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0]]]])
    attr.requires_grad_(True)
    seg = torch.zeros(1, 1, 1, 10, dtype=torch.long)
    segment_pool(attr, seg, reduce="max").scores.sum().backward()
    expected = torch.tensor([1.0, 0, 1, 0, 0, 0, 0, 0, 1, 0]) / 3
    torch.testing.assert_close(attr.grad.reshape(-1), expected)


def test_named_pooling_map_is_contiguous_with_the_requested_channels() -> None:
    seg = _blob_mask(2, 16, 4, seed=6)
    attr = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    for pooling in ("magnitude", "contribution"):
        pooled = pool_segments(attr, seg, pooling, channels=5)
        assert pooled.map.shape == (2, 5, 16, 16) and pooled.map.is_contiguous()
        assert torch.equal(pooled.map[:, 4], pooled.map[:, 0])
        one = pool_segments(attr, seg, pooling, channels=1).map
        scale = 1.0 if pooling == "magnitude" else 1.0 / 5.0
        torch.testing.assert_close(pooled.map[:, :1], one * scale)


@pytest.mark.parametrize("reduce", ["mean", "sum", "abs-mean", "l2", "max", "min", "median"])
def test_absent_ids_are_nan_and_negative_zero_segments_are_present(reduce: str) -> None:
    # ids 1, 3 and 4 absent from image 0, 2 and 3 from image 1; segment 0 of image 0 holds
    # only -0.0 (its sum stays at -0.0 like an absent segment's: it is still present)
    attr = torch.tensor([[[[-0.0, -0.0], [2.0, 4.0]]], [[[1.0, 3.0], [5.0, 5.0]]]])
    seg = torch.tensor([[[[0, 0], [2, 2]]], [[[0, 1], [4, 4]]]])
    scores = segment_pool(attr, seg, reduce=reduce).scores
    absent = torch.tensor([[False, True, False, True, True], [False, False, True, True, False]])
    assert torch.equal(torch.isnan(scores[:, 0]), absent)
    assert scores[0, 0, 0] == 0.0 and scores[0, 0, 2] == {"sum": 6.0, "l2": math.sqrt(20.0)}.get(
        reduce, {"max": 4.0, "min": 2.0, "median": 2.0}.get(reduce, 3.0)
    )
    # the shared mask of a batch: the same absent ids for every image
    shared = segment_pool(attr, seg[:1], reduce=reduce).scores
    assert torch.equal(torch.isnan(shared[:, 0]), absent[:1, :3].expand(2, 3))


@pytest.mark.parametrize("reduce", ["sum", "max", "min", "l2"])
def test_finite_values_whose_checking_sum_overflows_are_pooled(reduce: str) -> None:
    # max / min check the values by one sum over them, which overflows here: the
    # values are then checked one by one and found finite
    big = torch.finfo(torch.float32).max
    attr = torch.tensor([[[[big, big], [-1.0, 2.0]]]])
    seg = torch.tensor([[[[0, 0], [1, 1]]]])
    scores = segment_pool(attr, seg, reduce=reduce).scores[0, 0]
    expected = {"sum": [math.inf, 1.0], "max": [big, 2.0], "min": [big, -1.0]}
    expected["l2"] = [math.inf, math.sqrt(5.0)]
    torch.testing.assert_close(scores, torch.tensor(expected[reduce]))
