"""NAS* classes: parity with Captum, composition with NoiseTunnel / metrics / visualization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel
from captum.attr import visualization as viz
from captum.metrics import infidelity, sensitivity_max
from torch import Tensor, nn

import captum_nas.attr as nas_attr
from captum_nas.attr import NASGradCam, NASIntegratedGradients, NASSaliency
from captum_nas.pooling import pool_segments, segment_pool
from captum_nas.segmentation import GridSegmenter
from tests.conftest import TinyCNN, hook_count

matplotlib.use("Agg")

H = W = 12
BASELINES = torch.zeros(2, 3, H, W)


class ArgCNN(TinyCNN):
    """TinyCNN with an extra forward argument; ``scale="boom"`` raises inside forward."""

    def forward(self, x: Tensor, scale: Any = 1.0) -> Tensor:  # type: ignore[override]
        out = super().forward(x)
        if isinstance(scale, str):
            raise RuntimeError("boom inside forward")
        return out * scale


# name -> (NAS class name, extra constructor args (model -> args), attribute kwargs)
_CASES: dict[str, tuple[str, Callable[[nn.Module], tuple[Any, ...]], dict[str, Any]]] = {
    "ig": ("NASIntegratedGradients", lambda m: (), {"n_steps": 8}),
    "saliency": ("NASSaliency", lambda m: (), {}),
    "ixg": ("NASInputXGradient", lambda m: (), {}),
    "deeplift": ("NASDeepLift", lambda m: (), {}),
    "deepliftshap": ("NASDeepLiftShap", lambda m: (), {"baselines": BASELINES}),
    "gradientshap": ("NASGradientShap", lambda m: (), {"baselines": BASELINES, "n_samples": 3}),
    "guidedbackprop": ("NASGuidedBackprop", lambda m: (), {}),
    "deconvolution": ("NASDeconvolution", lambda m: (), {}),
    "lrp": ("NASLRP", lambda m: (), {}),
    "occlusion": (
        "NASOcclusion",
        lambda m: (),
        {"sliding_window_shapes": (3, 4, 4), "strides": (3, 4, 4)},
    ),
    "gradcam": ("NASGradCam", lambda m: (m.layer1,), {}),
    "guidedgradcam": ("NASGuidedGradCam", lambda m: (m.layer1,), {}),
}
# name -> (NAS class, its Captum class, extra constructor args, attribute kwargs)
SPECS: dict[str, tuple[Any, Any, Callable[[nn.Module], tuple[Any, ...]], dict[str, Any]]] = {
    name: (getattr(nas_attr, cls), getattr(nas_attr, cls).captum_class, args, kwargs)
    for name, (cls, args, kwargs) in _CASES.items()
}
NAMES = sorted(SPECS)
PIXEL_IDS = torch.arange(H * W).reshape(1, 1, H, W)


def _seed(seed: int) -> None:
    """Seed torch and numpy (GradientShap draws its baselines and scales with numpy)."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def _model(cls: type[nn.Module] = TinyCNN) -> nn.Module:
    _seed(0)
    return cls().eval()


def _inputs(n: int = 2) -> Tensor:
    _seed(1)
    return torch.randn(n, 3, H, W)


def _nas(name: str, model: nn.Module, **options: Any) -> Any:
    nas_cls, _, args, _ = SPECS[name]
    options.setdefault("segmenter", GridSegmenter(9))
    return nas_cls(model, *args(model), **options)


def _captum(name: str, model: nn.Module) -> Tensor:
    """Captum's map at the input size, expanded to the inputs' channels."""
    return _captum_raw(name, model).expand(2, 3, H, W)


def _captum_raw(name: str, model: nn.Module) -> Tensor:
    """Captum's map at the input size (a layer map keeps its one channel)."""
    _, cap_cls, args, akw = SPECS[name]
    x = _inputs()
    _seed(2)
    kwargs = dict(akw)
    if name == "gradcam":
        kwargs["relu_attributions"] = True
    out = cap_cls(model, *args(model)).attribute(x, target=1, **kwargs)
    if out.shape[-2:] != x.shape[-2:]:
        out = LayerAttribution.interpolate(out, (H, W), "bilinear")
    return out


