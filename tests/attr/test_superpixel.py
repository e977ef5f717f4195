"""SuperpixelAttribution: options, return order, segments handling, delta, errors."""

from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients, LayerGradCam, NoiseTunnel, Saliency
from torch import Tensor

from captum_nas.attr import NASIntegratedGradients, SuperpixelAttribution, expand_segments
from captum_nas.pooling import segment_pool
from captum_nas.segmentation import GridSegmenter
from tests.conftest import TinyCNN, hook_count

H = W = 12


def _setup() -> tuple[torch.nn.Module, Tensor]:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    return model, torch.randn(2, 3, H, W)


def test_contribution_pooling_keeps_captum_delta_and_completeness() -> None:
    model, x = _setup()
    sp = SuperpixelAttribution(IntegratedGradients(model), GridSegmenter(4), pooling="contribution")
    assert sp.has_convergence_delta() and sp.multiplies_by_inputs
    attr, delta = sp.attribute(x, target=2, n_steps=64, return_convergence_delta=True)
    base, base_delta = IntegratedGradients(model).attribute(
        x, target=2, n_steps=64, return_convergence_delta=True
    )
    torch.testing.assert_close(delta, base_delta)
    torch.testing.assert_close(attr.sum((1, 2, 3)), base.sum((1, 2, 3)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [{}, {"pooling": "custom", "reduce": "max"}, {"pooling": "custom", "channel_reduce": "sum"}],
)
def test_delta_is_the_delta_of_the_returned_map(options: dict[str, str]) -> None:
    """delta = total(returned map) - (f(x) - f(baseline)), whatever the pooling."""
    model, x = _setup()
    sp = SuperpixelAttribution(IntegratedGradients(model), GridSegmenter(4), **options)
    attr, delta = sp.attribute(x, target=2, n_steps=64, return_convergence_delta=True)
    with torch.no_grad():
        gap = model(x)[:, 2] - model(torch.zeros_like(x))[:, 2]
    torch.testing.assert_close(delta, attr.sum((1, 2, 3)) - gap, rtol=1e-4, atol=1e-4)
    # the magnitude map is far from complete, and the delta says so
    if not options:
        assert float(delta.abs().max()) > 0.1


def test_return_order_with_segments() -> None:
    model, x = _setup()
    sp = NASIntegratedGradients(model, segmenter=GridSegmenter(4))
    attr, delta, seg = sp.attribute(
        x, target=0, n_steps=4, return_convergence_delta=True, return_segments=True
    )
    assert attr.shape == x.shape and delta.shape == (2,)
    assert torch.equal(seg, GridSegmenter(4)(x))
    attr2, seg2 = sp.attribute(x, target=0, n_steps=4, return_segments=True)
    torch.testing.assert_close(attr2, attr)
    assert torch.equal(seg2, seg)


def test_no_delta_method_rejects_delta_request() -> None:
    model, x = _setup()
    sp = SuperpixelAttribution(Saliency(model), GridSegmenter(4))
    assert not sp.has_convergence_delta() and not sp.multiplies_by_inputs
    with pytest.raises(ValueError, match="return_convergence_delta"):
        sp.attribute(x, target=0, return_convergence_delta=True)


def test_layer_map_with_channels_is_summed_and_upsampled() -> None:
    model, x = _setup()
    sp = SuperpixelAttribution(
        LayerGradCam(model, model.layer1), GridSegmenter(4), pooling="custom"
    )
    out = sp.attribute(
        x, target=0, segments=torch.arange(H * W).reshape(1, 1, H, W), attr_dim_summation=False
    )
    raw = LayerGradCam(model, model.layer1).attribute(x, 0, attr_dim_summation=False)
    expected = torch.nn.functional.interpolate(
        raw, size=(H, W), mode="bilinear", align_corners=False
    ).sum(1, keepdim=True)
    torch.testing.assert_close(out, expected.expand_as(x))


@pytest.mark.parametrize(("reduce", "channel_reduce"), [("max", None), ("mean", "abs-sum")])
def test_options_forwarded_to_pooling(reduce: str, channel_reduce: str | None) -> None:
    model, x = _setup()
    seg = GridSegmenter(4)(x)
    sp = SuperpixelAttribution(
        Saliency(model),
        GridSegmenter(4),
        pooling="custom",
        reduce=reduce,
        channel_reduce=channel_reduce,
    )
    out = sp.attribute(x, target=0)
    base = Saliency(model).attribute(x, target=0)
    expected = segment_pool(base, seg, reduce=reduce, channel_reduce=channel_reduce).map
    torch.testing.assert_close(out, expected)
    scores = SuperpixelAttribution.segment_scores(out, seg)
    assert scores.shape == (2, 4)


def test_tuple_inputs_the_captum_way_and_rejects_several() -> None:
    model, x = _setup()
    sp = SuperpixelAttribution(Saliency(model), GridSegmenter(4))
    (out,) = sp.attribute((x,), target=0)
    torch.testing.assert_close(out, sp.attribute(x, target=0))
    with pytest.raises(TypeError, match="tuple of 2"):
        sp.attribute((x, x), target=0)


def test_expand_segments_for_noise_tunnel_batches() -> None:
    x = torch.zeros(6, 3, 4, 4)
    seg = torch.zeros(2, 1, 4, 4, dtype=torch.long)
    seg[0, :, :, 2:] = 1  # left | right
    seg[1, :, 2:, :] = 1  # top / bottom
    out = expand_segments(seg, x)
    assert out.shape == (6, 1, 4, 4)
    assert out[:3].eq(seg[0]).all() and out[3:].eq(seg[1]).all()  # repeat_interleave order
    assert expand_segments(seg[:1], x).shape == (6, 1, 4, 4)
    with pytest.raises(ValueError, match="batch size 4"):
        expand_segments(torch.zeros(4, 1, 4, 4, dtype=torch.long), x)
    with pytest.raises(ValueError, match="spatial size"):
        expand_segments(torch.zeros(2, 1, 3, 4, dtype=torch.long), x)


def test_noise_tunnel_clean_segments_are_not_recomputed() -> None:
    model, x = _setup()
    calls: list[int] = []

    def segmenter(inputs: Tensor) -> Tensor:
        calls.append(inputs.shape[0])
        return GridSegmenter(4)(inputs)

    sp = SuperpixelAttribution(Saliency(model), segmenter)
    seg = sp.segment(x)
    NoiseTunnel(sp).attribute(x, nt_samples=3, target=0, segments=seg)
    assert calls == [2]


def test_segmenter_does_not_touch_graph_or_state() -> None:
    model, x = _setup()
    model.train()

    def segmenter(inputs: Tensor) -> Tensor:
        assert not torch.is_grad_enabled() and not inputs.requires_grad
        model.eval()  # a segmenter that changes the mode: restored afterwards
        return GridSegmenter(4)(inputs)

    sp = SuperpixelAttribution(Saliency(model), segmenter)
    sp.segment(x)
    assert model.training and hook_count(model) == 0


def test_bad_options_and_segmenter_output_rejected() -> None:
    model, x = _setup()
    with pytest.raises(TypeError, match="attribution"):
        SuperpixelAttribution(model, GridSegmenter(4))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="segmenter"):
        SuperpixelAttribution(Saliency(model), 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pooling"):
        SuperpixelAttribution(Saliency(model), GridSegmenter(4), pooling="mean")
    with pytest.raises(ValueError, match="`reduce`='max' applies only with pooling='custom'"):
        SuperpixelAttribution(Saliency(model), GridSegmenter(4), reduce="max")
    with pytest.raises(ValueError, match="`channel_reduce`='sum' applies only"):
        SuperpixelAttribution(
            Saliency(model), GridSegmenter(4), pooling="contribution", channel_reduce="sum"
        )
    with pytest.raises(ValueError, match="reduce"):
        SuperpixelAttribution(Saliency(model), GridSegmenter(4), pooling="custom", reduce="mode")
    with pytest.raises(ValueError, match="channel_reduce"):
        SuperpixelAttribution(
            Saliency(model), GridSegmenter(4), pooling="custom", channel_reduce="max"
        )
    with pytest.raises(ValueError, match="interpolate_mode"):
        SuperpixelAttribution(Saliency(model), GridSegmenter(4), interpolate_mode="x")
    with pytest.raises(ValueError, match="n_segments"):
        SuperpixelAttribution(Saliency(model), n_segments=0)
    with pytest.raises(TypeError, match="nas_options"):
        SuperpixelAttribution(Saliency(model), nas_options=[1])  # type: ignore[arg-type]
    bad = SuperpixelAttribution(Saliency(model), lambda t: torch.zeros(2, 1, 3, 3).long())
    with pytest.raises(ValueError, match="segmenter output"):
        bad.attribute(x, target=0)
    good = SuperpixelAttribution(Saliency(model), GridSegmenter(4))
    with pytest.raises(ValueError, match="inputs"):
        good.attribute(x[0], target=0)
    with pytest.raises(TypeError, match="segments"):
        good.attribute(x, target=0, segments=torch.zeros(2, 1, H, W))
