"""Non-finite activations and absurd weights: a clear error, never one silent segment.

Before, a NaN weight, an Inf bias, a NaN BatchNorm buffer, an activation overflow or an
absurd ``spatial_weight``/``color_weight`` made k-means see NaN or Inf distances and
return one segment per image without a word; activations beyond about 1e19 made the
l2/z-score normalisation divide by an infinite norm and cluster zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from captum_nas import attr as na
from captum_nas.segmentation import NASSegmenter
from captum_nas.segmentation.nonfinite import check_finite_features
from tests.conftest import TinyCNN

H = W = 32


def _tiny() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN().eval()


def _x() -> Tensor:
    return torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(0))


def _nan_weight(m: TinyCNN) -> None:
    with torch.no_grad():
        m.layer1[0].weight[0, 0, 0, 0] = float("nan")


def _inf_bias(m: TinyCNN) -> None:
    with torch.no_grad():
        m.stem[0].bias[3] = float("inf")


def _nan_buffer(m: TinyCNN) -> None:
    m.layer1[1].running_var.fill_(float("nan"))


@pytest.mark.parametrize(
    ("damage", "layer", "culprit"),
    [
        (_nan_weight, "layer1", "layer1.0.weight"),
        (_inf_bias, "stem", "stem.0.bias"),
        (_nan_buffer, "layer1", "layer1.1.running_var"),
    ],
    ids=["nan-weight", "inf-bias", "nan-buffer"],
)
@pytest.mark.parametrize("mode", ["flat", "hierarchical", "slic-merge"])
def test_non_finite_model_state_is_named(
    damage: Callable[[TinyCNN], None], layer: str, culprit: str, mode: str
) -> None:
    model = _tiny()
    damage(model)
    seg = NASSegmenter(model, n_segments=6, mode=mode, superpixels=30)
    pattern = (
        rf"activations of layer '{layer}' contain NaN or Inf values .* parameters or "
        rf"buffers hold NaN or Inf values: '{culprit}'"
    )
    with pytest.raises(ValueError, match=pattern):
        seg(_x())


@pytest.mark.parametrize("cls", [na.NASSaliency, na.NASFeatureAblation])
def test_nas_classes_report_the_segmenter_error(cls: Any) -> None:
    model = _tiny()
    _nan_weight(model)
    with pytest.raises(ValueError, match=r"'layer1\.0\.weight'"):
        cls(model, n_segments=6).attribute(_x(), target=0)


def _homogeneous() -> nn.Module:
    """Bias-free ReLU network: activations of ``c * x`` are ``c`` times those of ``x``."""
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for cin, cout in ((3, 8), (8, 16), (16, 16)):
        layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.ReLU()]
    return nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3, bias=False)
    ).eval()


@pytest.mark.parametrize("normalize", ["l2", "zscore"])
def test_huge_but_finite_activations_give_the_segments_of_ordinary_ones(normalize: str) -> None:
    # l2 and z-score are scale-invariant: 1e30 times the inputs (activations ~1e30,
    # whose squares overflow float32) must give the segments of the inputs themselves
    model = _homogeneous()
    x = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(1))
    seg = NASSegmenter(model, n_segments=6, normalize=normalize)
    expected = seg(x)
    for scale in (1e10, 1e20, 1e30):
        assert torch.equal(seg(x * scale), expected), scale


def test_activation_overflow_names_the_inputs_scale() -> None:
    model = _homogeneous()
    with torch.no_grad():
        model[0].weight.mul_(1e30)  # finite weights; inputs of 1e10 overflow float32
    x = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(1)) * 1e10
    with pytest.raises(ValueError, match=r"layer '1'.*inputs reach \|x\| = 1e\+10.*torch\.float32"):
        NASSegmenter(model, n_segments=6)(x)


def test_half_precision_overflow_names_float16() -> None:
    model = _homogeneous().half()
    with torch.no_grad():
        model[0].weight.mul_(1e4)
    x = torch.full((1, 3, H, W), 100.0, dtype=torch.float16)
    with pytest.raises(ValueError, match=r"torch\.float16 \(largest value 6\.55e\+04\)"):
        NASSegmenter(model, n_segments=4)(x)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("spatial_weight", 1e30, r"`spatial_weight` must be <= 1\.0, got 1e\+30"),
        ("spatial_weight", 1.5, r"`spatial_weight` must be <= 1\.0"),
        ("spatial_weight", -0.1, r"`spatial_weight` must be >= 0"),
        ("spatial_weight", float("nan"), r"`spatial_weight` must be finite"),
        ("color_weight", 1e30, r"`color_weight` must be <= 1000000\.0"),
        ("color_weight", -1.0, r"`color_weight` must be >= 0"),
        ("color_weight", float("inf"), r"`color_weight` must be finite"),
        ("refine_color_weight", 1e30, r"`refine_color_weight` must be <= 1000000\.0"),
        ("layer_weights", 1e30, r"`layer_weights` must be <= 1000000\.0"),
        ("layer_weights", 1e-9, r"`layer_weights` must be >= 1e-06"),
        ("layer_weights", [1.0, float("nan"), 1.0], r"`layer_weights` must be finite"),
        ("min_size", 2.0, r"`min_size` must be <= 1\.0"),
        ("seed", 2**32, r"`seed` must be an integer >= 0 and <= 2\*\*32 - 1"),
        ("seed", -1, r"`seed` must be an integer >= 0"),
        ("superpixels", 0, r"`superpixels` must be an integer >= 1"),
        ("refine", -1, r"`refine` must be None or >= 0"),
        ("grid_size", 0, r"`grid_size` must be an integer >= 1"),
        ("max_iter", 0, r"`max_iter` must be an integer >= 1"),
        ("pca_dims", 0, r"`pca_dims` must be an integer >= 1"),
        ("tol", 1.0, r"`tol` must be in \[0, 1\), got 1\.0"),
        ("tol", float("nan"), r"`tol` must be finite"),
        ("seed_points", 0, r"`seed_points` must be an integer >= 1"),
    ],
)
def test_options_are_checked_in_init(option: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NASSegmenter(_tiny(), **{option: value})


def test_extreme_weights_in_range_still_work() -> None:
    # the bounds keep squared distances finite: the largest allowed values segment
    model = _tiny()
    for options in (
        {"spatial_weight": 1.0, "color_weight": 1e6, "refine_color_weight": 1e6},
        {"layer_weights": 1e6},
        {"layer_weights": [1e308, 1e308, 1e308]},  # their sum would overflow
    ):
        seg = NASSegmenter(model, n_segments=6, **options)(_x())
        assert [int(s.max()) + 1 for s in seg] == [6, 6], options
    equal = NASSegmenter(model, n_segments=6, layer_weights="equal")(_x())
    huge = NASSegmenter(model, n_segments=6, layer_weights=[1e308, 1e308, 1e308])(_x())
    assert torch.equal(equal, huge)


def test_check_finite_features() -> None:
    check_finite_features(torch.ones(1, 3, 2), {"spatial_weight": 0.3})
    for bad in (float("nan"), float("inf"), 1e30):
        points = torch.ones(1, 3, 2)
        points[0, 1, 0] = bad
        with pytest.raises(ValueError, match=r"features to cluster .*spatial_weight=0\.3"):
            check_finite_features(points, {"spatial_weight": 0.3})
