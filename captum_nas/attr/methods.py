"""NAS* classes: Captum's pixel and layer attributions pooled over (NAS) superpixels.

Every class is a drop-in for the Captum class it wraps: the constructor takes that
class's own arguments (same names, order and defaults), then the keyword-only options
of :class:`SuperpixelAttribution` (:class:`~captum_nas.attr._signature.PoolingOptions`):
``segmenter`` (default: ``NASSegmenter`` on the same model, built on first use),
``n_segments`` and ``nas_options`` for that default, ``pooling`` and
``interpolate_mode`` (and, with ``pooling="custom"``, ``reduce`` and
``channel_reduce``). ``attribute`` takes the Captum method's own parameters in
Captum's positional order, then keyword-only ``feature_mask`` (precomputed segments;
alias ``segments``), ``return_segments`` and ``return_result``. Each signature is
written once, in the class (:mod:`captum_nas.attr._signature`).

What they return by default (``pooling="magnitude"``): a map of the inputs' shape in
which every pixel holds its segment's **mean magnitude**, the mean over the segment of
``|sum over channels of the Captum attribution|`` (>= 0, the map that localises).
``pooling="contribution"`` returns signed region contributions instead: segment scores
that are sums of the signed attribution and add up to the unpooled total (and, for the
methods that have one, a convergence delta that is Captum's).

Example:
    >>> ig = NASIntegratedGradients(model, n_segments=32)
    >>> attr = ig.attribute(images, baselines, 3, n_steps=50)   # Captum's own call
    >>> res = ig.attribute(images, target=3, return_result=True)
    >>> cam = NASGradCam(model, model.layer4, segmenter=GridSegmenter(49))
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from captum._utils.typing import BaselineType, TargetType
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
from captum.log import log_usage
from torch import Tensor, nn

from captum_nas._model_state import resolve_layer
from captum_nas.attr._signature import (
    AttributeOptions,
    PoolingOptions,
    attribute_doc,
    captum_attribute,
    class_doc,
    with_options,
)
from captum_nas.attr.superpixel import SuperpixelAttribution

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11


class CaptumSuperpixelMethod(SuperpixelAttribution):
    """Base of the NAS* classes: a Captum attribution (of :attr:`captum_class`) pooled
    over superpixels. Subclasses give the Captum class's own signatures; this base has
    the ``forward_func`` constructor that several Captum classes share."""

    captum_class: ClassVar[type[Attribution]]

    @with_options
    def __init__(
        self, forward_func: Callable[..., Tensor], **options: Unpack[PoolingOptions]
    ) -> None:
        super().__init__(self.captum_class(forward_func), **options)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Write out the docstrings of every class with a :attr:`captum_class`: its
        ``Args`` and its ``attribute``'s (with the Captum class's name)."""
        super().__init_subclass__(**kwargs)
        if "captum_class" not in cls.__dict__:
            return
        captum = cls.captum_class.__name__
        cls.__doc__ = class_doc(cls.__doc__, captum, inspect.signature(cls.__init__))
        method = cls.attribute
        sig = inspect.signature(method)

        @functools.wraps(method)
        def attribute(self: Any, *args: Any, **kwargs: Any) -> Any:
            return method(self, *args, **kwargs)

        attribute.__signature__ = sig  # type: ignore[attr-defined]
        attribute.__doc__ = attribute_doc(captum, sig, segment_level=cls._segments_as_feature_mask)
        cls.attribute = attribute  # type: ignore[method-assign]

    def _method_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """The Captum method's own keyword arguments from the bound call."""
        return values


class _TargetMethod(CaptumSuperpixelMethod):
    """A Captum class whose ``attribute`` takes ``(inputs, target,
    additional_forward_args)`` only."""

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class _ModelMethod(CaptumSuperpixelMethod):
    """A Captum class whose constructor takes ``model`` (an ``nn.Module``)."""

    @with_options
    def __init__(self, model: nn.Module, **options: Unpack[PoolingOptions]) -> None:
        super().__init__(model, **options)


class _MultiplierMethod(CaptumSuperpixelMethod):
    """A Captum class whose constructor takes ``(forward_func, multiply_by_inputs)``."""

    @with_options
    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        multiply_by_inputs: bool = True,
        **options: Unpack[PoolingOptions],
    ) -> None:
        attribution = cast(Any, self.captum_class)(forward_func, multiply_by_inputs)
        SuperpixelAttribution.__init__(self, attribution, **options)


def _layer(model: Any, layer: Any) -> nn.Module:
    if isinstance(layer, str):
        if not isinstance(model, nn.Module):
            raise TypeError("`layer` can be a dotted name only when the model is an nn.Module")
        return resolve_layer(model, layer, "layer")
    if not isinstance(layer, nn.Module):
        raise TypeError(f"`layer` must be an nn.Module or a dotted name, got {type(layer)}")
    return layer


class NASIntegratedGradients(_MultiplierMethod):
    """``captum.attr.IntegratedGradients`` pooled over superpixels.

    With ``pooling="contribution"`` the region contributions add up to the output
    difference to the baseline, and the convergence delta is Captum's.
    """

    captum_class = IntegratedGradients

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: Literal[False] = False,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class NASSaliency(CaptumSuperpixelMethod):
    """``captum.attr.Saliency`` pooled over superpixels: the gradient-weighted
    superpixels of Hartley et al. (2019).
    """

    captum_class = Saliency

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        abs: bool = True,
        additional_forward_args: Any = None,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class NASInputXGradient(_TargetMethod):
    """``captum.attr.InputXGradient`` pooled over superpixels."""

    captum_class = InputXGradient


class NASDeepLift(CaptumSuperpixelMethod):
    """``captum.attr.DeepLift`` pooled over superpixels."""

    captum_class = DeepLift

    @with_options
    def __init__(
        self,
        model: nn.Module,
        multiply_by_inputs: bool = True,
        eps: float = 1e-10,
        **options: Unpack[PoolingOptions],
    ) -> None:
        SuperpixelAttribution.__init__(self, DeepLift(model, multiply_by_inputs, eps), **options)

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class NASDeepLiftShap(CaptumSuperpixelMethod):
    """``captum.attr.DeepLiftShap`` pooled over superpixels (``baselines`` required)."""

    captum_class = DeepLiftShap

    @with_options
    def __init__(
        self, model: nn.Module, multiply_by_inputs: bool = True, **options: Unpack[PoolingOptions]
    ) -> None:
        SuperpixelAttribution.__init__(self, DeepLiftShap(model, multiply_by_inputs), **options)

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class NASGradientShap(_MultiplierMethod):
    """``captum.attr.GradientShap`` pooled over superpixels (``baselines`` required)."""

    captum_class = GradientShap

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        n_samples: int = 5,
        stdevs: float | tuple[float, ...] = 0.0,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class NASGuidedBackprop(_TargetMethod, _ModelMethod):
    """``captum.attr.GuidedBackprop`` pooled over superpixels."""

    captum_class = GuidedBackprop


class NASDeconvolution(_TargetMethod, _ModelMethod):
    """``captum.attr.Deconvolution`` pooled over superpixels."""

    captum_class = Deconvolution


class NASLRP(_ModelMethod):
    """``captum.attr.LRP`` pooled over superpixels."""

    captum_class = LRP

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        verbose: bool = False,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class NASOcclusion(CaptumSuperpixelMethod):
    """``captum.attr.Occlusion`` pooled over superpixels."""

    captum_class = Occlusion

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
        strides: int | tuple[int, ...] | tuple[int | tuple[int, ...], ...] | None = None,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class _ReshapedLayerGradCam(LayerGradCam):
    """``LayerGradCam`` on a layer whose output is not spatial (e.g. the (N, tokens, D)
    output of a ViT block): ``reshape_transform`` turns the layer's output and its
    gradient into (N, D, h, w) maps first, as pytorch-grad-cam's ``reshape_transform``
    does; the GradCAM arithmetic is then Captum's."""

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        layer: nn.Module,
        device_ids: list[int] | None,
        reshape_transform: Callable[[Tensor], Tensor],
    ) -> None:
        super().__init__(forward_func, layer, device_ids)
        self.reshape_transform = reshape_transform

    def _grid(self, value: Tensor, what: str) -> Tensor:
        grid = self.reshape_transform(value)
        if not isinstance(grid, Tensor) or grid.dim() != 4 or grid.shape[0] != value.shape[0]:
            raise ValueError(
                f"`reshape_transform` must turn the layer's {what} {tuple(value.shape)} into "
                f"an (N, C, h, w) tensor with N={value.shape[0]}, got "
                f"{tuple(grid.shape) if isinstance(grid, Tensor) else type(grid).__name__}"
            )
        return grid

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool = False,
        attr_dim_summation: bool = True,
        grad_kwargs: dict[str, Any] | None = None,
    ) -> Tensor:
        """Captum's ``LayerGradCam.attribute`` on the reshaped layer output."""
        from captum._utils.common import (
            _format_additional_forward_args,
            _format_tensor_into_tuples,
        )
        from captum._utils.gradient import compute_layer_gradients_and_eval

        grads, evals = compute_layer_gradients_and_eval(
            self.forward_func,
            self.layer,
            _format_tensor_into_tuples(inputs),
            target,
            _format_additional_forward_args(additional_forward_args),
            device_ids=self.device_ids,
            attribute_to_layer_input=attribute_to_layer_input,
            grad_kwargs=grad_kwargs,
        )
        grad = self._grid(grads[0], "gradient")
        act = self._grid(evals[0], "output")
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = weights * act
        cam = cam.sum(1, keepdim=True) if attr_dim_summation else cam
        return cam.clamp_min(0) if relu_attributions else cam


class NASGradCam(CaptumSuperpixelMethod):
    """``captum.attr.LayerGradCam`` upsampled to the inputs and pooled over superpixels.

    Args:
        forward_func, layer, device_ids: as in ``captum.attr.LayerGradCam`` (``layer``
            may be a dotted name of a submodule).
        relu_attributions: default of ``attribute(relu_attributions=None)``: apply the
            ReLU of the GradCAM paper (``True``; Captum's own default is ``False``).
        reshape_transform: for layers whose output is not an (N, C, h, w) map, e.g.
            the (N, 1 + h*w, D) tokens of a ViT block: a function turning that output
            (and its gradient) into (N, C, h, w), like pytorch-grad-cam's
            ``reshape_transform`` (e.g. drop the class token, reshape to (N, h, w, D),
            permute to (N, D, h, w)). ``None``: Captum's ``LayerGradCam`` as it is.

    Example:
        >>> def tokens_to_grid(t):                      # (N, 1 + 14 * 14, D) -> (N, D, 14, 14)
        ...     return t[:, 1:].reshape(t.shape[0], 14, 14, -1).permute(0, 3, 1, 2)
        >>> cam = NASGradCam(vit, vit.encoder.layers[-1].ln_1, reshape_transform=tokens_to_grid,
        ...                  segmenter=SLICSegmenter(32))
    """

    captum_class = LayerGradCam

    @with_options
    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        layer: nn.Module | str,
        device_ids: list[int] | None = None,
        *,
        relu_attributions: bool = True,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        **options: Unpack[PoolingOptions],
    ) -> None:
        if not isinstance(relu_attributions, bool):
            raise TypeError(f"`relu_attributions` must be a bool, got {relu_attributions!r}")
        if reshape_transform is not None and not callable(reshape_transform):
            raise TypeError(
                f"`reshape_transform` must be callable or None, got {type(reshape_transform)}"
            )
        module = _layer(forward_func, layer)
        base = (
            LayerGradCam(forward_func, module, device_ids)
            if reshape_transform is None
            else _ReshapedLayerGradCam(forward_func, module, device_ids, reshape_transform)
        )
        SuperpixelAttribution.__init__(self, base, **options)
        self.default_kwargs["relu_attributions"] = relu_attributions

    def _method_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """``relu_attributions=None``: the constructor's default."""
        if values["relu_attributions"] is None:
            values["relu_attributions"] = bool(self.default_kwargs["relu_attributions"])
        return values

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool | None = None,
        attr_dim_summation: bool = True,
        grad_kwargs: dict[str, Any] | None = None,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...


class NASGuidedGradCam(CaptumSuperpixelMethod):
    """``captum.attr.GuidedGradCam`` pooled over superpixels.

    Args:
        model, layer, device_ids: as in ``captum.attr.GuidedGradCam`` (``layer`` may be
            a dotted name of a submodule).
    """

    captum_class = GuidedGradCam

    @with_options
    def __init__(
        self,
        model: nn.Module,
        layer: nn.Module | str,
        device_ids: list[int] | None = None,
        **options: Unpack[PoolingOptions],
    ) -> None:
        module = _layer(model, layer)
        SuperpixelAttribution.__init__(self, GuidedGradCam(model, module, device_ids), **options)

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        interpolate_mode: str = "nearest",
        attribute_to_layer_input: bool = False,
        **options: Unpack[AttributeOptions],
    ) -> Any: ...
