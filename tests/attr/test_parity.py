"""Drop-in parity: Captum's documented call, through every NAS* class, gives Captum's result.

Every NAS* class runs with a one-segment-per-pixel segmenter and a pooling that is the
identity there (``pooling="custom"``: per-channel mean over one pixel); the
segment-level classes get one feature per pixel, which Captum gets as its
``feature_mask``. The same call is made positionally (Captum's parameter order) and by
keyword, on our class and on Captum's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import captum.attr as captum_attr
import numpy as np
import pytest
import torch
from torch import Tensor, nn

import captum_nas.attr as nas_attr
from captum_nas.attr import CaptumSuperpixelMethod, TorchLinearRegression
from tests.conftest import TinyCNN, hook_count

H = W = 6
PIXELS = torch.arange(H * W).reshape(1, 1, H, W).repeat(2, 1, 1, 1)


def pixel_segmenter(x: Tensor) -> Tensor:
    """One segment per pixel."""
    return torch.arange(H * W).reshape(1, 1, H, W).expand(x.shape[0], 1, H, W)


def _kernel_shap(model: nn.Module) -> captum_attr.KernelShap:
    ks = captum_attr.KernelShap(model)
    ks.interpretable_model = TorchLinearRegression(alpha=0.0)  # what NASKernelShap fits
    return ks


class Case(NamedTuple):
    nas: Callable[[nn.Module], Any]  # our class, one segment per pixel, identity pooling
    captum: Callable[[nn.Module], Any]
    positional: Callable[[Tensor], tuple[Any, ...]]  # Captum's args after `inputs`
    keywords: Callable[[Tensor], dict[str, Any]]
    segment_level: bool = False  # Captum gets the pixel mask as its feature_mask


def _opts() -> dict[str, Any]:
    return {"segmenter": pixel_segmenter, "pooling": "custom"}


def _base(x: Tensor) -> Tensor:
    return torch.full_like(x, 0.1)


CASES: dict[str, Case] = {
    "IntegratedGradients": Case(
        lambda m: nas_attr.NASIntegratedGradients(m, **_opts()),
        captum_attr.IntegratedGradients,
        lambda x: (_base(x), 1, None, 16, "gausslegendre", None, True),
        lambda x: {"baselines": _base(x), "target": 1, "n_steps": 16},
    ),
    "Saliency": Case(
        lambda m: nas_attr.NASSaliency(m, **_opts()),
        captum_attr.Saliency,
        lambda x: (1, False),
        lambda x: {"target": 1, "abs": True},
    ),
    "InputXGradient": Case(
        lambda m: nas_attr.NASInputXGradient(m, **_opts()),
        captum_attr.InputXGradient,
        lambda x: (1, None),
        lambda x: {"target": 1},
    ),
    "DeepLift": Case(
        lambda m: nas_attr.NASDeepLift(m, False, **_opts()),
        lambda m: captum_attr.DeepLift(m, False),
        lambda x: (_base(x), 1, None, True),
        lambda x: {"baselines": _base(x), "target": 1},
    ),
    "DeepLiftShap": Case(
        lambda m: nas_attr.NASDeepLiftShap(m, **_opts()),
        captum_attr.DeepLiftShap,
        lambda x: (torch.zeros(3, 3, H, W), 1, None, True),
        lambda x: {"baselines": torch.zeros(3, 3, H, W), "target": 1},
    ),
    "GradientShap": Case(
        lambda m: nas_attr.NASGradientShap(m, **_opts()),
        captum_attr.GradientShap,
        lambda x: (torch.zeros(3, 3, H, W), 4, 0.1, 1, None, True),
        lambda x: {"baselines": torch.zeros(3, 3, H, W), "n_samples": 4, "target": 1},
    ),
    "GuidedBackprop": Case(
        lambda m: nas_attr.NASGuidedBackprop(m, **_opts()),
        captum_attr.GuidedBackprop,
        lambda x: (1,),
        lambda x: {"target": 1},
    ),
    "Deconvolution": Case(
        lambda m: nas_attr.NASDeconvolution(m, **_opts()),
        captum_attr.Deconvolution,
        lambda x: (1,),
        lambda x: {"target": 1},
    ),
    "LRP": Case(
        lambda m: nas_attr.NASLRP(m, **_opts()),
        captum_attr.LRP,
        lambda x: (1, None, True),
        lambda x: {"target": 1},
    ),
    "Occlusion": Case(
        lambda m: nas_attr.NASOcclusion(m, **_opts()),
        captum_attr.Occlusion,
        lambda x: ((3, 2, 2), (3, 1, 1), 0.0, 1, None, 4),
        lambda x: {"sliding_window_shapes": (3, 3, 3), "strides": 3, "target": 1},
    ),
    "LayerGradCam": Case(
        lambda m: nas_attr.NASGradCam(m, m.layer1, relu_attributions=False, **_opts()),
        lambda m: captum_attr.LayerGradCam(m, m.layer1),
        lambda x: (1, None, False, True),
        lambda x: {"target": 1, "relu_attributions": False},
    ),
    "GuidedGradCam": Case(
        lambda m: nas_attr.NASGuidedGradCam(m, m.layer1, **_opts()),
        lambda m: captum_attr.GuidedGradCam(m, m.layer1),
        lambda x: (1, None, "bilinear"),
        lambda x: {"target": 1},
    ),
    "FeatureAblation": Case(
        lambda m: nas_attr.NASFeatureAblation(m, segmenter=pixel_segmenter),
        captum_attr.FeatureAblation,
        lambda x: (0.0, 1, None, None, 8),
        lambda x: {"baselines": 0.5, "target": 1},
        segment_level=True,
    ),
    "ShapleyValueSampling": Case(
        lambda m: nas_attr.NASShapleyValueSampling(m, segmenter=pixel_segmenter),
        captum_attr.ShapleyValueSampling,
        lambda x: (0.0, 1, None, None, 2, 16),
        lambda x: {"target": 1, "n_samples": 2},
        segment_level=True,
    ),
    "Lime": Case(
        lambda m: nas_attr.NASLime(m, TorchLinearRegression(alpha=0.5), segmenter=pixel_segmenter),
        lambda m: captum_attr.Lime(m, TorchLinearRegression(alpha=0.5)),
        lambda x: (0.0, 1, None, None, 24, 8),
        lambda x: {"target": 1, "n_samples": 24},
        segment_level=True,
    ),
    "KernelShap": Case(
        lambda m: nas_attr.NASKernelShap(m, segmenter=pixel_segmenter),
        _kernel_shap,
        lambda x: (0.0, 1, None, None, 24, 8),
        lambda x: {"target": 1, "n_samples": 24},
        segment_level=True,
    ),
}
FEATURE_MASK_POSITION = 4  # Captum's position of feature_mask after `inputs`


def _seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def _model_and_inputs() -> tuple[nn.Module, Tensor]:
    _seed(0)
    model = TinyCNN().eval()
    _seed(1)
    return model, torch.randn(2, 3, H, W)


def _as_input_map(out: Any, x: Tensor) -> tuple[Tensor, Tensor | None]:
    """Captum's output as (map at the input size and channels, delta)."""
    delta = None
    if isinstance(out, tuple):
        out, delta = out
    out = out.detach()
    if out.shape[-2:] != x.shape[-2:]:
        out = captum_attr.LayerAttribution.interpolate(out, (H, W), "bilinear")
    return out.expand_as(x), delta


