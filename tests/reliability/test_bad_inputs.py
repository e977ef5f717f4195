"""Bad inputs at every public entry point: a clear error naming the argument, or a right answer.

One table per entry point; ``docs/robustness.md`` lists every row. An error must be a
``ValueError`` or ``TypeError`` whose message names the argument and says what was
given and what was expected; a "works" row checks the result against a known answer.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from captum_nas import attr as na
from captum_nas import metrics as nm
from captum_nas import segmentation as ns
from captum_nas.cli import main
from captum_nas.metrics.agreement import segment_agreement
from captum_nas.pooling import segment_pool
from tests.conftest import TinyCNN

Segmenter = Callable[[Tensor], Tensor]


def _images(n: int = 2, c: int = 3, h: int = 32, w: int = 32, seed: int = 0) -> Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def _model(in_channels: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return TinyCNN(in_channels=in_channels).eval()


def _assert_feature_mask(seg: Tensor, x: Tensor) -> None:
    """The segmenter contract: LongTensor (N, 1, H, W), ids 0..K_i-1 in every image."""
    assert seg.dtype == torch.long
    assert seg.shape == (x.shape[0], 1, *x.shape[-2:])
    assert ns.is_contiguous(seg)


# ------------------------------------------------------------------------ segmenters

SEGMENTERS: dict[str, Callable[[int], Segmenter]] = {
    "nas": lambda c: ns.NASSegmenter(_model(c), n_segments=4),
    "slic": lambda c: ns.SLICSegmenter(8),
    "quickshift": lambda c: ns.QuickshiftSegmenter(),
    "felzenszwalb": lambda c: ns.FelzenszwalbSegmenter(min_pixels=5),
    "watershed": lambda c: ns.WatershedSegmenter(8),
    "grid": lambda c: ns.GridSegmenter(8),
}
ALL = list(SEGMENTERS)
# the segmenters that look at pixel values (GridSegmenter only looks at the shape)
VALUE_BASED = [s for s in ALL if s != "grid"]


def _nan_at_one_pixel() -> Tensor:
    x = _images()
    x[1, 0, 3, 4] = float("nan")
    return x


@pytest.mark.parametrize(
    ("names", "make", "error", "match"),
    [
        pytest.param(
            ALL,
            lambda: _images()[0],
            ValueError,
            r"must have shape \(N, C, H, W\), got 3-D",
            id="3d",
        ),
        pytest.param(ALL, lambda: _images()[None], ValueError, "got 5-D", id="5d"),
        pytest.param(
            ALL, lambda: _images()[:0], ValueError, r"empty batch \(shape \(0, 3", id="empty-batch"
        ),
        pytest.param(
            ALL, lambda: _images()[..., :0], ValueError, "has an empty dimension", id="empty-dim"
        ),
        pytest.param(VALUE_BASED, _nan_at_one_pixel, ValueError, "contains NaN or Inf", id="nan"),
        pytest.param(
            VALUE_BASED, lambda: _images() / 0.0, ValueError, "contains NaN or Inf", id="inf"
        ),
        pytest.param(
            VALUE_BASED,
            lambda: _images().to(torch.uint8),
            TypeError,
            "floating point.*uint8",
            id="uint8",
        ),
        pytest.param(
            VALUE_BASED, lambda: _images().long(), TypeError, "floating point.*int64", id="int64"
        ),
        pytest.param(ALL, lambda: _images() > 0, TypeError, "floating point.*bool", id="bool"),
        pytest.param(
            ALL, lambda: _images().numpy(), TypeError, "torch.Tensor, got ndarray", id="numpy"
        ),
        pytest.param(ALL, lambda: [[0.0]], TypeError, "torch.Tensor, got list", id="list"),
    ],
)
def test_segmenters_reject_bad_inputs(
    names: list[str], make: Callable[[], Any], error: type, match: str
) -> None:
    for name in names:
        with pytest.raises(error, match="`inputs`.*" + match):
            SEGMENTERS[name](3)(make())


@pytest.mark.parametrize(
    "make",
    [_nan_at_one_pixel, lambda: _images().to(torch.uint8), lambda: _images().long()],
    ids=["nan", "uint8", "int64"],
)
def test_grid_segmenter_only_reads_the_shape(make: Callable[[], Tensor]) -> None:
    x = make()
    assert torch.equal(ns.GridSegmenter(8)(x), ns.GridSegmenter(8)(torch.zeros(2, 3, 32, 32)))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("name", ALL)
def test_segmenters_accept_every_float_dtype(name: str, dtype: torch.dtype) -> None:
    """Same segments as for the float32 copy of the same values."""
    x = _images().to(dtype)
    seg = SEGMENTERS[name](3)(x)
    _assert_feature_mask(seg, x)
    assert torch.equal(seg, SEGMENTERS[name](3)(x.float()))


@pytest.mark.parametrize("channels", [1, 4])
@pytest.mark.parametrize("name", ["nas", "slic", "felzenszwalb", "grid"])
def test_segmenters_accept_grey_and_four_channel_images(name: str, channels: int) -> None:
    x = _images(c=channels)
    _assert_feature_mask(SEGMENTERS[name](channels)(x), x)


@pytest.mark.parametrize("name", ["quickshift", "watershed"])
def test_rgb_segmenters_want_one_or_three_channels(name: str) -> None:
    grey = _images(c=1)
    _assert_feature_mask(SEGMENTERS[name](1)(grey), grey)
    x = _images(c=4)
    with pytest.raises(ValueError, match=r"`inputs`: .* RGB \(3 channel\) images, got 4 channels"):
        SEGMENTERS[name](4)(x)
    # with `to_image` mapping the inputs to RGB it works, and the 4th channel is unused
    cls = type(SEGMENTERS[name](3))

    def rgb(t: Tensor) -> Tensor:
        return t[:, :3].sigmoid()

    seg = cls(to_image=rgb)(x)
    _assert_feature_mask(seg, x)
    assert torch.equal(seg, cls(to_image=rgb)(x[:, :3]))


def test_nas_segmenter_with_model_of_other_channel_count_gets_the_model_error() -> None:
    """Not translated: which channel count the model wants is only known by running it."""
    with pytest.raises(RuntimeError, match=r"expected input.* to have 3 channels, but got 1"):
        ns.NASSegmenter(_model(3), n_segments=4)(_images(c=1))


@pytest.mark.parametrize("name", ALL)
def test_segmenters_on_non_square_images(name: str) -> None:
    x = _images(h=24, w=40)
    _assert_feature_mask(SEGMENTERS[name](3)(x), x)


@pytest.mark.parametrize("name", ["nas", "slic", "quickshift", "felzenszwalb", "watershed", "grid"])
def test_segmenters_on_images_smaller_than_the_network_stride(name: str) -> None:
    """5x5 images: TinyCNN's total stride is 8, so its last stage is 1x1."""
    x = _images(h=5, w=5)
    seg = SEGMENTERS[name](3)(x)
    _assert_feature_mask(seg, x)
    assert int(seg.max()) < 25