@pytest.mark.parametrize("name", NAMES)
def test_one_pixel_segments_equal_captum(name: str) -> None:
    model = _model()
    ours_method = _nas(name, model, pooling="custom")  # the identity on one-pixel segments
    x = _inputs()
    _seed(2)
    ours = ours_method.attribute(x, target=1, segments=PIXEL_IDS, **SPECS[name][3])
    expected = _captum(name, model)
    torch.testing.assert_close(ours, expected.contiguous(), rtol=1e-6, atol=1e-6)
    assert ours.is_contiguous()
    assert hook_count(model) == 0


@pytest.mark.parametrize("name", NAMES)
def test_grid_segments_equal_pooled_captum_and_one_segment_gives_mean(name: str) -> None:
    model = _model()
    x = _inputs()
    seg = GridSegmenter(9)(x)
    _seed(2)
    ours, segs = _nas(name, model).attribute(x, target=1, return_segments=True, **SPECS[name][3])
    assert torch.equal(segs, seg)
    expected = pool_segments(_captum_raw(name, model), seg, channels=3).map
    torch.testing.assert_close(ours, expected)
    one = torch.zeros(1, 1, H, W, dtype=torch.long)
    _seed(2)
    mean = _nas(name, model).attribute(x, target=1, segments=one, **SPECS[name][3])
    base = _captum_raw(name, model)  # a layer map keeps its one channel
    # default pooling: the mean over the image of |sum over channels|
    magnitude = base.sum(1, keepdim=True).abs().mean((2, 3), keepdim=True)
    torch.testing.assert_close(mean, magnitude.expand_as(x))
    _seed(2)
    signed = _nas(name, model, pooling="contribution").attribute(
        x, target=1, segments=one, **SPECS[name][3]
    )
    # contribution pooling: the image total spread evenly over pixels and channels
    total = base.sum((1, 2, 3)).reshape(-1, 1, 1, 1) / (3 * H * W)
    torch.testing.assert_close(signed, total.expand_as(x))


NT_CASES = [(name, "smoothgrad") for name in NAMES] + [
    (name, "vargrad") for name in ("ig", "gradcam", "lrp", "occlusion")
]


@pytest.mark.parametrize(("name", "nt_type"), NT_CASES)
def test_noise_tunnel_with_clean_segments(name: str, nt_type: str) -> None:
    model = _model()
    x = _inputs()
    # contribution pooling is linear, so smoothing commutes with it (checked below)
    method = _nas(name, model, pooling="contribution")
    seg = method.segment(x)
    kwargs = dict(SPECS[name][3])
    _seed(3)
    ours = NoiseTunnel(method).attribute(
        x, nt_type=nt_type, nt_samples=3, stdevs=0.1, target=1, segments=seg, **kwargs
    )
    assert ours.shape == x.shape
    # constant over every segment
    torch.testing.assert_close(segment_pool(ours, seg).map, ours)
    if nt_type == "smoothgrad":
        _, cap_cls, args, _ = SPECS[name]
        if name == "gradcam":
            kwargs["relu_attributions"] = True
        _seed(3)
        base = NoiseTunnel(cap_cls(model, *args(model))).attribute(
            x, nt_type=nt_type, nt_samples=3, stdevs=0.1, target=1, **kwargs
        )
        if base.shape != x.shape:
            base = LayerAttribution.interpolate(base, (H, W), "bilinear")
        expected = pool_segments(base, seg, pooling="contribution", channels=3).map
        torch.testing.assert_close(ours, expected)
    assert hook_count(model) == 0


def test_noise_tunnel_without_segments_segments_noisy_inputs() -> None:
    model = _model()
    calls: list[int] = []
    grid = GridSegmenter(4)

    def segmenter(inputs: Tensor) -> Tensor:
        calls.append(inputs.shape[0])
        return grid(inputs)

    method = NASSaliency(model, segmenter=segmenter)
    out = NoiseTunnel(method).attribute(_inputs(), nt_samples=4, nt_samples_batch_size=2, target=0)
    assert out.shape == (2, 3, H, W)
    assert calls == [4, 4]  # one call per noisy batch of 2 images x 2 samples