def test_every_nas_class_has_a_parity_case() -> None:
    classes = {
        getattr(nas_attr, name).captum_class.__name__
        for name in nas_attr.__all__
        if name.startswith("NAS") and issubclass(getattr(nas_attr, name), CaptumSuperpixelMethod)
    }
    assert classes == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("form", ["positional", "keyword"])
def test_captum_call_through_our_class_gives_captums_result(name: str, form: str) -> None:
    case = CASES[name]
    model, x = _model_and_inputs()
    ours_method = case.nas(model)
    captum_method = case.captum(model)
    if form == "positional":
        args = case.positional(x)
        kwargs: dict[str, Any] = {}
        captum_args = list(args)
        if case.segment_level:
            captum_args[FEATURE_MASK_POSITION - 1] = PIXELS
    else:
        args = ()
        kwargs = case.keywords(x)
        captum_args = []
    captum_kwargs = {**kwargs, "feature_mask": PIXELS} if case.segment_level and kwargs else kwargs
    _seed(2)
    expected, expected_delta = _as_input_map(
        captum_method.attribute(x, *captum_args, **captum_kwargs), x
    )
    _seed(2)
    ours = ours_method.attribute(x, *args, **kwargs)
    if expected_delta is not None:
        assert isinstance(ours, tuple) and len(ours) == 2
        ours, delta = ours
        # identity pooling keeps every total: the delta is Captum's
        torch.testing.assert_close(delta, expected_delta, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)
    assert ours.shape == x.shape and ours.is_contiguous() and ours.dtype == x.dtype
    assert not ours.requires_grad
    ours.numpy()  # usable as it is, also for GradCAM
    assert hook_count(model) == 0


