"""One forward for the attribution and NAS: equal segments, one forward fewer, no leaks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import NoiseTunnel
from torch import nn

import captum_nas.attr as na
from captum_nas.attr.shared_forward import CleanForwardCapture, matching_block
from captum_nas.segmentation import NASSegmenter
from tests.conftest import TinyCNN, hook_count

_OPTS: dict[str, Any] = {"n_segments": 6}

#: name -> (build wrapper, attribute kwargs, whether the method forwards the clean inputs)
CASES: dict[str, tuple[Callable[[nn.Module], Any], dict[str, Any], bool]] = {
    "saliency": (lambda m: na.NASSaliency(m, **_OPTS), {}, True),
    "input_x_gradient": (lambda m: na.NASInputXGradient(m, **_OPTS), {}, True),
    "guided_backprop": (lambda m: na.NASGuidedBackprop(m, **_OPTS), {}, True),
    "deconvolution": (lambda m: na.NASDeconvolution(m, **_OPTS), {}, True),
    "lrp": (lambda m: na.NASLRP(m, **_OPTS), {}, True),
    "gradcam": (lambda m: na.NASGradCam(m, m.layer2, **_OPTS), {}, True),
    "guided_gradcam": (lambda m: na.NASGuidedGradCam(m, m.layer2, **_OPTS), {}, True),
    "deeplift": (lambda m: na.NASDeepLift(m, **_OPTS), {}, True),
    "occlusion": (
        lambda m: na.NASOcclusion(m, **_OPTS),
        {"sliding_window_shapes": (3, 8, 8), "strides": 8},
        True,
    ),
    "ig_riemann_right": (
        lambda m: na.NASIntegratedGradients(m, **_OPTS),
        {"n_steps": 4, "method": "riemann_right"},
        True,
    ),
    "ig_gausslegendre": (lambda m: na.NASIntegratedGradients(m, **_OPTS), {"n_steps": 4}, False),
    "gradient_shap": (
        lambda m: na.NASGradientShap(m, **_OPTS),
        {"baselines": torch.zeros(2, 3, 32, 32), "n_samples": 2},
        False,
    ),
}


def _count_forwards(model: nn.Module) -> tuple[list[int], Any]:
    calls = [0]

    def hook(*_: Any) -> None:
        calls[0] += 1

    return calls, model.register_forward_hook(hook)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name", list(CASES))
def test_shared_forward_gives_the_separate_calls_segments_and_map(
    name: str, images: torch.Tensor
) -> None:
    build, kwargs, clean = CASES[name]
    torch.manual_seed(0)
    model = TinyCNN().eval()
    shared, separate = build(model), build(model)
    separate.share_forward = False
    for wrapper in (shared, separate):  # NAS's one-off layer probe, outside the count
        wrapper.segmenter.layers_for(images)
    hooks = hook_count(model)
    calls, handle = _count_forwards(model)
    torch.manual_seed(1)
    np.random.seed(1)  # GradientShap draws its alphas from numpy
    out_shared, seg_shared = shared.attribute(images, target=1, return_segments=True, **kwargs)
    n_shared, calls[0] = calls[0], 0
    torch.manual_seed(1)
    np.random.seed(1)
    out_sep, seg_sep = separate.attribute(images, target=1, return_segments=True, **kwargs)
    n_sep = calls[0]
    handle.remove()
    assert torch.equal(seg_shared, seg_sep)
    assert torch.equal(seg_shared, NASSegmenter(model, **_OPTS)(images))
    torch.testing.assert_close(out_shared, out_sep, rtol=0, atol=0)
    # the wrapper's NAS forward is gone exactly where the method runs the clean inputs
    assert n_sep - n_shared == (1 if clean else 0)
    assert hook_count(model) == hooks
    assert not model.training


def test_pretrained_architecture_resnet18_gradcam_and_saliency(images: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=5).eval()
    x = torch.nn.functional.interpolate(images, size=64)
    reference = NASSegmenter(model, n_segments=8)(x)
    for wrapper in (
        na.NASGradCam(model, model.layer4, n_segments=8),
        na.NASSaliency(model, n_segments=8),
    ):
        wrapper.segmenter.layers_for(x)
        calls, handle = _count_forwards(model)
        _, seg = wrapper.attribute(x, target=0, return_segments=True)
        handle.remove()
        assert torch.equal(seg, reference)
        assert calls[0] == 1  # the method's forward served NAS too


def test_noise_tunnel_segments_each_noisy_batch_as_before(images: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    shared, separate = na.NASSaliency(model, **_OPTS), na.NASSaliency(model, **_OPTS)
    separate.share_forward = False
    outs = []
    for wrapper in (shared, separate):
        torch.manual_seed(5)
        outs.append(NoiseTunnel(wrapper).attribute(images, target=0, nt_samples=3, stdevs=0.2))
    assert torch.equal(outs[0], outs[1])
    # with the clean image's segments given, no capture and the given segments are used
    seg = shared.segment(images)
    torch.manual_seed(5)
    nt = NoiseTunnel(shared).attribute(images, target=0, nt_samples=3, stdevs=0.2, feature_mask=seg)
    torch.manual_seed(5)
    ref = NoiseTunnel(separate).attribute(
        images, target=0, nt_samples=3, stdevs=0.2, feature_mask=seg
    )
    assert torch.equal(nt, ref)


def test_train_mode_model_keeps_the_separate_eval_forward(images: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = TinyCNN().train()
    reference = NASSegmenter(model, **_OPTS)(images)
    wrapper = na.NASSaliency(model, **_OPTS)
    wrapper.segmenter.layers_for(images)
    calls, handle = _count_forwards(model)
    _, seg = wrapper.attribute(images, target=0, return_segments=True)
    handle.remove()
    assert torch.equal(seg, reference)  # NAS segments in eval mode, as always
    assert calls[0] == 2
    assert model.training


def test_hooks_removed_when_the_method_raises(images: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    hooks = hook_count(model)
    with pytest.raises(ValueError, match="out of range"):
        na.NASSaliency(model, **_OPTS).attribute(images, target=7)
    assert hook_count(model) == hooks


def test_matching_block_finds_the_aligned_block_only() -> None:
    x = torch.arange(12.0).reshape(2, 6)
    other = torch.zeros(2, 6)
    assert matching_block(x, x) == 0
    assert matching_block(x.clone(), x) == 0
    assert matching_block(torch.cat([other, x]), x) == 1
    assert matching_block(torch.cat([other[:1], x, other[:1]]), x) is None  # misaligned
    assert matching_block(x.double(), x) is None
    assert matching_block(x[:, :5], x) is None
    assert matching_block("x", x) is None


def test_capture_keeps_the_first_matching_forward_only() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    x = torch.randn(2, 3, 8, 8)
    with CleanForwardCapture(net, [net[0]], x) as cap:
        net(torch.cat([torch.ones_like(x), x]))  # block 1 of a larger batch
        net(x * 2)
    assert cap.activations is not None
    assert torch.equal(cap.activations[0], net[0](x))
    assert cap.activations[0].shape[0] == 2
    assert hook_count(net) == 0


def test_segment_checks_precomputed_activations(images: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    nas = NASSegmenter(model, **_OPTS)
    modules = nas.layers_for(images)
    with CleanForwardCapture(model, modules, images) as cap:
        model(images)
    assert cap.activations is not None
    assert torch.equal(nas.segment(images, activations=cap.activations).segments, nas(images))
    with pytest.raises(ValueError, match="tensors for"):
        nas.segment(images, activations=cap.activations[:1])
    with pytest.raises(ValueError, match="N=2"):
        nas.segment(images, activations=[a[:1] for a in cap.activations])
    with pytest.raises(TypeError, match="sequence of tensors"):
        nas.segment(images, activations=cap.activations[0])