@pytest.mark.parametrize("name", NAMES)
def test_infidelity_and_sensitivity_max(name: str) -> None:
    model = _model()
    x = _inputs()
    method = _nas(name, model)
    kwargs = dict(SPECS[name][3])
    attr = method.attribute(x, target=1, **kwargs)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = torch.randn_like(inputs) * 0.05
        return noise, inputs - noise

    _seed(4)
    infid = infidelity(model, perturb, x, attr, target=1, n_perturb_samples=2)
    assert infid.shape == (2,) and torch.isfinite(infid).all()
    seg = method.segment(x)
    sens = sensitivity_max(
        method.attribute, x, target=1, n_perturb_samples=2, segments=seg, **kwargs
    )
    assert sens.shape == (2,) and torch.isfinite(sens).all() and (sens >= 0).all()


def _to_hwc(attr: Tensor) -> Any:
    return attr.detach().permute(1, 2, 0).cpu().numpy()


@pytest.mark.parametrize("name", ["ig", "gradcam", "lrp"])
def test_visualize_image_attr(name: str) -> None:
    model = _model()
    x = _inputs()
    attr = _nas(name, model).attribute(x, target=1, **SPECS[name][3])
    image = (x[0] - x[0].min()) / (x[0].max() - x[0].min())
    fig, _ = viz.visualize_image_attr(
        _to_hwc(attr[0]),
        _to_hwc(image),
        method="blended_heat_map",
        sign="all",
        use_pyplot=False,
    )
    assert fig is not None


