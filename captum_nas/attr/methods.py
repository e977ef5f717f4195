"""NAS* classes: Captum's pixel and layer attributions pooled over (NAS) superpixels.

Every class is a drop-in for the Captum class it wraps: the constructor takes that
class's own arguments (same names, order and defaults), then keyword-only options of
:class:`SuperpixelAttribution`: ``segmenter`` (default: ``NASSegmenter`` on the same
model, built on first use), ``n_segments`` and ``nas_options`` for that default,
``pooling`` and ``interpolate_mode`` (and, with ``pooling="custom"``, ``reduce`` and
``channel_reduce``). ``attribute`` takes the Captum method's own parameters in
Captum's positional order, then keyword-only ``feature_mask`` (precomputed segments;
alias ``segments``), ``return_segments`` and ``return_result``.

What they return by default (``pooling="magnitude"``): a map of the inputs' shape in
which every pixel holds its segment's **mean magnitude**, the mean over the segment of
``|sum over channels of the Captum attribution|`` (>= 0, the map that localises).
``pooling="contribution"`` returns signed region contributions instead: segment scores
that are sums of the signed attribution and add up to the unpooled total.

Example:
    >>> ig = NASIntegratedGradients(model, n_segments=32)
    >>> attr = ig.attribute(images, baselines, 3, n_steps=50)   # Captum's own call
    >>> res = ig.attribute(images, target=3, return_result=True)
    >>> cam = NASGradCam(model, model.layer4, segmenter=GridSegmenter(49))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, TypeVar, Union, overload

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
from captum_nas.attr.result import AttributionResult
from captum_nas.attr.superpixel import PoolingMode, SegmenterFn, SuperpixelAttribution

_In = TypeVar("_In", Tensor, tuple[Tensor, ...])
#: what ``attribute`` returns: the map (a 1-tuple for tuple inputs), with the delta
#: and/or the segments, or an :class:`AttributionResult`
_Out = Union[_In, tuple[_In, Tensor], tuple[_In, Tensor, Tensor], AttributionResult]  # noqa: UP007


class CaptumSuperpixelMethod(SuperpixelAttribution):
    """Base of the NAS* classes: a Captum attribution (of :attr:`captum_class`) pooled
    over superpixels. Subclasses give the Captum class's own signatures."""

    captum_class: ClassVar[type[Attribution]]


def _layer(model: Any, layer: Any) -> nn.Module:
    if isinstance(layer, str):
        if not isinstance(model, nn.Module):
            raise TypeError("`layer` can be a dotted name only when the model is an nn.Module")
        return resolve_layer(model, layer, "layer")
    if not isinstance(layer, nn.Module):
        raise TypeError(f"`layer` must be an nn.Module or a dotted name, got {type(layer)}")
    return layer