def test_single_pixel_images() -> None:
    x = _images(h=1, w=1)
    with pytest.raises(ValueError, match="no spatial activations for inputs of shape"):
        SEGMENTERS["nas"](3)(x)
    for name in ("grid", "watershed"):
        with pytest.raises(ValueError, match=r"`n_segments` \(8\) exceeds the number of pixels"):
            SEGMENTERS[name](3)(x)
    for name in ("slic", "quickshift", "felzenszwalb"):
        assert torch.equal(SEGMENTERS[name](3)(x), torch.zeros(2, 1, 1, 1, dtype=torch.long))


def test_n_segments_larger_than_possible() -> None:
    x = _images(h=8, w=8)
    with pytest.raises(ValueError, match=r"`n_segments` \(100\) is larger than the working grid"):
        ns.NASSegmenter(_model(), n_segments=100)(x)
    with pytest.raises(ValueError, match=r"`n_segments` \(100\) exceeds the number of pixels"):
        ns.GridSegmenter(100)(x)
    with pytest.raises(ValueError, match=r"`n_segments` \(100\) exceeds the number of pixels"):
        ns.WatershedSegmenter(100)(x)
    # SLIC documents that it may return fewer segments than asked: at most one per pixel
    seg = ns.SLICSegmenter(100)(x)
    _assert_feature_mask(seg, x)
    assert int(seg.max()) < 64
    # exactly one segment per pixel is still possible for the grid
    assert torch.equal(ns.GridSegmenter(64)(x)[0, 0].flatten(), torch.arange(64))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: ns.GridSegmenter(0), ValueError, r"`n_segments` must be an integer >= 1, got 0"),
        (
            lambda: ns.SLICSegmenter(2.5),
            TypeError,
            "`n_segments` must be an integer >= 1, got float",
        ),
        (lambda: ns.WatershedSegmenter(True), TypeError, "`n_segments` must be an integer"),
        (lambda: ns.NASSegmenter(_model(), n_segments=-1), ValueError, "`n_segments`"),
        (lambda: ns.NASSegmenter(None), TypeError, "`model` must be a torch.nn.Module"),
        (lambda: ns.QuickshiftSegmenter(seed=-1), ValueError, r"`seed` must be an integer >= 0"),
        (lambda: ns.QuickshiftSegmenter(seed="a"), TypeError, "`seed` must be an integer"),
        (lambda: ns.QuickshiftSegmenter(seed=1.5), TypeError, "`seed` must be an integer"),
        (lambda: ns.FelzenszwalbSegmenter(min_pixels=0), ValueError, "`min_pixels`"),
        (lambda: ns.SLICSegmenter(mean=[0, 0, 0], std=[0, 1, 1]), ValueError, "`std` values"),
    ],
)
def test_segmenter_options(build: Callable[[], Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        build()


# ---------------------------------------------------------------------- segment_pool


def _attr_and_segments() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 8, 8, generator=g), torch.randint(0, 4, (2, 1, 8, 8), generator=g)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda a, s: (a[0], s), ValueError, r"`attributions` must have shape \(N, C, H, W\)"),
        (lambda a, s: (a, s[:, 0]), ValueError, r"`segments` must have shape \(N, 1, H, W\)"),
        (lambda a, s: (a, s.expand(2, 2, 8, 8)), ValueError, r"`segments` must have shape"),
        (
            lambda a, s: (a, torch.zeros(3, 1, 8, 8, dtype=torch.long)),
            ValueError,
            r"`segments` has batch size 3, expected 1 or 2",
        ),
        (lambda a, s: (a[:0], s[:0]), ValueError, r"`segments` is empty \(shape \(0, 1, 8, 8\)"),
        (lambda a, s: (a.index_fill(3, torch.tensor([2]), float("nan")), s), ValueError, "NaN"),
        (lambda a, s: (a / 0.0, s), ValueError, "`attributions` contains NaN or Inf"),
        (lambda a, s: (a.long(), s), TypeError, "`attributions` must be a floating point.*int64"),
        (lambda a, s: (a, s - 1), ValueError, r"`segments` has negative ids \(min -1\)"),
        (lambda a, s: (a, s.float()), TypeError, "`segments` must be an integer tensor.*float32"),
        (lambda a, s: (a, s > 0), TypeError, "`segments` must be an integer tensor.*bool"),
        (lambda a, s: (a, s.tolist()), TypeError, "`segments` must be a torch.Tensor, got list"),
        (lambda a, s: (a.numpy(), s), TypeError, "`attributions` must be a torch.Tensor"),
    ],
    ids=[
        "attr-3d",
        "seg-3d",
        "seg-2ch",
        "batch-mismatch",
        "empty",
        "nan",
        "inf",
        "int-attr",
        "negative-ids",
        "float-ids",
        "bool-ids",
        "list-ids",
        "numpy-attr",
    ],
)
def test_segment_pool_rejects(change: Callable, error: type, match: str) -> None:
    a, s = change(*_attr_and_segments())
    with pytest.raises(error, match=match):
        segment_pool(a, s)


