"""Pixel attribution functions by name, for evaluation loops, built through the registry.

Each function maps ``(inputs, target)`` to a non-negative (N, 1, H, W) map: the
method's map (layer maps upsampled bilinearly to the input size), summed over channels,
then its absolute value. The methods and their defaults come from
:mod:`captum_nas.attr.registry`; nothing here knows a method by name.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from torch import Tensor, nn

from captum_nas.attr.registry import (
    BuildContext,
    default_gradcam_layer,
    get_method,
    method_kwargs,
    method_names,
    seeded,
)

AttributionFn = Callable[[Tensor, Tensor], Tensor]

#: the registered methods that give pixel (or layer) maps, usable by :func:`attribution_fn`
METHOD_NAMES = tuple(n for n in method_names() if not get_method(n).segment_level)

__all__ = ["METHOD_NAMES", "AttributionFn", "attribution_fn", "default_gradcam_layer"]


def attribution_fn(
    name: str,
    model: nn.Module,
    *,
    layer: str | nn.Module | None = None,
    n_steps: int = 32,
    seed: int = 0,
    model_name: str | None = None,
) -> AttributionFn:
    """A pixel attribution function for the registered method ``name`` on ``model``.

    Args:
        name: a registered method (case-insensitive, aliases accepted) that gives a
            pixel or layer map (not a segment-level one).
        model: the classifier.
        layer: the layer of a layer method (module or dotted name; default: the
            method's default, e.g. GradCAM's last stage). An error for methods without
            a layer.
        n_steps: the method's steps knob (IG steps, GradientSHAP samples), if any.
        seed: seed of the method's sampling, fixed for every call.
        model_name: the model's name, for per-model defaults (GradCAM's layer).

    Returns:
        ``fn(inputs, target) -> (N, 1, H, W)`` non-negative map, detached.

    Raises:
        ValueError: unknown or segment-level method, a layer for a method without one,
            or a layer the model does not have.

    Example:
        >>> fn = attribution_fn("ig", model, n_steps=4)
        >>> fn(images, labels).shape
        torch.Size([2, 1, 32, 32])
    """
    from captum.attr import LayerAttribution

    from captum_nas._model_state import resolve_layer

    spec = get_method(name)
    if spec.segment_level:
        raise ValueError(
            f"method {spec.name!r} scores segments, not pixels; choose from "
            f"{', '.join(METHOD_NAMES)}"
        )
    if layer is not None and not spec.uses_layer:
        raise ValueError(f"`layer`: method {spec.name!r} has no layer, got {layer!r}")
    module = resolve_layer(model, layer, "layer") if layer is not None else None
    ctx = BuildContext(model_name=model_name, layer=module, options={"n_steps": n_steps}, seed=seed)
    attribution = spec.build(model, ctx)

    def fn(x: Tensor, t: Tensor) -> Tensor:
        with warnings.catch_warnings(), seeded(seed):
            warnings.filterwarnings("ignore", message=r".*did not already require gradients.*")
            warnings.filterwarnings("ignore", message=r".*Setting .*hooks.*")
            a = attribution.attribute(x, target=t, **method_kwargs(spec, x, ctx))
        if isinstance(a, tuple):
            a = a[0]
        if a.dim() != 4:
            raise ValueError(
                f"method {spec.name!r} gives a map of shape {tuple(a.shape)}; a map "
                "(N, C, h, w) is needed (pick a layer with spatial output)"
            )
        if a.shape[-2:] != x.shape[-2:]:
            a = LayerAttribution.interpolate(a, tuple(x.shape[-2:]), interpolate_mode="bilinear")
        return a.detach().sum(1, keepdim=True).abs()

    return fn
