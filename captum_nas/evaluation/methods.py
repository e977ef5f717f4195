"""Pixel attribution functions by name, for evaluation loops and the CLI.

Each function maps ``(inputs, target)`` to a non-negative (N, 1, H, W) map: the
attribution summed over channels, then its absolute value (GradCAM is already
non-negative after its ReLU and upsampled bilinearly to the input size).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum.attr import LRP as CaptumLRP
from captum.attr import (
    DeepLift,
    GradientShap,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from torch import Tensor, nn

from captum_nas._model_state import layer_name, resolve_layer

AttributionFn = Callable[[Tensor, Tensor], Tensor]

METHOD_NAMES = (
    "saliency",
    "ig",
    "gradcam",
    "lrp",
    "inputxgradient",
    "deeplift",
    "gradientshap",
    "guidedbackprop",
    "occlusion",
)


def default_gradcam_layer(model: nn.Module) -> str:
    """The last stage output found by ``auto_layers`` for 224x224 inputs (or 128x128)."""
    from captum_nas.segmentation import auto_layers

    for size in (224, 128):
        try:
            return auto_layers(model, (3, size, size))[-1]
        except (ValueError, RuntimeError):
            continue
    raise ValueError("cannot find a spatial layer for GradCAM; pass the layer name")


def _to_map(attr: Tensor) -> Tensor:
    return attr.detach().sum(1, keepdim=True).abs()


def attribution_fn(
    name: str,
    model: nn.Module,
    *,
    layer: str | nn.Module | None = None,
    n_steps: int = 32,
    internal_batch_size: int | None = None,
    seed: int = 0,
) -> AttributionFn:
    """A pixel attribution function for method ``name`` on ``model``.

    Args:
        name: one of :data:`METHOD_NAMES`.
        model: the classifier.
        layer: GradCAM's layer (default: the last stage output).
        n_steps: integration steps of IG (and samples of GradientShap).
        internal_batch_size: IG's internal batch size.
        seed: seed of GradientShap's noise.

    Returns:
        ``fn(inputs, target) -> (N, 1, H, W)`` non-negative map.

    Example:
        >>> fn = attribution_fn("ig", model, n_steps=16)
        >>> fn(x, torch.tensor([3])).shape
        torch.Size([1, 1, 224, 224])
    """
    if name not in METHOD_NAMES:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHOD_NAMES)}")
    if name == "saliency":
        sal = Saliency(model)
        return lambda x, t: _to_map(sal.attribute(x, target=t, abs=True))
    if name == "ig":
        ig = IntegratedGradients(model)
        return lambda x, t: _to_map(
            ig.attribute(x, target=t, n_steps=n_steps, internal_batch_size=internal_batch_size)
        )
    if name == "gradcam":
        module = resolve_layer(
            model, layer if layer is not None else default_gradcam_layer(model), "layer"
        )
        cam = LayerGradCam(model, module)

        def gradcam(x: Tensor, t: Tensor) -> Tensor:
            a = cam.attribute(x, target=t, relu_attributions=True)
            if a.dim() != 4:
                raise ValueError(
                    f"`layer` {layer_name(model, module)!r} gives a GradCAM map of shape "
                    f"{tuple(a.shape)}; GradCAM needs a layer with (N, C, h, w) output"
                )
            up = LayerAttribution.interpolate(a, tuple(x.shape[-2:]), interpolate_mode="bilinear")
            return up.detach().sum(1, keepdim=True).clamp_min(0)

        return gradcam
    simple: dict[str, Any] = {
        "lrp": CaptumLRP,
        "inputxgradient": InputXGradient,
        "deeplift": DeepLift,
        "guidedbackprop": GuidedBackprop,
    }
    if name in simple:
        method = simple[name](model)
        return lambda x, t: _to_map(method.attribute(x, target=t))
    if name == "gradientshap":
        gs = GradientShap(model)

        def gradientshap(x: Tensor, t: Tensor) -> Tensor:
            gen = torch.Generator(device="cpu").manual_seed(seed)
            baselines = torch.randn((4, *x.shape[1:]), generator=gen).to(x) * 0.1
            torch.manual_seed(seed)
            return _to_map(gs.attribute(x, baselines=baselines, target=t, n_samples=n_steps))

        return gradientshap
    occ = Occlusion(model)

    def occlusion(x: Tensor, t: Tensor) -> Tensor:
        side = max(1, min(x.shape[-2:]) // 14)
        window = (x.shape[1], side, side)
        return _to_map(
            occ.attribute(
                x, target=t, sliding_window_shapes=window, strides=(x.shape[1], side, side)
            )
        )

    return occlusion