def test_segment_pool_bad_options() -> None:
    a, s = _attr_and_segments()
    with pytest.raises(ValueError, match=r"`reduce` must be one of .* got 'avg'"):
        segment_pool(a, s, reduce="avg")
    with pytest.raises(ValueError, match=r"`channel_reduce` must be one of .* got 'max'"):
        segment_pool(a, s, channel_reduce="max")
    with pytest.raises(ValueError, match=r"`interpolate_mode` must be one of"):
        segment_pool(a, s, interpolate_mode="linear")


def test_segment_pool_empty_batch_with_a_shared_mask() -> None:
    a, s = _attr_and_segments()
    out = segment_pool(a[:0], s[:1])
    assert out.map.shape == (0, 3, 8, 8) and out.scores.shape == (0, 3, int(s[0].max()) + 1)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_segment_pool_accepts_any_integer_ids(dtype: torch.dtype) -> None:
    a, s = _attr_and_segments()
    expected = segment_pool(a, s)
    out = segment_pool(a, s.to(dtype))
    assert torch.equal(out.map, expected.map)
    torch.testing.assert_close(out.scores, expected.scores, equal_nan=True)


@pytest.mark.parametrize(
    ("dtype", "tol"), [(torch.float16, 2e-3), (torch.bfloat16, 2e-2), (torch.float64, 1e-6)]
)
@pytest.mark.parametrize("reduce", ["mean", "sum", "max", "median", "l2"])
def test_segment_pool_keeps_the_dtype(dtype: torch.dtype, tol: float, reduce: str) -> None:
    a, s = _attr_and_segments()
    a = a.to(dtype)
    out = segment_pool(a, s, reduce=reduce)
    assert out.map.dtype == out.scores.dtype == dtype
    ref = segment_pool(a.double(), s, reduce=reduce)
    scale = float(ref.map.abs().max())
    torch.testing.assert_close(out.map.double(), ref.map, rtol=tol, atol=tol * scale)


def test_segment_pool_upsamples_a_layer_map_to_a_non_square_mask() -> None:
    seg = ns.GridSegmenter(6)(torch.zeros(1, 1, 10, 16))
    layer_map = torch.full((1, 1, 2, 3), 2.5)  # constant: upsampling keeps it
    out = segment_pool(layer_map, seg)
    assert out.map.shape == (1, 1, 10, 16)
    torch.testing.assert_close(out.map, torch.full((1, 1, 10, 16), 2.5))
    torch.testing.assert_close(out.scores, torch.full((1, 1, 6), 2.5))


# --------------------------------------------------------------------- NAS* classes

NAS_CLASSES = [getattr(na, name) for name in na.__all__ if name.startswith("NAS")]
H = W = 16


def _method(cls: type, model: Any, segmenter: Segmenter | None = None) -> Any:
    options: dict[str, Any] = {"segmenter": segmenter or ns.GridSegmenter(4)}
    if cls in (na.NASGradCam, na.NASGuidedGradCam):
        return cls(model, model.layer1, **options)
    return cls(model, **options)