class NASIntegratedGradients(CaptumSuperpixelMethod):
    """``captum.attr.IntegratedGradients`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed integrated gradients (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total (the output difference to the baseline), and a convergence
    delta that is Captum's.

    Args:
        forward_func, multiply_by_inputs: as in ``captum.attr.IntegratedGradients``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = IntegratedGradients

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        multiply_by_inputs: bool = True,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            IntegratedGradients(forward_func, multiply_by_inputs),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: Literal[False] = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        *,
        return_convergence_delta: Literal[True],
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> tuple[_In, Tensor]: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``IntegratedGradients.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, target, additional_forward_args, n_steps, method, internal_batch_size,
                return_convergence_delta::
                as in ``captum.attr.IntegratedGradients.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_convergence_delta`` also the delta of that map;
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
                "baselines": baselines,
                "n_steps": n_steps,
                "method": method,
                "internal_batch_size": internal_batch_size,
            },
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=return_convergence_delta,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASSaliency(CaptumSuperpixelMethod):
    """``captum.attr.Saliency`` pooled over superpixels: the gradient-weighted
    superpixels of Hartley et al. (2019).

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed saliency (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        forward_func: as in ``captum.attr.Saliency``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = Saliency

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            Saliency(forward_func),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        abs: bool = True,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        abs: bool = True,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        abs: bool = True,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        abs: bool = True,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``Saliency.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            target, abs, additional_forward_args::
                as in ``captum.attr.Saliency.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {"abs": abs},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASInputXGradient(CaptumSuperpixelMethod):
    """``captum.attr.InputXGradient`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed input x gradient (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        forward_func: as in ``captum.attr.InputXGradient``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = InputXGradient

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            InputXGradient(forward_func),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``InputXGradient.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            target, additional_forward_args::
                as in ``captum.attr.InputXGradient.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASDeepLift(CaptumSuperpixelMethod):
    """``captum.attr.DeepLift`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed DeepLift attribution (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        model, multiply_by_inputs, eps: as in ``captum.attr.DeepLift``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = DeepLift

    def __init__(
        self,
        model: nn.Module,
        multiply_by_inputs: bool = True,
        eps: float = 1e-10,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            DeepLift(model, multiply_by_inputs, eps),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        return_convergence_delta: Literal[True],
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> tuple[_In, Tensor]: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``DeepLift.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, target, additional_forward_args, return_convergence_delta,
                custom_attribution_func::
                as in ``captum.attr.DeepLift.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_convergence_delta`` also the delta of that map;
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {"baselines": baselines, "custom_attribution_func": custom_attribution_func},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=return_convergence_delta,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASDeepLiftShap(CaptumSuperpixelMethod):
    """``captum.attr.DeepLiftShap`` pooled over superpixels (``baselines`` required).

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed DeepLiftShap attribution (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        model, multiply_by_inputs: as in ``captum.attr.DeepLiftShap``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = DeepLiftShap

    def __init__(
        self,
        model: nn.Module,
        multiply_by_inputs: bool = True,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            DeepLiftShap(model, multiply_by_inputs),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        return_convergence_delta: Literal[True],
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> tuple[_In, Tensor]: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        custom_attribution_func: Callable[..., tuple[Tensor, ...]] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``DeepLiftShap.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, target, additional_forward_args, return_convergence_delta,
                custom_attribution_func::
                as in ``captum.attr.DeepLiftShap.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_convergence_delta`` also the delta of that map;
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {"baselines": baselines, "custom_attribution_func": custom_attribution_func},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=return_convergence_delta,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASGradientShap(CaptumSuperpixelMethod):
    """``captum.attr.GradientShap`` pooled over superpixels (``baselines`` required).

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed GradientShap attribution (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        forward_func, multiply_by_inputs: as in ``captum.attr.GradientShap``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = GradientShap

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        multiply_by_inputs: bool = True,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            GradientShap(forward_func, multiply_by_inputs),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        n_samples: int = 5,
        stdevs: float | tuple[float, ...] = 0.0,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        n_samples: int = 5,
        stdevs: float | tuple[float, ...] = 0.0,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        return_convergence_delta: Literal[True],
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> tuple[_In, Tensor]: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        n_samples: int = 5,
        stdevs: float | tuple[float, ...] = 0.0,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        n_samples: int = 5,
        stdevs: float | tuple[float, ...] = 0.0,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        baselines: Tensor | tuple[Tensor, ...] | Callable[..., Any],
        n_samples: int = 5,
        stdevs: float | tuple[float, ...] = 0.0,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``GradientShap.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, n_samples, stdevs, target, additional_forward_args,
                return_convergence_delta::
                as in ``captum.attr.GradientShap.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_convergence_delta`` also the delta of that map;
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {"baselines": baselines, "n_samples": n_samples, "stdevs": stdevs},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=return_convergence_delta,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASGuidedBackprop(CaptumSuperpixelMethod):
    """``captum.attr.GuidedBackprop`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed guided backpropagation (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        model: as in ``captum.attr.GuidedBackprop``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = GuidedBackprop

    def __init__(
        self,
        model: nn.Module,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            GuidedBackprop(model),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``GuidedBackprop.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            target, additional_forward_args::
                as in ``captum.attr.GuidedBackprop.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASDeconvolution(CaptumSuperpixelMethod):
    """``captum.attr.Deconvolution`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed deconvolution map (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        model: as in ``captum.attr.Deconvolution``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = Deconvolution

    def __init__(
        self,
        model: nn.Module,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            Deconvolution(model),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``Deconvolution.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            target, additional_forward_args::
                as in ``captum.attr.Deconvolution.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASLRP(CaptumSuperpixelMethod):
    """``captum.attr.LRP`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed relevance (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        model: as in ``captum.attr.LRP``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = LRP

    def __init__(
        self,
        model: nn.Module,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            LRP(model),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
        verbose: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        return_convergence_delta: Literal[True],
        verbose: bool = False,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> tuple[_In, Tensor]: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        verbose: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        verbose: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        verbose: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``LRP.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            target, additional_forward_args, return_convergence_delta, verbose::
                as in ``captum.attr.LRP.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_convergence_delta`` also the delta of that map;
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {"verbose": verbose},
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=return_convergence_delta,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASOcclusion(CaptumSuperpixelMethod):
    """``captum.attr.Occlusion`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed occlusion map (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        forward_func: as in ``captum.attr.Occlusion``.
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = Occlusion

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            Occlusion(forward_func),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
        strides: int | tuple[int, ...] | tuple[int | tuple[int, ...], ...] | None = None,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
        strides: int | tuple[int, ...] | tuple[int | tuple[int, ...], ...] | None = None,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
        strides: int | tuple[int, ...] | tuple[int | tuple[int, ...], ...] | None = None,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        sliding_window_shapes: tuple[int, ...] | tuple[tuple[int, ...], ...],
        strides: int | tuple[int, ...] | tuple[int | tuple[int, ...], ...] | None = None,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``Occlusion.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            sliding_window_shapes, strides, baselines, target, additional_forward_args,
                perturbations_per_eval, show_progress::
                as in ``captum.attr.Occlusion.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
                "sliding_window_shapes": sliding_window_shapes,
                "strides": strides,
                "baselines": baselines,
                "perturbations_per_eval": perturbations_per_eval,
                "show_progress": show_progress,
            },
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASGradCam(CaptumSuperpixelMethod):
    """``captum.attr.LayerGradCam`` upsampled to the inputs and pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed GradCAM map (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        forward_func, layer, device_ids: as in ``captum.attr.LayerGradCam`` (``layer``
            may be a dotted name of a submodule).
        relu_attributions: default of ``attribute(relu_attributions=None)``: apply the
        ReLU of the GradCAM paper (``True``; Captum's own default is ``False``).
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = LayerGradCam

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        layer: nn.Module | str,
        device_ids: list[int] | None = None,
        *,
        relu_attributions: bool = True,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(relu_attributions, bool):
            raise TypeError(f"`relu_attributions` must be a bool, got {relu_attributions!r}")
        super().__init__(
            LayerGradCam(forward_func, _layer(forward_func, layer), device_ids),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )
        self.default_kwargs["relu_attributions"] = relu_attributions

    def _relu(self, relu_attributions: bool | None) -> bool:
        """The per-call ``relu_attributions``, or the constructor's default."""
        if relu_attributions is None:
            return bool(self.default_kwargs["relu_attributions"])
        return relu_attributions

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool | None = None,
        attr_dim_summation: bool = True,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool | None = None,
        attr_dim_summation: bool = True,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool | None = None,
        attr_dim_summation: bool = True,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool | None = None,
        attr_dim_summation: bool = True,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``LayerGradCam.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            target, additional_forward_args, attribute_to_layer_input, relu_attributions,
                attr_dim_summation, grad_kwargs::
                as in ``captum.attr.LayerGradCam.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
                "attribute_to_layer_input": attribute_to_layer_input,
                "relu_attributions": self._relu(relu_attributions),
                "attr_dim_summation": attr_dim_summation,
                "grad_kwargs": grad_kwargs,
            },
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASGuidedGradCam(CaptumSuperpixelMethod):
    """``captum.attr.GuidedGradCam`` pooled over superpixels.

    By default (``pooling="magnitude"``) every pixel holds its segment's mean
    magnitude of the channel-summed guided GradCAM map (>= 0, the map that localises);
    ``pooling="contribution"`` gives signed region contributions that add up to
    the unpooled total.

    Args:
        model, layer, device_ids: as in ``captum.attr.GuidedGradCam`` (``layer`` may be
            a dotted name of a submodule).
        segmenter, pooling, reduce, channel_reduce, interpolate_mode, n_segments,
        nas_options: as in :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = GuidedGradCam

    def __init__(
        self,
        model: nn.Module,
        layer: nn.Module | str,
        device_ids: list[int] | None = None,
        *,
        segmenter: SegmenterFn | None = None,
        pooling: PoolingMode = "magnitude",
        reduce: str | None = None,
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            GuidedGradCam(model, _layer(model, layer), device_ids),
            segmenter,
            pooling=pooling,
            reduce=reduce,
            channel_reduce=channel_reduce,
            interpolate_mode=interpolate_mode,
            n_segments=n_segments,
            nas_options=nas_options,
        )

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        interpolate_mode: str = "nearest",
        attribute_to_layer_input: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: Literal[False] = False,
        return_result: Literal[False] = False,
    ) -> _In: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        interpolate_mode: str = "nearest",
        attribute_to_layer_input: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: Literal[True],
    ) -> AttributionResult: ...

    @overload
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        interpolate_mode: str = "nearest",
        attribute_to_layer_input: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]: ...

    @log_usage()
    def attribute(
        self,
        inputs: _In,
        target: TargetType = None,
        additional_forward_args: Any = None,
        interpolate_mode: str = "nearest",
        attribute_to_layer_input: bool = False,
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``GuidedGradCam.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            target, additional_forward_args, interpolate_mode, attribute_to_layer_input::
                as in ``captum.attr.GuidedGradCam.attribute``, in the same order.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W) or
                (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
                ``feature_mask`` the Captum way); default: segment the inputs.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The pooled map (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
                "interpolate_mode": interpolate_mode,
                "attribute_to_layer_input": attribute_to_layer_input,
            },
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )
