"""NAS* classes: Captum's pixel and layer attributions pooled over (NAS) superpixels.

Every class takes the Captum class's own constructor arguments (positional or by
keyword), plus keyword-only options of :class:`SuperpixelAttribution`:
``segmenter`` (default: ``NASSegmenter`` on the same model, built on first use),
``n_segments`` and ``nas_options`` for that default, ``pooling`` and
``interpolate_mode`` (and, with ``pooling="custom"``, ``reduce`` and ``channel_reduce``).

What they return by default (``pooling="magnitude"``): a map of the inputs' shape in
which every pixel holds its segment's **mean magnitude**, the mean over the segment of
``|sum over channels of the Captum attribution|`` (>= 0, the map that localises).
``pooling="contribution"`` returns signed region contributions instead: segment scores
that are sums of the signed attribution and add up to the unpooled total.
``attribute`` takes Captum's arguments plus ``feature_mask`` (alias ``segments``),
``return_segments`` and ``return_result`` (see :meth:`SuperpixelAttribution.attribute`).

Example:
    >>> ig = NASIntegratedGradients(model, n_segments=32)
    >>> attr = ig.attribute(images, target=labels, n_steps=50)   # shape of images
    >>> cam = NASGradCam(model, model.layer4, segmenter=GridSegmenter(49))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from captum.attr import (
    LRP,
    Attribution,
    Deconvolution,
    DeepLift,
    DeepLiftShap,
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from torch import nn

from captum_nas._model_state import resolve_layer
from captum_nas.attr.superpixel import SegmenterFn, SuperpixelAttribution


class CaptumSuperpixelMethod(SuperpixelAttribution):
    """Base of the NAS* classes: builds ``captum_class(*args, **kwargs)`` and wraps it.

    Subclasses only set :attr:`captum_class`.
    """

    captum_class: ClassVar[type[Attribution]]

    def __init__(
        self,
        *args: Any,
        segmenter: SegmenterFn | None = None,
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
        pooling: str = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        **kwargs: Any,
    ) -> None:
        if self._segments_as_feature_mask:
            given = {"pooling": pooling != "magnitude", "reduce": reduce is not None}
            given["channel_reduce"] = channel_reduce is not None
            for name, value in given.items():
                if value:
                    raise TypeError(
                        f"`{name}`: {type(self).__name__} returns one signed value per "
                        "segment (the segments are its feature mask) and pools nothing; "
                        "it takes no pooling options"
                    )
        base = self.captum_class(*args, **kwargs)
        super().__init__(
            base,
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )
        if self._segments_as_feature_mask:
            self.pooling = None


def _layer(model: Any, layer: Any) -> nn.Module:
    if isinstance(layer, str):
        if not isinstance(model, nn.Module):
            raise TypeError("`layer` can be a dotted name only when the model is an nn.Module")
        return resolve_layer(model, layer, "layer")
    if not isinstance(layer, nn.Module):
        raise TypeError(f"`layer` must be an nn.Module or a dotted name, got {type(layer)}")
    return layer


class NASIntegratedGradients(CaptumSuperpixelMethod):
    """``captum.attr.IntegratedGradients`` pooled over superpixels (delta passes through;
    mean pooling keeps completeness, so the delta stays valid)."""

    captum_class = IntegratedGradients


class NASSaliency(CaptumSuperpixelMethod):
    """``captum.attr.Saliency`` pooled over superpixels: the gradient-weighted
    superpixels of Hartley et al. (2019)."""

    captum_class = Saliency


class NASInputXGradient(CaptumSuperpixelMethod):
    """``captum.attr.InputXGradient`` pooled over superpixels."""

    captum_class = InputXGradient


class NASDeepLift(CaptumSuperpixelMethod):
    """``captum.attr.DeepLift`` pooled over superpixels."""

    captum_class = DeepLift


class NASDeepLiftShap(CaptumSuperpixelMethod):
    """``captum.attr.DeepLiftShap`` pooled over superpixels (``baselines`` required)."""

    captum_class = DeepLiftShap


class NASGradientShap(CaptumSuperpixelMethod):
    """``captum.attr.GradientShap`` pooled over superpixels (``baselines`` required)."""

    captum_class = GradientShap


class NASGuidedBackprop(CaptumSuperpixelMethod):
    """``captum.attr.GuidedBackprop`` pooled over superpixels."""

    captum_class = GuidedBackprop


class NASDeconvolution(CaptumSuperpixelMethod):
    """``captum.attr.Deconvolution`` pooled over superpixels."""

    captum_class = Deconvolution


class NASLRP(CaptumSuperpixelMethod):
    """``captum.attr.LRP`` pooled over superpixels."""

    captum_class = LRP


class NASOcclusion(CaptumSuperpixelMethod):
    """``captum.attr.Occlusion`` pooled over superpixels (``sliding_window_shapes``
    required in ``attribute``, as in Captum)."""

    captum_class = Occlusion


class NASGradCam(CaptumSuperpixelMethod):
    """``captum.attr.LayerGradCam`` upsampled to the inputs and pooled over superpixels.

    Args:
        forward_func: the model.
        layer: the layer (module, or dotted name when the model is an ``nn.Module``).
        device_ids: as in Captum.
        relu_attributions: apply the ReLU of the GradCAM paper (default ``True``;
            Captum's own default is ``False``); ``attribute(relu_attributions=...)``
            overrides it per call.
        **options: keyword-only options of :class:`SuperpixelAttribution`
            (``segmenter``, ``n_segments``, ``nas_options``, ``reduce``, ...).
    """

    captum_class = LayerGradCam

    def __init__(
        self,
        forward_func: Any,
        layer: nn.Module | str,
        device_ids: list[int] | None = None,
        *,
        relu_attributions: bool = True,
        **options: Any,
    ) -> None:
        if not isinstance(relu_attributions, bool):
            raise TypeError(f"`relu_attributions` must be a bool, got {relu_attributions!r}")
        super().__init__(forward_func, _layer(forward_func, layer), device_ids, **options)
        self.default_kwargs["relu_attributions"] = relu_attributions


class NASGuidedGradCam(CaptumSuperpixelMethod):
    """``captum.attr.GuidedGradCam`` pooled over superpixels.

    Args:
        model: the model.
        layer: the layer (module or dotted name).
        device_ids: as in Captum.
        **options: keyword-only options of :class:`SuperpixelAttribution`.
    """

    captum_class = GuidedGradCam

    def __init__(
        self,
        model: nn.Module,
        layer: nn.Module | str,
        device_ids: list[int] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, _layer(model, layer), device_ids, **options)
