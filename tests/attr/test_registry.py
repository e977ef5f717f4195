"""The method and segmenter registry: lookup, registration errors, parity with Captum."""

from __future__ import annotations

import pytest
import torch
from captum.attr import (
    LRP,
    Deconvolution,
    DeepLift,
    FeatureAblation,
    GradientShap,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerGradCam,
    Occlusion,
    Saliency,
)

from captum_nas.attr.registry import (
    BuildContext,
    MethodSpec,
    SegmenterSpec,
    build_segmenter,
    default_gradcam_layer,
    get_method,
    get_segmenter,
    method_kwargs,
    method_names,
    register_method,
    register_segmenter,
    seeded,
    segmenter_names,
)
from captum_nas.images import IMAGENET_NORMALIZER
from captum_nas.segmentation import (
    FelzenszwalbSegmenter,
    GridSegmenter,
    NASSegmenter,
    QuickshiftSegmenter,
    SLICSegmenter,
    WatershedSegmenter,
)
from tests.conftest import TinyCNN, hook_count


@pytest.fixture
def setup() -> tuple[TinyCNN, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return TinyCNN().eval(), torch.randn(2, 3, 28, 28), torch.tensor([0, 3])


def test_lookup_is_case_insensitive_with_aliases() -> None:
    assert get_method("IG") is get_method("integrated-gradients")
    assert get_method("  GradCAM ").name == "gradcam"
    assert get_segmenter("NAS").name == "nas"
    assert "integrated-gradients" in method_names() and "ig" not in method_names()
    assert set(segmenter_names()) >= {
        "none",
        "grid",
        "slic",
        "quickshift",
        "felzenszwalb",
        "watershed",
        "nas",
    }


def test_typo_gets_suggestions() -> None:
    with pytest.raises(ValueError, match=r"unknown method 'salency'; did you mean 'saliency'"):
        get_method("salency")
    with pytest.raises(ValueError, match=r"did you mean 'slic'"):
        get_segmenter("slik")
    with pytest.raises(TypeError, match="must be a string"):
        get_method(3)  # type: ignore[arg-type]


def test_duplicate_registration_is_an_error() -> None:
    spec = MethodSpec("saliency", lambda m, ctx: Saliency(m))
    with pytest.raises(ValueError, match="'saliency' is already registered"):
        register_method(spec)
    with pytest.raises(ValueError, match="'ig' is already registered"):
        register_method(MethodSpec("my-unique-ig", lambda m, ctx: Saliency(m), aliases=("IG",)))
    assert "my-unique-ig" not in method_names()  # nothing half-registered
    with pytest.raises(ValueError, match="lower-case"):
        register_method(MethodSpec("Saliency2", lambda m, ctx: Saliency(m)))
    with pytest.raises(ValueError, match="'grid' is already registered"):
        register_segmenter(SegmenterSpec("grid", lambda m, k, s: None))
    with pytest.raises(TypeError, match="MethodSpec"):
        register_method("saliency")  # type: ignore[arg-type]


def _captum_reference(name: str, model: TinyCNN, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Captum's documented call of each method, with the registry's documented defaults."""
    side = 28 // 14  # occlusion: window and stride of 1/14 of the image side
    gen = torch.Generator().manual_seed(0)
    shap_baselines = torch.randn((4, 3, 28, 28), generator=gen) * 0.1
    calls = {
        "saliency": lambda: Saliency(model).attribute(x, target=t),
        "integrated-gradients": lambda: IntegratedGradients(model).attribute(
            x, target=t, n_steps=6
        ),
        "gradcam": lambda: LayerGradCam(model, model.layer2).attribute(
            x, target=t, relu_attributions=True
        ),
        "lrp": lambda: LRP(model).attribute(x, target=t),
        "inputxgradient": lambda: InputXGradient(model).attribute(x, target=t),
        "deeplift": lambda: DeepLift(model).attribute(x, target=t),
        "gradientshap": lambda: GradientShap(model).attribute(
            x, shap_baselines, target=t, n_samples=6
        ),
        "guidedbackprop": lambda: GuidedBackprop(model).attribute(x, target=t),
        "deconvolution": lambda: Deconvolution(model).attribute(x, target=t),
        "occlusion": lambda: Occlusion(model).attribute(
            x, (3, side, side), target=t, strides=(3, side, side)
        ),
    }
    with seeded(1):
        return calls[name]()


@pytest.mark.parametrize(
    "name",
    [
        "saliency",
        "integrated-gradients",
        "gradcam",
        "lrp",
        "inputxgradient",
        "deeplift",
        "gradientshap",
        "guidedbackprop",
        "deconvolution",
        "occlusion",
    ],
)
def test_built_method_equals_direct_captum_call(setup, name: str) -> None:  # type: ignore[no-untyped-def]
    model, x, t = setup
    spec = get_method(name)
    ctx = BuildContext(options={"n_steps": 6})
    attribution = spec.build(model, ctx)
    with seeded(1):
        ours = attribution.attribute(x, target=t, **method_kwargs(spec, x, ctx))
    expected = _captum_reference(name, model, x, t)
    assert ours.shape == expected.shape
    assert torch.allclose(ours, expected, atol=1e-6)
    assert hook_count(model) == 0


def test_segment_level_methods_take_the_segments_as_feature_mask(setup) -> None:  # type: ignore[no-untyped-def]
    model, x, t = setup
    segments = GridSegmenter(4)(x)
    spec = get_method("featureablation")
    assert spec.segment_level
    ours = spec.build(model, BuildContext()).attribute(
        x, target=t, feature_mask=segments, **method_kwargs(spec, x, BuildContext())
    )
    expected = FeatureAblation(model).attribute(x, target=t, feature_mask=segments)
    assert torch.allclose(ours, expected, atol=1e-6)
    for name in ("lime", "kernelshap"):
        assert get_method(name).segment_level and get_method(name).steps_kwarg == "n_samples"


def test_options_and_layers(setup) -> None:  # type: ignore[no-untyped-def]
    model, x, _ = setup
    ig = get_method("ig")
    assert method_kwargs(ig, x, BuildContext(options={"n_steps": 9})) == {"n_steps": 9}
    assert method_kwargs(ig, x, BuildContext()) == {}
    # no steps knob: the option is not passed on
    assert "n_steps" not in method_kwargs(get_method("saliency"), x, BuildContext({}, None))
    cam = get_method("gradcam")
    assert cam.uses_layer and not get_method("saliency").uses_layer
    built = cam.build(model, BuildContext(layer=model.layer1))
    assert built.layer is model.layer1
    assert cam.build(model, BuildContext()).layer is model.layer2


def test_gradcam_default_layer_by_name_then_by_probe(setup) -> None:  # type: ignore[no-untyped-def]
    model, _, _ = setup
    assert default_gradcam_layer(model) == "layer2"  # last stage found by probing
    # a known name whose layer the model lacks falls back to probing
    assert default_gradcam_layer(model, "resnet18") == "layer2"
    # a model that has the family's layer gets it by name, not by probing
    model.add_module("layer4", torch.nn.Identity())
    assert default_gradcam_layer(model, "resnet50") == "layer4"
    assert default_gradcam_layer(model, "reference-double") == "layer4"


def test_segmenters_are_built_with_seed_and_images(setup) -> None:  # type: ignore[no-untyped-def]
    model, _, _ = setup
    assert build_segmenter("none", model, 8) is None
    assert isinstance(build_segmenter("grid", model, 16), GridSegmenter)
    nas = build_segmenter("nas", model, 8, seed=3)
    assert isinstance(nas, NASSegmenter) and nas.seed == 3
    quick = build_segmenter("quickshift", model, 8, seed=5, to_image=IMAGENET_NORMALIZER.inverse)
    assert isinstance(quick, QuickshiftSegmenter) and quick.seed == 5
    expected_types = {
        "slic": SLICSegmenter,
        "felzenszwalb": FelzenszwalbSegmenter,
        "watershed": WatershedSegmenter,
    }
    img = torch.rand(1, 3, 28, 28)
    for name, cls in expected_types.items():
        seg = build_segmenter(name, model, 8, to_image=IMAGENET_NORMALIZER.inverse)
        assert isinstance(seg, cls)
        # to_image is used: segmenting normalised inputs equals segmenting the image
        direct = cls(**({"n_segments": 8} if name != "felzenszwalb" else {}))
        assert torch.equal(seg(IMAGENET_NORMALIZER(img)), direct(img))


def test_seeded_fixes_and_restores_both_generators() -> None:
    import numpy as np

    torch.manual_seed(7)
    np.random.seed(7)
    before = (torch.rand(1).item(), np.random.rand())
    torch.manual_seed(7)
    np.random.seed(7)
    with seeded(1):
        first = (torch.rand(1).item(), np.random.rand())
    after = (torch.rand(1).item(), np.random.rand())
    with seeded(1):
        again = (torch.rand(1).item(), np.random.rand())
    with seeded(2):
        other = (torch.rand(1).item(), np.random.rand())
    assert first == again and first != other
    assert after == before  # the caller's streams continue as if nothing happened