@pytest.mark.parametrize("name", ["saliency", "ig", "gradcam", "deeplift", "occlusion"])
def test_targets_int_list_tensor_agree(name: str) -> None:
    model = _model()
    x = _inputs(3)
    method = _nas(name, model)
    kwargs = SPECS[name][3]
    by_list = method.attribute(x, target=[0, 2, 4], **kwargs)
    by_tensor = method.attribute(x, target=torch.tensor([0, 2, 4]), **kwargs)
    torch.testing.assert_close(by_list, by_tensor)
    for i, t in enumerate([0, 2, 4]):
        single = method.attribute(x[i : i + 1], target=t, **kwargs)
        torch.testing.assert_close(by_list[i : i + 1], single, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_additional_forward_args_and_batches(name: str) -> None:
    model = _model(ArgCNN)
    for n in (1, 8):
        _seed(5)
        x = torch.randn(n, 3, H, W)
        kwargs = dict(SPECS[name][3])
        method = _nas(name, model)
        _seed(6)
        scaled = method.attribute(x, target=1, additional_forward_args=(2.0,), **kwargs)
        _seed(6)
        plain = method.attribute(x, target=1, additional_forward_args=(1.0,), **kwargs)
        assert scaled.shape == x.shape
        if name not in ("lrp", "guidedbackprop", "deconvolution", "guidedgradcam", "gradcam"):
            # attributions linear in the output scale (the others normalise or rectify)
            torch.testing.assert_close(scaled, 2 * plain, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_model_state_restored_after_success_train_mode_and_exception(name: str) -> None:
    model = _model(ArgCNN)
    model.train()
    model.stem[0].bias.requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    method = _nas(name, model)
    x = _inputs()
    kwargs = SPECS[name][3]
    out = method.attribute(x, target=1, **kwargs)
    assert out.shape == x.shape
    assert model.training and all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert hook_count(model) == 0
    with pytest.raises(RuntimeError, match="boom"):
        method.attribute(x, target=1, additional_forward_args=("boom",), **kwargs)
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert hook_count(model) == 0


def test_gradcam_relu_option_and_layer_by_name() -> None:
    model = _model()
    x = _inputs()
    seg = PIXEL_IDS
    relu = NASGradCam(model, "layer1", segmenter=GridSegmenter(4), pooling="custom").attribute(
        x, 1, segments=seg
    )
    raw = NASGradCam(
        model, model.layer1, relu_attributions=False, segmenter=GridSegmenter(4), pooling="custom"
    )
    plain = raw.attribute(x, 1, segments=seg)
    base = LayerGradCam(model, model.layer1).attribute(x, 1)
    torch.testing.assert_close(
        plain, LayerAttribution.interpolate(base, (H, W), "bilinear").expand_as(x)
    )
    torch.testing.assert_close(
        relu,
        LayerAttribution.interpolate(base.clamp_min(0), (H, W), "bilinear").expand_as(x),
    )
    with pytest.raises(TypeError, match="relu_attributions"):
        NASGradCam(model, "layer1", relu_attributions="yes")
    with pytest.raises(ValueError, match="layer"):
        NASGradCam(model, "layer9")


def test_default_nas_segmenter() -> None:
    model = _model()
    _seed(7)
    x = torch.randn(2, 3, 32, 32)
    method = NASIntegratedGradients(model, n_segments=4, nas_options={"seed": 1})
    out, seg = method.attribute(x, target=0, n_steps=8, return_segments=True)
    assert seg.shape == (2, 1, 32, 32) and int(seg.max()) < 8
    base = IntegratedGradients(model).attribute(x, target=0, n_steps=8)
    torch.testing.assert_close(out, pool_segments(base, seg).map)
    assert hook_count(model) == 0 and not model.training


def test_plain_function_requires_segmenter() -> None:
    model = _model()

    def forward(x: Tensor) -> Tensor:
        return model(x)

    with pytest.raises(TypeError, match="segmenter"):
        NASSaliency(forward)
    out = NASSaliency(forward, segmenter=GridSegmenter(4)).attribute(_inputs(), target=0)
    assert out.shape == (2, 3, H, W)


class _ConvNet(nn.Module):
    """Patches (stride 3) -> 1x1 conv `mix` -> ReLU -> mean -> linear."""

    def __init__(self) -> None:
        super().__init__()
        _seed(0)
        self.patch = nn.Conv2d(3, 8, 3, 3)
        self.mix = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.relu(self.mix(self.patch(x))).mean((2, 3)))


class _TokenNet(nn.Module):
    """The same network on tokens, ViT-style: a class token, then (N, 1 + h*w, D)."""

    def __init__(self, conv: _ConvNet) -> None:
        super().__init__()
        self.patch = conv.patch
        self.mix = nn.Linear(8, 8)
        with torch.no_grad():
            self.mix.weight.copy_(conv.mix.weight[:, :, 0, 0])
            self.mix.bias.copy_(conv.mix.bias)
        self.fc = conv.fc

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([tokens.new_zeros(x.shape[0], 1, 8), tokens], 1)
        return self.fc(torch.relu(self.mix(tokens))[:, 1:].mean(1))


def _tokens_to_grid(t: Tensor) -> Tensor:
    return t[:, 1:].reshape(t.shape[0], 4, 4, -1).permute(0, 3, 1, 2)


def test_gradcam_reshape_transform_on_tokens_equals_gradcam_on_the_grid() -> None:
    conv = _ConvNet().eval()
    vit = _TokenNet(conv).eval()
    x = _inputs()
    torch.testing.assert_close(vit(x), conv(x))
    grid = LayerGradCam(conv, conv.mix).attribute(x, 1, relu_attributions=True)
    options: dict[str, Any] = {"segmenter": GridSegmenter(4), "pooling": "custom"}
    ours = NASGradCam(vit, vit.mix, reshape_transform=_tokens_to_grid, **options)
    out = ours.attribute(x, 1, segments=PIXEL_IDS)
    expected = LayerAttribution.interpolate(grid, (H, W), "bilinear").expand_as(x)
    torch.testing.assert_close(out, expected)
    pooled = NASGradCam(vit, "mix", reshape_transform=_tokens_to_grid, segmenter=GridSegmenter(4))
    same = NASGradCam(conv, "mix", segmenter=GridSegmenter(4))
    torch.testing.assert_close(pooled.attribute(x, 2), same.attribute(x, 2))
    assert hook_count(vit) == 0
    with pytest.raises(ValueError, match="reshape_transform"):
        NASGradCam(
            vit, vit.mix, reshape_transform=lambda t: t, segmenter=GridSegmenter(4)
        ).attribute(x, 1)
    with pytest.raises(TypeError, match="reshape_transform"):
        NASGradCam(vit, vit.mix, reshape_transform=3, segmenter=GridSegmenter(4))  # type: ignore[arg-type]
    # without it, a token layer gives a clear error rather than a wrong map
    with pytest.raises(ValueError, match="4-D map"):
        NASGradCam(vit, vit.mix, segmenter=GridSegmenter(4)).attribute(x, 1)
