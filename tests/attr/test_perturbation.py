"""Segment-level perturbation methods: the segments are the feature mask."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
from captum.attr import FeatureAblation, ShapleyValueSampling
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from captum_nas.attr import (
    NASFeatureAblation,
    NASKernelShap,
    NASLime,
    NASShapleyValueSampling,
    SuperpixelAttribution,
    TorchLinearRegression,
)
from captum_nas.segmentation import GridSegmenter
from tests.conftest import TinyCNN, hook_count

H = W = 8


class LinearModel(nn.Module):
    """Output t = sum of w_t * x over pixels: segment Shapley values are exact sums."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.weight = nn.Parameter(torch.randn(2, 3 * H * W))

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.weight.T


def _exact_segment_values(model: LinearModel, x: Tensor, seg: Tensor, target: int) -> Tensor:
    contrib = (model.weight[target].reshape(1, 3, H, W) * x).sum(1)  # (N, H, W)
    k = int(seg.max()) + 1
    out = torch.zeros(x.shape[0], k)
    for n in range(x.shape[0]):
        for s in range(k):
            out[n, s] = contrib[n][seg[n, 0] == s].sum()
    return out.detach()


def _per_image_masks(x: Tensor) -> Tensor:
    seg = GridSegmenter(4)(x).clone()
    seg[1] = GridSegmenter(2)(x[1:2])[0]  # the second image has 2 segments only
    return seg


@pytest.mark.parametrize("cls", [NASFeatureAblation, NASShapleyValueSampling, NASKernelShap])
def test_linear_model_exact_segment_values_with_per_image_masks(cls: type) -> None:
    model = LinearModel()
    torch.manual_seed(1)
    x = torch.randn(2, 3, H, W)
    seg = _per_image_masks(x)
    method = cls(model, segmenter=GridSegmenter(4))
    kwargs = {"n_samples": 200} if cls is NASKernelShap else {}
    if cls is NASShapleyValueSampling:
        kwargs = {"n_samples": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attr, segs = method.attribute(x, target=1, segments=seg, return_segments=True, **kwargs)
    assert attr.shape == x.shape and torch.equal(segs, seg)
    scores = SuperpixelAttribution.segment_scores(attr, seg)
    expected = _exact_segment_values(model, x, seg, 1)
    torch.testing.assert_close(scores[0], expected[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(scores[1, :2], expected[1, :2], rtol=1e-4, atol=1e-4)
    assert torch.isnan(scores[1, 2:]).all()


def test_feature_ablation_parity_with_captum() -> None:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    x = torch.randn(3, 3, H, W)
    seg = GridSegmenter(4)(x)
    ours = NASFeatureAblation(model, segmenter=GridSegmenter(4)).attribute(x, target=[0, 1, 2])
    base = FeatureAblation(model).attribute(x, target=[0, 1, 2], feature_mask=seg)
    torch.testing.assert_close(ours, base)
    torch.manual_seed(3)
    ours_svs = NASShapleyValueSampling(model, segmenter=GridSegmenter(4)).attribute(
        x, target=0, n_samples=2
    )
    torch.manual_seed(3)
    base_svs = ShapleyValueSampling(model).attribute(x, target=0, feature_mask=seg, n_samples=2)
    torch.testing.assert_close(ours_svs, base_svs)
    assert hook_count(model) == 0


def test_lime_and_kernel_shap_without_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    torch.manual_seed(0)
    model = TinyCNN().eval()
    x = torch.randn(2, 3, H, W)
    for cls in (NASLime, NASKernelShap):
        method = cls(model, segmenter=GridSegmenter(4))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = method.attribute(x, target=0, n_samples=30, perturbations_per_eval=10)
        assert out.shape == x.shape and torch.isfinite(out).all()
        assert isinstance(method.attribution.interpretable_model, TorchLinearRegression)


def test_feature_mask_is_the_segments_alias_and_pooling_options_are_rejected() -> None:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    x = torch.randn(1, 3, H, W)
    mask = GridSegmenter(2)(x)
    method = NASFeatureAblation(model, segmenter=GridSegmenter(4))
    by_mask = method.attribute(x, target=0, feature_mask=mask)
    torch.testing.assert_close(by_mask, method.attribute(x, target=0, segments=mask))
    torch.testing.assert_close(
        by_mask, FeatureAblation(model).attribute(x, target=0, feature_mask=mask)
    )
    with pytest.raises(TypeError, match="alias"):
        method.attribute(x, target=0, feature_mask=mask, segments=mask)
    # segment-level methods return signed per-segment values and pool nothing
    for option in ({"pooling": "contribution"}, {"reduce": "max"}, {"channel_reduce": "sum"}):
        with pytest.raises(TypeError, match=next(iter(option))):
            NASFeatureAblation(model, segmenter=GridSegmenter(4), **option)


def test_torch_linear_regression_recovers_weights() -> None:
    torch.manual_seed(0)
    xs = torch.randn(50, 3)
    ys = xs @ torch.tensor([1.0, -2.0, 0.5]) + 3.0
    ws = torch.rand(50) + 0.5
    reg = TorchLinearRegression()
    reg.fit(DataLoader(TensorDataset(xs, ys, ws), batch_size=16))
    torch.testing.assert_close(reg.representation(), torch.tensor([[1.0, -2.0, 0.5]]))
    torch.testing.assert_close(reg(xs), ys[:, None], rtol=1e-4, atol=1e-4)
    ridge = TorchLinearRegression(alpha=1e6)
    ridge.fit(DataLoader(TensorDataset(xs, ys), batch_size=50))
    assert ridge.representation().abs().max() < 1e-2
    with pytest.raises(ValueError, match="alpha"):
        TorchLinearRegression(alpha=-1.0)
    with pytest.raises(RuntimeError, match="not fitted"):
        TorchLinearRegression().representation()