@pytest.mark.parametrize("name", ["FeatureAblation", "Lime"])
def test_segment_level_feature_mask_in_captums_position(name: str) -> None:
    """A precomputed mask passed where Captum takes ``feature_mask`` is used as it is."""
    case = CASES[name]
    model, x = _model_and_inputs()
    args = list(case.positional(x))
    args[FEATURE_MASK_POSITION - 1] = PIXELS[:1]
    method = case.captum(model)
    ours_method = case.nas(model)

    def no_segmenter(inputs: Tensor) -> Tensor:
        raise AssertionError("the feature_mask must be used")

    ours_method._segmenter = no_segmenter
    _seed(2)
    expected = method.attribute(x, *args)
    _seed(2)
    torch.testing.assert_close(ours_method.attribute(x, *args), expected.expand_as(x))


def test_signatures_are_captums_then_ours_keyword_only() -> None:
    for name in CASES:
        case = CASES[name]
        ours_cls = type(case.nas(TinyCNN()))
        theirs = inspect.signature(ours_cls.captum_class.attribute).parameters
        mine = inspect.signature(ours_cls.attribute).parameters
        captum_params = [
            p for p in theirs if p != "self" and theirs[p].kind is not inspect.Parameter.VAR_KEYWORD
        ]
        ours_positional = [
            p
            for p in mine
            if p != "self" and mine[p].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        assert ours_positional == captum_params, name
        for p in captum_params:
            if p == "relu_attributions":  # None: the constructor's choice
                continue
            assert mine[p].default == theirs[p].default, (name, p)
        assert all(
            mine[p].kind is inspect.Parameter.KEYWORD_ONLY
            for p in ("segments", "return_segments", "return_result")
        )
        assert not any(
            p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            for p in [*mine.values(), *inspect.signature(ours_cls.__init__).parameters.values()]
        ), name


def test_noise_tunnel_expands_feature_mask_the_captum_way() -> None:
    model, x = _model_and_inputs()

    def no_segmenter(inputs: Tensor) -> Tensor:
        raise AssertionError("the feature_mask must be used")

    ig = nas_attr.NASIntegratedGradients(model, segmenter=no_segmenter, pooling="contribution")
    seg = torch.arange(4).repeat_interleave(9).reshape(1, 1, H, W).expand(2, 1, H, W)
    _seed(3)
    ours = captum_attr.NoiseTunnel(ig).attribute(
        x, nt_samples=3, stdevs=0.1, target=1, n_steps=8, feature_mask=seg
    )
    _seed(3)
    base = captum_attr.NoiseTunnel(captum_attr.IntegratedGradients(model)).attribute(
        x, nt_samples=3, stdevs=0.1, target=1, n_steps=8
    )
    # contribution pooling is linear: smoothing, then pooling
    from captum_nas.pooling import pool_segments

    torch.testing.assert_close(ours, pool_segments(base, seg, pooling="contribution").map)


def test_constructors_take_captums_arguments_then_ours_keyword_only() -> None:
    """Names, order and defaults of Captum's constructor, then our options by keyword."""
    for name, case in CASES.items():
        ours_cls = type(case.nas(TinyCNN()))
        theirs = inspect.signature(ours_cls.captum_class.__init__).parameters
        mine = inspect.signature(ours_cls.__init__).parameters
        positional = [p for p in mine.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert [p.name for p in positional] == list(theirs), name
        for p in positional:
            assert p.default == theirs[p.name].default, (name, p.name)
        keyword_only = {p.name for p in mine.values() if p.kind is p.KEYWORD_ONLY}
        options = {"segmenter", "n_segments", "nas_options"}
        if not case.segment_level:
            options |= {"pooling", "reduce", "channel_reduce", "interpolate_mode"}
        assert options <= keyword_only, name
        with pytest.raises(TypeError, match="bogus"):
            ours_cls(TinyCNN(), *([TinyCNN().layer1] if "layer" in theirs else []), bogus=1)


def test_help_shows_captums_arguments_and_ours() -> None:
    import pydoc

    text = pydoc.render_doc(nas_attr.NASGradCam, renderer=pydoc.plaintext)
    for name in ("device_ids", "reshape_transform", "n_segments", "attr_dim_summation", "segments"):
        assert name in text, name
    assert "**options" not in text and "Captum's ``LayerGradCam.attribute``" in text