def _kwargs(cls: type, x: Tensor) -> dict[str, Any]:
    h, w = x.shape[-2:]
    if cls is na.NASIntegratedGradients:
        return {"n_steps": 3}
    if cls in (na.NASDeepLiftShap, na.NASGradientShap):
        return {"baselines": torch.zeros_like(x)}
    if cls is na.NASOcclusion:
        side = max(1, min(h, w) // 4)
        return {"sliding_window_shapes": (x.shape[1], side, side), "strides": side}
    if cls in (na.NASLime, na.NASKernelShap):
        return {"n_samples": 8, "perturbations_per_eval": 8}
    if cls is na.NASShapleyValueSampling:
        return {"n_samples": 1, "perturbations_per_eval": 8}
    return {}


def _attribute(cls: type, model: Any, x: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("target", 1)
    probe = x if isinstance(x, Tensor) and x.dim() == 4 else _images(h=H, w=W)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _method(cls, model).attribute(x, **{**_kwargs(cls, probe), **kwargs})


BAD_CALLS: list[tuple[str, Callable[[Tensor], dict[str, Any]], type, str]] = [
    ("3d", lambda x: {"x": x[0]}, ValueError, r"`inputs` must have shape \(N, C, H, W\)"),
    ("empty-batch", lambda x: {"x": x[:0]}, ValueError, "`inputs` is an empty batch"),
    ("nan", lambda x: {"x": x.index_fill(2, torch.tensor([0]), float("nan"))}, ValueError, "NaN"),
    ("inf", lambda x: {"x": x / 0.0}, ValueError, "`inputs` contains NaN or Inf"),
    ("int", lambda x: {"x": x.long()}, TypeError, "`inputs` must be a floating point"),
    ("two-inputs", lambda x: {"x": (x, x)}, TypeError, "`inputs`: .* a tuple of 2 tensors"),
    ("target-5", lambda x: {"target": 5}, ValueError, r"`target` 5 is out of range for .* 5 out"),
    ("target-neg", lambda x: {"target": -1}, ValueError, "`target` must hold class ids >= 0"),
    ("target-list", lambda x: {"target": [0, 1, 2]}, ValueError, "`target` as a sequence .* 2"),
    (
        "target-tensor",
        lambda x: {"target": torch.tensor([0, 1, 2])},
        ValueError,
        r"`target` must be an int, or have shape \(2,\), got shape \(3,\)",
    ),
    ("target-float", lambda x: {"target": torch.tensor([0.0, 1.0])}, TypeError, "`target`.*float"),
    ("target-str", lambda x: {"target": "cat"}, TypeError, "`target` must be None, an int"),
    (
        "float64",
        lambda x: {"x": x.double()},
        TypeError,
        r"`inputs` has dtype torch.float64 but the model's parameters are torch.float32",
    ),
    ("float16", lambda x: {"x": x.half()}, TypeError, "`inputs` has dtype torch.float16"),
    ("bfloat16", lambda x: {"x": x.bfloat16()}, TypeError, "`inputs` has dtype torch.bfloat16"),
    (
        "segments-batch",
        lambda x: {"segments": torch.zeros(3, 1, H, W, dtype=torch.long)},
        ValueError,
        "`segments` has batch size 3, expected 1, 2",
    ),
    (
        "segments-negative",
        lambda x: {"segments": torch.full((2, 1, H, W), -1)},
        ValueError,
        "`segments` has negative ids",
    ),
    (
        "segments-float",
        lambda x: {"segments": torch.zeros(2, 1, H, W)},
        TypeError,
        "`segments` must be an integer tensor",
    ),
    (
        "segments-size",
        lambda x: {"segments": torch.zeros(2, 1, 8, 8, dtype=torch.long)},
        ValueError,
        r"`segments` spatial size \(8, 8\) does not match the inputs' \(16, 16\)",
    ),
]


# GradientShap interpolates the inputs with float32 random factors: it works on
# half-precision inputs (see test_gradient_shap_works_on_half_precision_inputs)
_HALF_WORKS = {(na.NASGradientShap, "float16"), (na.NASGradientShap, "bfloat16")}


@pytest.mark.parametrize(
    ("cls", "change", "error", "match"),
    [(cls, *c[1:]) for cls in NAS_CLASSES for c in BAD_CALLS if (cls, c[0]) not in _HALF_WORKS],
    ids=[
        f"{cls.__name__}-{c[0]}"
        for cls in NAS_CLASSES
        for c in BAD_CALLS
        if (cls, c[0]) not in _HALF_WORKS
    ],
)
def test_nas_classes_reject(cls: type, change: Callable, error: type, match: str) -> None:
    x = _images(h=H, w=W)
    call = {"x": x, **change(x)}
    with pytest.raises(error, match=match):
        _attribute(cls, _model(), call.pop("x"), **call)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_gradient_shap_works_on_half_precision_inputs(dtype: torch.dtype) -> None:
    """The output has the inputs' dtype and the values of the float32 computation (up to
    the half-precision rounding of its products)."""
    x = _images(h=H, w=W).to(dtype)
    np.random.seed(0)  # Captum draws GradientShap's noise and factors with numpy
    out = _attribute(na.NASGradientShap, _model(), x)
    np.random.seed(0)
    ref = _attribute(na.NASGradientShap, _model(), x.float())
    assert out.dtype == dtype
    scale = float(ref.abs().max())
    torch.testing.assert_close(out.float(), ref, rtol=0, atol=0.02 * scale)


@pytest.mark.parametrize("cls", NAS_CLASSES, ids=lambda c: c.__name__)
def test_nas_classes_work_in_float64_with_a_float64_model(cls: type) -> None:
    model = _model().double()
    x = _images(h=H, w=W).double()
    out = _attribute(cls, model, x)
    assert out.dtype == torch.float64 and out.shape == x.shape
    assert bool(torch.isfinite(out).all())
    # one value per segment of the grid: the map is constant inside each 8x8 cell
    cells = out.reshape(2, 3, 2, 8, 2, 8)
    assert torch.equal(cells, cells[:, :, :, :1, :, :1].expand_as(cells))


@pytest.mark.parametrize("shape", [(1, 16, 16), (4, 16, 16), (3, 12, 20), (3, 6, 6)])
@pytest.mark.parametrize("cls", NAS_CLASSES, ids=lambda c: c.__name__)
def test_nas_classes_on_grey_four_channel_non_square_and_tiny_images(
    cls: type, shape: tuple[int, int, int]
) -> None:
    """6x6 is smaller than TinyCNN's total stride (8): its last stage is 1x1."""
    c, h, w = shape
    x = _images(c=c, h=h, w=w)
    out = _attribute(cls, _model(c), x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert bool(torch.isfinite(out).all())


def test_nas_class_with_default_nas_segmenter_on_tiny_and_non_square_images() -> None:
    for h, w in ((6, 6), (12, 20)):
        x = _images(h=h, w=w)
        sal = na.NASSaliency(_model(), n_segments=4)
        out, seg = sal.attribute(x, target=0, return_segments=True)
        _assert_feature_mask(seg, x)
        assert out.shape == x.shape


class _NaNGradient(nn.Module):
    """``sqrt(|x|)``: a finite output whose gradient is NaN where ``x`` is 0."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return (x.abs().sqrt() * self.scale).flatten(1)[:, :5]


def test_nas_class_rejects_nan_from_the_wrapped_method() -> None:
    x = _images(h=H, w=W)
    x[:, 0, 0, 0] = 0.0  # d sqrt(|x|) / dx is NaN at 0 (0 * inf)
    with pytest.raises(ValueError, match="wrapped attribution Saliency returned NaN or Inf"):
        na.NASSaliency(_NaNGradient(), segmenter=ns.GridSegmenter(4)).attribute(x, target=0)


class _TwoHeads(nn.Module):
    """Output (N, 2, 3): Captum's tuple targets index it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x).mean((2, 3)).reshape(-1, 2, 3)


def test_tuple_targets_still_reach_captum() -> None:
    x = _images(h=8, w=8)
    model = _TwoHeads()
    sal = na.NASSaliency(model, segmenter=ns.GridSegmenter(4))
    a = sal.attribute(x, target=(1, 2))
    b = sal.attribute(x, target=[(1, 2), (1, 2)])
    torch.testing.assert_close(a, b)


def test_target_of_a_plain_forward_function_is_checked_by_captum() -> None:
    """No hook on a plain function: Captum's index error, named (see docs/robustness.md)."""
    model = _model()
    with pytest.raises(ValueError, match=r"`target` 9 is out of range .* out of bounds"):
        na.NASSaliency(lambda t: model(t), segmenter=ns.GridSegmenter(4)).attribute(
            _images(h=H, w=W), target=9
        )


def test_captum_own_arguments_are_checked_by_captum() -> None:
    """Arguments passed through to the Captum method keep Captum's own checks."""
    x = _images(h=6, w=6)
    occlusion = na.NASOcclusion(_model(), segmenter=ns.GridSegmenter(4))
    with pytest.raises(AssertionError, match="cannot be larger than sliding window shape"):
        occlusion.attribute(x, target=0, sliding_window_shapes=(3, 2, 2), strides=(3, 4, 4))


# -------------------------------------------------------------------------- metrics

N_IMG, MH, MW = 2, 8, 8


def _maps() -> Tensor:
    return torch.rand(N_IMG, MH, MW, generator=torch.Generator().manual_seed(3))


def _masks() -> Tensor:
    m = torch.zeros(N_IMG, MH, MW, dtype=torch.bool)
    m[:, 2:5, 2:6] = True
    return m


BOXES = torch.tensor([[[2, 2, 6, 5]], [[1, 1, 7, 6]]])

# metric name -> fn(maps, masks, boxes)
METRICS: dict[str, Callable[[Tensor, Any, Any], Any]] = {
    "max_box_acc": lambda m, k, b: nm.max_box_acc(m, b).score,
    "top1_loc": lambda m, k, b: nm.top1_loc(m, b, torch.tensor([1, 0]), torch.tensor([1, 1])).score,
    "pxap": lambda m, k, b: nm.pxap(m, k).score,
    "pointing_game": lambda m, k, b: nm.pointing_game(m, k, tolerance=1),
    "energy_pointing_game": lambda m, k, b: nm.energy_pointing_game(m, b),
    "relevance_mass_accuracy": lambda m, k, b: nm.relevance_mass_accuracy(m, k),
    "relevance_rank_accuracy": lambda m, k, b: nm.relevance_rank_accuracy(m, k),
    "mask_iou": lambda m, k, b: nm.mask_iou(m, k, thresholds=[0.25, 0.625]),
    "mask_f1": lambda m, k, b: nm.mask_f1(m, k, normalize=True),
    "continuous_iou": lambda m, k, b: nm.continuous_iou(m, k),
    "roc_auc": lambda m, k, b: nm.roc_auc(m, k),
    "semantic_mass": lambda m, k, b: (
        nm.semantic_mass(
            m, ns.GridSegmenter(4)(torch.zeros(1, 1, *k.shape[-2:])), k.long() * 2 - 1
        ).mass
    ),
}
WITH_MASKS = [n for n in METRICS if n not in ("max_box_acc", "top1_loc", "energy_pointing_game")]
WITH_BOXES = ["max_box_acc", "top1_loc", "energy_pointing_game"]
# semantic_mass reads labelled pixels (-1/0/1), not object masks
WITH_BINARY_MASKS = [n for n in WITH_MASKS if n != "semantic_mass"]


def _bad_mask(value: float) -> Tensor:
    m = _masks().float()
    m[0, 0, 0] = value
    return m


METRIC_CASES: list[tuple[str, list[str], Callable[[], tuple], type, str]] = [
    ("maps-2d", list(METRICS), lambda: (_maps()[0], _masks(), BOXES), ValueError, "`maps`.*2-D"),
    ("maps-5d", list(METRICS), lambda: (_maps()[None, None], _masks(), BOXES), ValueError, "5-D"),
    ("maps-empty", list(METRICS), lambda: (_maps()[:0], _masks(), BOXES), ValueError, "empty"),
    (
        "maps-nan",
        list(METRICS),
        lambda: (_maps().index_fill(1, torch.tensor([0]), float("nan")), _masks(), BOXES),
        ValueError,
        "`maps` contains NaN or Inf",
    ),
    (
        "maps-inf",
        list(METRICS),
        lambda: (_maps() / 0.0, _masks(), BOXES),
        ValueError,
        "`maps` contains NaN or Inf",
    ),
    (
        "maps-int",
        list(METRICS),
        lambda: ((_maps() * 9).long(), _masks(), BOXES),
        TypeError,
        "`maps` must be a floating point tensor, got dtype torch.int64",
    ),
    (
        "maps-list",
        list(METRICS),
        lambda: (_maps().tolist(), _masks(), BOXES),
        TypeError,
        "`maps` must be a torch.Tensor",
    ),
    (
        "masks-batch",
        WITH_BINARY_MASKS,
        lambda: (_maps(), _masks()[:1], BOXES),
        ValueError,
        r"`masks` has shape \(1, 8, 8\) .* does not match the maps' \(2, 8, 8\)",
    ),
    (
        "masks-size",
        WITH_BINARY_MASKS,
        lambda: (_maps(), _masks()[:, :4], BOXES),
        ValueError,
        r"`masks` has shape \(2, 4, 8\)",
    ),
    (
        "masks-negative",
        [n for n in WITH_BINARY_MASKS if n != "continuous_iou"],
        lambda: (_maps(), _bad_mask(-1), BOXES),
        ValueError,
        "`masks` must hold only 0 and 1",
    ),
    (
        "masks-2",
        [n for n in WITH_BINARY_MASKS if n != "continuous_iou"],
        lambda: (_maps(), _bad_mask(2), BOXES),
        ValueError,
        "`masks` must hold only 0 and 1",
    ),
    (
        "masks-0.5",
        [n for n in WITH_BINARY_MASKS if n != "continuous_iou"],
        lambda: (_maps(), _bad_mask(0.5), BOXES),
        ValueError,
        "`masks` must hold only 0 and 1",
    ),
    (
        "soft-masks-outside-[0,1]",
        ["continuous_iou"],
        lambda: (_maps(), _bad_mask(-1), BOXES),
        ValueError,
        r"`masks` must hold values in \[0, 1\]",
    ),
    (
        "masks-no-object",
        [n for n in WITH_BINARY_MASKS if n != "pxap"],
        lambda: (_maps(), torch.zeros(2, 8, 8), BOXES),
        ValueError,
        r"`masks` has no object pixel in image\(s\) \[0, 1\]",
    ),
    (
        "masks-no-object-in-batch",
        ["pxap"],
        lambda: (_maps(), torch.zeros(2, 8, 8), BOXES),
        ValueError,
        "`masks` must contain both object and background pixels",
    ),
    (
        "labelled-pixels-2",
        ["semantic_mass"],
        lambda: (_maps(), _masks().long() + 1, BOXES),
        ValueError,
        "`labelled_pixels` must hold only 1",
    ),
    (
        "boxes-batch",
        WITH_BOXES,
        lambda: (_maps(), _masks(), BOXES[:1]),
        ValueError,
        "has 1 images, the maps have 2",
    ),
    (
        "boxes-outside",
        WITH_BOXES,
        lambda: (_maps(), _masks(), torch.tensor([[[2, 2, 50, 5]], [[1, 1, 7, 6]]])),
        ValueError,
        r"box \[2.0, 2.0, 50.0, 5.0\] of image 0 is invalid; .* 0 <= x0 < x1 <= 8",
    ),
    (
        "boxes-negative",
        WITH_BOXES,
        lambda: (_maps(), _masks(), torch.tensor([[[-1, 2, 5, 5]], [[1, 1, 7, 6]]])),
        ValueError,
        r"box \[-1.0, 2.0, 5.0, 5.0\] of image 0 is invalid",
    ),
    (
        "boxes-x1<=x0",
        WITH_BOXES,
        lambda: (_maps(), _masks(), torch.tensor([[[2, 2, 6, 5]], [[5, 1, 5, 6]]])),
        ValueError,
        r"box \[5.0, 1.0, 5.0, 6.0\] of image 1 is invalid",
    ),
    (
        "boxes-y1<=y0",
        WITH_BOXES,
        lambda: (_maps(), _masks(), torch.tensor([[[2, 4, 6, 3]], [[1, 1, 7, 6]]])),
        ValueError,
        "of image 0 is invalid",
    ),
    (
        "boxes-nan",
        WITH_BOXES,
        lambda: (_maps(), _masks(), torch.tensor([[[2, 2, float("nan"), 5]], [[1, 1, 7, 6]]])),
        ValueError,
        "contains NaN or Inf",
    ),
    (
        "boxes-3-coords",
        WITH_BOXES,
        lambda: (_maps(), _masks(), BOXES[..., :3]),
        ValueError,
        r"must be a \(N, B, 4\) tensor .* got shape \(2, 1, 3\)",
    ),
    (
        "boxes-bool",
        WITH_BOXES,
        lambda: (_maps(), _masks(), BOXES > 0),
        TypeError,
        "must hold real numbers, got dtype torch.bool",
    ),
]


@pytest.mark.parametrize(
    ("names", "make", "error", "match"),
    [c[1:] for c in METRIC_CASES],
    ids=[c[0] for c in METRIC_CASES],
)
def test_metrics_reject(names: list[str], make: Callable, error: type, match: str) -> None:
    for name in names:
        with pytest.raises(error, match=match):
            METRICS[name](*make())


@pytest.mark.parametrize(
    ("dtype", "tol"), [(torch.float16, 5e-3), (torch.bfloat16, 3e-2), (torch.float64, 1e-6)]
)
@pytest.mark.parametrize("name", list(METRICS))
def test_metrics_keep_the_dtype(name: str, dtype: torch.dtype, tol: float) -> None:
    """Same score as on the same values in float64, in the maps' dtype."""
    maps = _maps().to(dtype)
    out = METRICS[name](maps, _masks(), BOXES)
    assert out.dtype == dtype
    expected = METRICS[name](maps.double(), _masks(), BOXES)
    torch.testing.assert_close(out.double(), expected, rtol=0, atol=tol)


@pytest.mark.parametrize("name", list(METRICS))
def test_metrics_on_non_square_maps_with_channels(name: str) -> None:
    """(N, C, H, W) maps are channel-averaged: the same score as their mean."""
    g = torch.Generator().manual_seed(4)
    maps = torch.rand(2, 4, 6, 10, generator=g)
    masks = torch.zeros(2, 6, 10, dtype=torch.bool)
    masks[:, 1:4, 2:9] = True
    boxes = torch.tensor([[[2, 1, 9, 4]], [[0, 0, 5, 6]]])
    torch.testing.assert_close(
        METRICS[name](maps, masks, boxes), METRICS[name](maps.mean(1), masks, boxes)
    )


def test_metrics_on_single_pixel_images() -> None:
    one = torch.ones(1, 1, 1)
    mask = torch.ones(1, 1, 1, dtype=torch.bool)
    box = torch.tensor([[[0, 0, 1, 1]]])
    assert float(nm.max_box_acc(one, box).score) == 0.0  # a constant map has no foreground
    assert float(nm.pointing_game(one, mask)) == 0.0  # and points nowhere
    assert float(nm.relevance_mass_accuracy(one, mask)) == 1.0
    assert float(nm.relevance_rank_accuracy(one, mask)) == 1.0
    assert float(nm.energy_pointing_game(one, box)) == 1.0
    with pytest.raises(ValueError, match="needs background pixels"):
        nm.roc_auc(one, mask)
    with pytest.raises(ValueError, match="both object and background pixels"):
        nm.pxap(one, mask)


def test_top1_loc_rejects_bad_labels() -> None:
    maps, boxes = _maps(), BOXES
    with pytest.raises(ValueError, match=r"`labels` must hold class ids >= 0, got -1"):
        nm.top1_loc(maps, boxes, torch.tensor([1, 2]), torch.tensor([-1, 2]))
    with pytest.raises(ValueError, match=r"`logits_or_predictions` must hold class ids >= 0"):
        nm.top1_loc(maps, boxes, torch.tensor([-3, 2]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"`labels` must be an integer tensor of shape \(2,\)"):
        nm.top1_loc(maps, boxes, torch.tensor([1, 2]), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="`logits_or_predictions` contains NaN or Inf"):
        nm.top1_loc(maps, boxes, torch.full((2, 5), float("nan")), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"as floating scores must have shape \(2, K\)"):
        nm.top1_loc(maps, boxes, torch.rand(3, 5), torch.tensor([1, 2]))


def test_semantic_mass_rejects_bad_segments_and_labels() -> None:
    maps, labels = _maps(), _masks().long() * 2 - 1
    seg = torch.zeros(2, 1, MH, MW, dtype=torch.long)
    with pytest.raises(ValueError, match="`segments` has batch size 3, expected 1 or 2"):
        nm.semantic_mass(maps, torch.zeros(3, 1, MH, MW, dtype=torch.long), labels)
    with pytest.raises(ValueError, match=r"`segments` has negative ids \(min -1\)"):
        nm.semantic_mass(maps, seg - 1, labels)
    with pytest.raises(TypeError, match="`segments` must be an integer tensor"):
        nm.semantic_mass(maps, seg.float(), labels)
    with pytest.raises(TypeError, match="`labelled_pixels` must be an integer tensor of -1/0/1"):
        nm.semantic_mass(maps, seg, labels.float())
    with pytest.raises(ValueError, match=r"`labelled_pixels` must have shape \(2, 8, 8\)"):
        nm.semantic_mass(maps, seg, labels[:1])
    with pytest.raises(ValueError, match="`unlabelled` must be one of"):
        nm.semantic_mass(maps, seg, labels, unlabelled="ignore")


def test_segment_agreement_rejects_bad_scores() -> None:
    scores = torch.rand(2, 4, generator=torch.Generator().manual_seed(6))
    with pytest.raises(ValueError, match=r"`a` and `b` give segment scores of different shapes"):
        segment_agreement(scores, scores[:1])
    with pytest.raises(ValueError, match=r"`a` must be segment scores \(N, K\) or a pixel map"):
        segment_agreement(scores[..., None], scores)
    with pytest.raises(ValueError, match="`segments` is required when `b` is a pixel map"):
        segment_agreement(scores, torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="`top_k` must be an integer >= 1, got 0"):
        segment_agreement(scores, scores, top_k=0)
    # absent segments (NaN scores) are left out, as documented: the rest still agrees
    holes = scores.clone()
    holes[:, 0] = float("nan")
    res = segment_agreement(holes, scores)
    torch.testing.assert_close(res.spearman, torch.ones(2, dtype=torch.float64))


# ------------------------------------------------------------------ relevance curves


def _curve_setup() -> tuple[nn.Module, Tensor, Tensor]:
    g = torch.Generator().manual_seed(5)
    return _model(), torch.randn(2, 3, H, W, generator=g), torch.rand(2, 3, H, W, generator=g)


class _NaNOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        # NaN once the top-left pixel is removed (replaced by the zeros baseline)
        return (x[:, :1, 0, 0].abs().log() * self.scale).expand(-1, 5) * x.flatten(1)[:, :5]


CURVE_CASES: list[tuple[str, Callable, type, str]] = [
    ("target-5", lambda m, x, a: {"target": 5}, ValueError, "`target` 5 is out of range for 5"),
    ("target-neg", lambda m, x, a: {"target": -1}, ValueError, "`target` must hold class ids >= 0"),
    ("target-list", lambda m, x, a: {"target": [0, 1, 2]}, ValueError, "`target` as a sequence"),
    (
        "target-float",
        lambda m, x, a: {"target": torch.tensor([1.0, 0.0])},
        TypeError,
        "`target` must hold integer class ids",
    ),
    ("inputs-3d", lambda m, x, a: {"inputs": x[0]}, ValueError, "`inputs` must have shape"),
    ("inputs-empty", lambda m, x, a: {"inputs": x[:0]}, ValueError, "`inputs` is an empty batch"),
    ("inputs-nan", lambda m, x, a: {"inputs": x / 0.0}, ValueError, "`inputs` contains NaN"),
    ("inputs-int", lambda m, x, a: {"inputs": x.long()}, TypeError, "`inputs` must be a floating"),
    (
        "inputs-float64",
        lambda m, x, a: {"inputs": x.double()},
        TypeError,
        r"`inputs` has dtype torch.float64 but the model's parameters are torch.float32",
    ),
    (
        "inputs-float16",
        lambda m, x, a: {"inputs": x.half()},
        TypeError,
        "`inputs` has dtype torch.float16",
    ),
    (
        "attributions-batch",
        lambda m, x, a: {"attributions": a[:1]},
        ValueError,
        "`attributions` has batch size 1, the inputs have 2",
    ),
    (
        "attributions-nan",
        lambda m, x, a: {"attributions": a / 0.0},
        ValueError,
        "`attributions` contains NaN or Inf",
    ),
    (
        "attributions-size",
        lambda m, x, a: {"attributions": a[..., :8]},
        ValueError,
        r"`attributions` must have shape \(N, 3, 16, 16\)",
    ),
    (
        "segments-batch",
        lambda m, x, a: {"segments": torch.zeros(3, 1, H, W, dtype=torch.long)},
        ValueError,
        "`segments` has batch size 3",
    ),
    (
        "segments-negative",
        lambda m, x, a: {"segments": torch.full((2, 1, H, W), -1)},
        ValueError,
        "`segments` has negative ids",
    ),
    (
        "n_steps-too-many",
        lambda m, x, a: {"segments": ns.GridSegmenter(4)(x), "n_steps": 5},
        ValueError,
        r"`n_steps` \(5\) exceeds the number of segments to remove \(4\)",
    ),
    (
        "patch_size-too-big",
        lambda m, x, a: {"patch_size": 17},
        ValueError,
        r"`patch_size` \(17\) exceeds the image size 16x16",
    ),
    (
        "nan-scores",
        lambda m, x, a: {"forward_func": _NaNOutput(), "patch_size": 4},
        ValueError,
        "`forward_func` returned NaN or Inf scores",
    ),
    (
        "model-channels",
        lambda m, x, a: {"inputs": x[:, :1], "attributions": a[:, :1]},
        RuntimeError,
        "expected input.* to have 3 channels, but got 1",
    ),
]


@pytest.mark.parametrize(
    ("change", "error", "match"), [c[1:] for c in CURVE_CASES], ids=[c[0] for c in CURVE_CASES]
)
@pytest.mark.parametrize("fn", [nm.relevance_curve, nm.relevance_gap], ids=lambda f: f.__name__)
def test_relevance_curves_reject(fn: Callable, change: Callable, error: type, match: str) -> None:
    model, x, a = _curve_setup()
    call: dict[str, Any] = {"forward_func": model, "inputs": x, "attributions": a, "target": 1}
    call.update(change(model, x, a))
    with pytest.raises(error, match=match):
        fn(**call)


def test_relevance_curve_in_float64_and_on_tiny_images() -> None:
    model, x, a = _curve_setup()
    res64 = nm.relevance_curve(model.double(), x.double(), a.double(), 1, patch_size=4)
    res32 = nm.relevance_curve(model.float(), x, a, 1, patch_size=4)
    assert res64.scores.dtype == torch.float64
    torch.testing.assert_close(res64.scores.float(), res32.scores, rtol=1e-4, atol=1e-5)
    tiny = nm.relevance_curve(model, x[..., :3, :5], a[..., :3, :5], 1)  # 15 pixels, 15 steps
    assert tiny.scores.shape == (2, 16)
    assert torch.equal(tiny.units_removed[0], torch.arange(16))


# ------------------------------------------------------------------------------ CLI

TINY = "tests.conftest:TinyCNN"


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--image-size", "4"], "argument --image-size: must be >= 8, got 4"),
        (["--image-size", "8", "--n-segments", "100"], r"`n_segments` \(100\) is larger than"),
        (["--segmenter", "grid", "--n-segments", "5000"], r"`n_segments` \(5000\) exceeds"),
        (["--target", "-1"], "--target -1 is out of range: the model has 5 classes"),
        (["--method", "gradcam", "--layer", "fc"], r"shape \(1, 1\).*pick a --layer"),
        (["--segmenter", "quickshift", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["--n-steps", "0"], "argument --n-steps: must be >= 1, got 0"),
        (["--device", "nope"], "argument --device: bad device 'nope'"),
    ],
    ids=["tiny-image", "nas-k", "grid-k", "target", "gradcam-fc", "seed", "n-steps", "device"],
)
def test_cli_explain_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = ["explain", "--model", TINY, "--image-size", "32", "--out", str(tmp_path)]
    code, err = _cli(base + argv, capsys)
    assert code == 2
    assert err.startswith("captum-nas explain: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--n", "0"], "argument --num-images/--n: must be >= 1, got 0", id="n"),
        pytest.param(["--methods", "magic"], "unknown method 'magic'", id="methods"),
        pytest.param(
            ["--segmenters", ","], "argument --segmenters: the list is empty", id="segmenters"
        ),
        pytest.param(["--dataset", "/nonexistent/folder"], "data folder not found", id="dataset"),
        pytest.param(
            ["--image-size", "8"], "`image_size` must be an integer >= 32, got 8", id="tiny-image"
        ),
        pytest.param(
            ["--n-segments", "5000"], r"`n_segments` \(5000\) exceeds the number of pixels", id="k"
        ),
        pytest.param(
            ["--methods", "gradcam", "--layer", "fc"],
            r"method 'gradcam' gives a map of shape \(2, 1\).*pick a layer with spatial output",
            id="gradcam-fc",
        ),
        pytest.param(
            ["--methods", "gradcam", "--layer", "nope"],
            "`layer`: model has no layer named 'nope'",
            id="layer",
        ),
        pytest.param(
            ["--curve-steps", "0"], "argument --curve-steps: must be >= 1, got 0", id="steps"
        ),
    ],
)
def test_cli_evaluate_bad_input_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = ["evaluate", "--model", TINY, "--n", "2", "--batch-size", "2", "--image-size", "32"]
    base += ["--no-curves", "--methods", "saliency", "--segmenters", "grid", "--out", str(tmp_path)]
    code, err = _cli(base + argv, capsys)
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]  # a progress bar may come first
    assert last.startswith("captum-nas evaluate: error:")
    assert re.search(message, last), last
