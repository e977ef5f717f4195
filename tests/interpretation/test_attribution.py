"""RelevantFeatures: the deciding channel's back-projection, stride fix, composition, errors."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from captum.attr import NoiseTunnel
from torch import nn

from captum_nas.attr import SuperpixelAttribution
from captum_nas.interpretation import (
    ChannelEnergy,
    RelevantFeatures,
    RelevantFeatureSelector,
    stride_fix,
)
from captum_nas.interpretation.attribution import build, coverage_count
from captum_nas.metrics.masks import mask_iou
from captum_nas.segmentation import GridSegmenter
from tests.conftest import hook_count
from tests.interpretation.conftest import DECIDING_CHANNEL, KnownChannelNet, known_channel_data


@pytest.fixture(scope="module")
def setup() -> tuple[KnownChannelNet, RelevantFeatureSelector]:
    model = KnownChannelNet().eval()
    x, y, _ = known_channel_data(60)
    energy = ChannelEnergy(model, ["features", "down"])
    return model, RelevantFeatureSelector(alpha=0.01).fit(energy(x), y, layout=energy.layout)


def test_explains_class_one_by_the_square(setup) -> None:
    model, selector = setup
    x, y, masks = known_channel_data(8, seed=5)
    explainer = RelevantFeatures(model, selector)
    idx, _rel = explainer.top_features(x[y == 1], target=1, top_n=1)
    assert idx[:, 0].tolist() == [DECIDING_CHANNEL] * 4
    attr = explainer.attribute(x[y == 1], target=1, top_n=1)
    assert attr.shape == x[y == 1].shape and attr.is_contiguous()
    assert float(attr.min()) == 0.0 and float(attr.max()) == 1.0
    # the back-projected deciding channel covers the bright square
    assert bool((mask_iou(attr, masks[y == 1], thresholds=0.5) > 0.9).all())


def test_predicted_class_by_default_and_state_restored(setup) -> None:
    model, selector = setup
    x, y, _ = known_channel_data(6, seed=6)
    explainer = RelevantFeatures(model, selector)
    flags = [p.requires_grad for p in model.parameters()]
    torch.testing.assert_close(explainer.attribute(x), explainer.attribute(x, target=y))
    assert hook_count(model) == 0 and not model.training
    assert [p.requires_grad for p in model.parameters()] == flags


def test_pixelwise_max_of_normalised_backprojections(setup) -> None:
    model, selector = setup
    x, _, _ = known_channel_data(4, seed=7)
    explainer = RelevantFeatures(model, selector)
    idx, _ = explainer.top_features(x, target=0, top_n=2)
    maps = []
    for r in range(idx.shape[1]):
        heat = explainer.backproject(x, idx[:, r]).abs().sum(1, keepdim=True)
        lo = heat.amin((1, 2, 3), keepdim=True)
        hi = heat.amax((1, 2, 3), keepdim=True)
        maps.append((heat - lo) / (hi - lo))
    expected = torch.maximum(maps[0], maps[1]).expand_as(x)
    torch.testing.assert_close(explainer.attribute(x, target=0, top_n=2), expected)


def test_guided_backprop_and_dtype(setup) -> None:
    model, selector = setup
    x, _, _ = known_channel_data(2, seed=8)
    explainer = RelevantFeatures(model.double(), selector, backprojection="guided-backprop")
    out = explainer.attribute(x.double(), target=1)
    model.float()
    assert out.dtype == torch.float64 and out.shape == x.shape


def test_coverage_count_by_hand() -> None:
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)
    count = coverage_count(conv, (8, 8), torch.zeros(1))
    row = torch.tensor([1.0, 2, 1, 2, 1, 2, 1, 1])
    torch.testing.assert_close(count[0, 0], row[:, None] * row[None, :])


def test_stride_fix_removes_the_checkerboard() -> None:
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    nn.init.constant_(conv.weight, 1.0)
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    conv(x).sum().backward()
    assert x.grad is not None and set(x.grad.unique().tolist()) == {1.0, 2.0, 4.0}
    x.grad = None
    with stride_fix(conv) as n_fixed:
        conv(x).sum().backward()
    assert n_fixed == 1
    torch.testing.assert_close(x.grad, torch.ones_like(x))
    assert len(conv._forward_pre_hooks) == 0


def test_composes_with_superpixels_and_noise_tunnel(setup) -> None:
    model, selector = setup
    x, _, _ = known_channel_data(2, seed=9)
    explainer = RelevantFeatures(model, selector)
    pooled = SuperpixelAttribution(explainer, GridSegmenter(4)).attribute(x, target=1)
    assert pooled.shape == x.shape
    # magnitude pooling: every 8x8 grid cell holds the mean of |channel sum| over it
    plain = explainer.attribute(x, target=1)
    cell = plain.sum(1).abs()[:, :8, :8].mean((1, 2))
    torch.testing.assert_close(pooled[:, 0, 0, 0], cell)
    torch.testing.assert_close(pooled[:, 2, 5, 3], cell)
    torch.manual_seed(0)
    nt = NoiseTunnel(explainer).attribute(x, nt_samples=2, stdevs=0.01, target=1, top_n=2)
    assert nt.shape == x.shape and bool(torch.isfinite(nt).all())
    assert hook_count(model) == 0


def test_build_from_registry_context(setup, tmp_path: Path) -> None:
    model, selector = setup
    path = selector.save(tmp_path / "s.pt")
    explainer = build(model, SimpleNamespace(model_name=None, options={"selector": str(path)}))
    assert isinstance(explainer, RelevantFeatures)
    with pytest.raises(ValueError, match="--selector"):
        build(model, SimpleNamespace(model_name="resnet18", options={}))


@pytest.mark.parametrize(
    ("name", "backprojection"),
    [("relevant-features-deconvnet", "deconvolution"), ("upsampled-activations", "upsample")],
)
def test_registry_variants_back_project_their_way(
    setup, tmp_path: Path, name, backprojection
) -> None:
    from captum_nas.attr.registry import BuildContext, get_method

    model, selector = setup
    path = selector.save(tmp_path / "s.pt")
    x, _, _ = known_channel_data(2, seed=3)
    ctx = BuildContext(options={"selector": str(path)})
    built = get_method(name).build(model, ctx)
    assert isinstance(built, RelevantFeatures) and built.backprojection == backprojection
    want = RelevantFeatures(model, selector, backprojection=backprojection).attribute(x, target=1)
    torch.testing.assert_close(built.attribute(x, target=1), want)


def test_bad_input(setup) -> None:
    model, selector = setup
    x, _, _ = known_channel_data(2)
    with pytest.raises(ValueError, match="`selector` is not fitted"):
        RelevantFeatures(model, RelevantFeatureSelector())
    with pytest.raises(ValueError, match="backprojection"):
        RelevantFeatures(model, selector, backprojection="lrp")
    other = nn.Sequential(OrderedDict(features=nn.Conv2d(3, 6, 1)))
    with pytest.raises(ValueError, match="`selector`: model has no layer named 'down'"):
        RelevantFeatures(other, selector)
    explainer = RelevantFeatures(model, selector)
    with pytest.raises(ValueError, match="`target`"):
        explainer.attribute(x, target=2)
    with pytest.raises(ValueError, match="top_n"):
        explainer.attribute(x, top_n=0)
    with pytest.raises(ValueError, match="inputs"):
        explainer.attribute(x[0])
    empty = RelevantFeatureSelector(alpha=10.0).fit(
        ChannelEnergy(model, ["features", "down"])(x.repeat(2, 1, 1, 1)),
        torch.tensor([0, 1, 0, 1]),
        layout=selector.layout,
    )
    with pytest.raises(ValueError, match=r"`target` class\(es\) \[1\] have no relevant feature"):
        RelevantFeatures(model, empty).attribute(x, target=1)
    assert hook_count(model) == 0


def test_upsampled_activation_variant(setup) -> None:
    model, selector = setup
    x, _, _ = known_channel_data(2, seed=10)
    explainer = RelevantFeatures(model, selector, backprojection="upsample")
    feature = torch.tensor([DECIDING_CHANNEL, 6 + 1])  # features:2 and down:1
    maps = explainer.backproject(x, feature)
    act_f = model.features(x)[0, DECIDING_CHANNEL]
    act_d = model.down(model.features(x))[1, 1]
    torch.testing.assert_close(maps[0, 0], act_f)  # same size: interpolation is identity
    expected = torch.nn.functional.interpolate(act_d[None, None], size=(16, 16), mode="bilinear")
    torch.testing.assert_close(maps[1:2], expected)
    assert explainer.attribute(x, target=1).shape == x.shape
