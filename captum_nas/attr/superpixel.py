"""SuperpixelAttribution: any Captum attribution, pooled over segments."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import Attribution
from captum.log import log_usage
from torch import Tensor, nn

from captum_nas._model_state import preserved_model_state
from captum_nas._validation import (
    check_choice,
    check_image_batch,
    check_positive_int,
    check_segments,
    check_target,
    describe,
    explain_dtype_mismatch,
)
from captum_nas.pooling import REDUCTIONS, segment_pool

SegmenterFn = Callable[[Tensor], Tensor]
INTERPOLATE_MODES = ("bilinear", "nearest", "bicubic", "area")


def _model_of(forward_func: Any) -> nn.Module | None:
    return forward_func if isinstance(forward_func, nn.Module) else None


def _target_classes(target: Any, n: int) -> Tensor | None:
    """Class id per image of a Captum ``target`` (checked), or ``None`` when there is none
    or it indexes a multi-dimensional output (tuples), which only Captum can check."""
    if isinstance(target, tuple) or (
        isinstance(target, list) and any(isinstance(t, tuple) for t in target)
    ):
        return None
    return check_target(target, n)


@contextmanager
def _target_in_range(model: nn.Module | None, classes: Tensor | None) -> Iterator[None]:
    """Check on every forward of ``model`` that ``classes`` index its (B, n_classes) output."""
    if model is None or classes is None:
        yield
        return
    top = int(classes.max())

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, Tensor) and output.dim() == 2 and top >= output.shape[1]:
            raise ValueError(
                f"`target` {top} is out of range for the model's {output.shape[1]} outputs "
                f"(class ids 0..{output.shape[1] - 1})"
            )

    handle = model.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def expand_segments(segments: Tensor, inputs: Tensor, name: str = "segments") -> Tensor:
    """Check ``segments`` against ``inputs`` and expand them to the inputs' batch.

    A mask of batch 1 is shared by all images. A mask of batch M where the inputs have
    N = M * r images (``NoiseTunnel`` repeats every image r times with
    ``repeat_interleave``) is repeated the same way, so segments computed once on the
    clean images follow the noisy copies.

    Args:
        segments: integer ids (M, 1, H, W).
        inputs: the images (N, C, H, W).
        name: argument name for error messages.

    Returns:
        LongTensor (N, 1, H, W) on the inputs' device.
    """
    seg = check_segments(segments, name)
    n, _, h, w = inputs.shape
    if seg.shape[-2:] != (h, w):
        raise ValueError(
            f"`{name}` spatial size {tuple(seg.shape[-2:])} does not match the inputs' {(h, w)}"
        )
    m = seg.shape[0]
    if m != n and (m == 0 or n % m != 0):
        raise ValueError(
            f"`{name}` has batch size {m}, expected 1, {n} (the inputs' batch size) or a "
            f"divisor of {n} (NoiseTunnel's repeated batch)"
        )
    seg = seg.to(inputs.device)
    if m == 1:
        return seg.expand(n, 1, h, w).contiguous()
    if m != n:
        seg = seg.repeat_interleave(n // m, dim=0)
    return seg


class SuperpixelAttribution(Attribution):
    r"""Pool any Captum attribution over superpixels.

    Runs the wrapped attribution, brings layer maps ((N, 1, h, w) or (N, c, h, w))
    to the input size, segments the inputs, pools the map over every segment and
    returns a tensor of exactly the inputs' shape, where every pixel holds the pooled
    score of its segment. It is a Captum ``Attribution``: it composes with
    ``NoiseTunnel``, ``captum.metrics`` and ``captum.attr.visualization``.

    Segmentation runs on detached inputs without gradients, before the wrapped
    attribution, inside a block that restores the model's train/eval mode,
    ``requires_grad`` flags and hooks.

    Under ``NoiseTunnel`` the wrapped method sees noisy copies of the images. Without
    ``segments``, every noisy batch is segmented anew. To segment the clean images
    once, pass ``segments=wrapper.segment(inputs)`` to ``NoiseTunnel.attribute``: it
    forwards the keyword, and a mask of batch M for M * r noisy images is repeated
    like NoiseTunnel repeats the images.

    Args:
        attribution: a Captum attribution instance (gradient, layer or perturbation
            based), e.g. ``IntegratedGradients(model)`` or
            ``LayerGradCam(model, model.layer4)``.
        segmenter: callable ``(N, C, H, W) -> LongTensor (N, 1, H, W)``. ``None``
            builds ``NASSegmenter(model, n_segments=n_segments, **nas_options)``
            lazily on the wrapped attribution's model (which must then be an
            ``nn.Module``).
        reduce: pooling inside a segment (see :func:`captum_nas.pooling.segment_pool`);
            default ``"mean"``.
        channel_reduce: ``None`` pools every channel on its own (the map keeps the
            base method's channel structure, and mean pooling keeps completeness);
            ``"sum"``, ``"abs-sum"`` or ``"mean"`` reduce the channels first and
            repeat the score over the channels.
        interpolate_mode: how layer maps are brought to the input size.
        n_segments: segments per image of the default NAS segmenter.
        nas_options: further keyword arguments of the default ``NASSegmenter``.

    Example:
        >>> from captum.attr import IntegratedGradients
        >>> sp = SuperpixelAttribution(IntegratedGradients(model), GridSegmenter(16))
        >>> attr = sp.attribute(images, target=3)   # same shape as images
    """

    def __init__(
        self,
        attribution: Attribution,
        segmenter: SegmenterFn | None = None,
        *,
        reduce: str = "mean",
        channel_reduce: str | None = None,
        interpolate_mode: str = "bilinear",
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(attribution, Attribution):
            raise TypeError(
                "`attribution` must be a captum.attr.Attribution instance, got "
                f"{describe(attribution)}"
            )
        if segmenter is not None and not callable(segmenter):
            raise TypeError(f"`segmenter` must be callable or None, got {describe(segmenter)}")
        check_choice(reduce, "reduce", REDUCTIONS)
        if channel_reduce is not None:
            check_choice(channel_reduce, "channel_reduce", ("none", "sum", "abs-sum", "mean"))
        check_choice(interpolate_mode, "interpolate_mode", INTERPOLATE_MODES)
        check_positive_int(n_segments, "n_segments")
        if nas_options is not None and not isinstance(nas_options, Mapping):
            raise TypeError(f"`nas_options` must be a mapping or None, got {describe(nas_options)}")
        forward_func = attribution.forward_func
        if segmenter is None and _model_of(forward_func) is None:
            raise TypeError(
                "the default NAS segmenter needs the model as an nn.Module, but the "
                f"attribution's forward_func is {describe(forward_func)}; pass "
                "`segmenter=` (e.g. captum_nas.segmentation.GridSegmenter(32))"
            )
        super().__init__(forward_func)
        self.attribution = attribution
        self.reduce = reduce
        self.channel_reduce = channel_reduce
        self.interpolate_mode = interpolate_mode
        self.n_segments = n_segments
        self.nas_options = dict(nas_options or {})
        self._segmenter = segmenter
        #: keyword defaults merged under the caller's kwargs of :meth:`attribute`
        self.default_kwargs: dict[str, Any] = {}

    @property
    def segmenter(self) -> SegmenterFn:
        """The segmenter (the default NAS segmenter is built on first use)."""
        if self._segmenter is None:
            from captum_nas.segmentation.nas import NASSegmenter

            model = _model_of(self.forward_func)
            assert model is not None  # checked in __init__
            self._segmenter = NASSegmenter(model, n_segments=self.n_segments, **self.nas_options)
        return self._segmenter

    @property
    def multiplies_by_inputs(self) -> bool:
        """Whether the wrapped attribution multiplies by the inputs."""
        return bool(self.attribution.multiplies_by_inputs)

    def has_convergence_delta(self) -> bool:
        """Whether the wrapped attribution returns a convergence delta."""
        return self.attribution.has_convergence_delta()

    def _state_guard(self) -> Any:
        model = _model_of(self.forward_func)
        return preserved_model_state(model) if model is not None else nullcontext()

    def segment(self, inputs: Tensor) -> Tensor:
        """Segment ``inputs`` (N, C, H, W) without gradients, leaving the model as it was.

        Returns:
            LongTensor (N, 1, H, W) on the inputs' device.
        """
        x = check_image_batch(inputs)
        with self._state_guard(), torch.no_grad():
            seg = self.segmenter(x.detach())
        seg = check_segments(seg, "segmenter output", like=x)
        return seg.to(x.device).expand(x.shape[0], 1, *x.shape[-2:]).contiguous()

    def _to_input_size(self, attr: Tensor, inputs: Tensor) -> Tensor:
        if attr.dim() != 4 or attr.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"the wrapped attribution returned {describe(attr)}; expected a 4-D map "
                f"(N, c, h, w) with N={inputs.shape[0]} (an attribution to a spatial layer "
                "or to the inputs)"
            )
        if not bool(torch.isfinite(attr).all()):
            raise ValueError(
                f"the wrapped attribution {type(self.attribution).__name__} returned NaN or "
                "Inf values; check the model's outputs and gradients on these inputs"
            )
        h, w = inputs.shape[-2:]
        if attr.shape[-2:] != (h, w):
            kwargs = (
                {"align_corners": False} if self.interpolate_mode in ("bilinear", "bicubic") else {}
            )
            attr = F.interpolate(attr, size=(h, w), mode=self.interpolate_mode, **kwargs)
        if attr.shape[1] not in (1, inputs.shape[1]):
            attr = attr.sum(1, keepdim=True)
        return attr

    def pool(self, attributions: Tensor, segments: Tensor) -> Tensor:
        """Pool an attribution map (N, c, h, w) over ``segments`` (N, 1, H, W).

        Returns:
            The pooled map (N, c', H, W) with the options of this wrapper.
        """
        return segment_pool(
            attributions,
            segments,
            reduce=self.reduce,
            channel_reduce=self.channel_reduce,
            interpolate_mode=self.interpolate_mode,
        ).map

    @staticmethod
    def segment_scores(attributions: Tensor, segments: Tensor) -> Tensor:
        """Per-segment scores (N, K) of a map returned by :meth:`attribute`.

        The map holds one value per segment (repeated over its pixels); this averages
        it over pixels and channels, so it returns that value (the channel mean when
        ``channel_reduce`` is ``None``). Absent ids are NaN.
        """
        return segment_pool(attributions, segments, channel_reduce="mean").scores

    #: pass the segments to the wrapped method as ``feature_mask`` (perturbation methods)
    #: and return its map as it is (already one value per segment)
    _segments_as_feature_mask = False

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: Any = None,
        additional_forward_args: Any = None,
        *,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_convergence_delta: bool = False,
        **kwargs: Any,
    ) -> Any:
        r"""Attribute with the wrapped method, then pool over segments.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple holding them (the result is
                then a 1-tuple too, the Captum way). Several input tensors are not
                supported.
            target: Captum's ``target`` (int, list, tuple or tensor).
            additional_forward_args: Captum's ``additional_forward_args``.
            segments: precomputed segment ids (N, 1, H, W), (1, 1, H, W), or
                (M, 1, H, W) for N = M * r (NoiseTunnel's repeated batch). Default:
                segment the inputs with :attr:`segmenter`.
            return_segments: also return the segments used.
            return_convergence_delta: return the wrapped method's convergence delta
                (only where it has one).
            **kwargs: passed to the wrapped method's ``attribute`` (``baselines``,
                ``n_steps``, ``sliding_window_shapes``, ...).

        Returns:
            The pooled map, contiguous, of the inputs' shape and dtype; with
            ``return_convergence_delta`` the pair ``(attributions, delta)``; with
            ``return_segments`` the segments come last: ``(attributions, segments)``
            or ``(attributions, delta, segments)``.

        Raises:
            TypeError: bad argument types, or inputs of another dtype than the model's
                parameters where the model fails on them (inputs are never cast).
            ValueError: bad shapes or values: among them a negative ``target``, one of
                the wrong length, or one out of range for the model's (N, n_classes)
                output (checked on every forward when the model is an ``nn.Module``),
                and a wrapped attribution returning NaN or Inf.
        """
        is_tuple = isinstance(inputs, tuple)
        if is_tuple:
            if len(inputs) != 1:
                raise TypeError(
                    f"`inputs`: {type(self).__name__} takes one image tensor (N, C, H, W) "
                    f"or a 1-tuple of it, got a tuple of {len(inputs)} tensors"
                )
            x = check_image_batch(inputs[0])
        else:
            x = check_image_batch(inputs)
        if return_convergence_delta and not self.has_convergence_delta():
            raise ValueError(
                f"`return_convergence_delta`: {type(self.attribution).__name__} has no "
                "convergence delta"
            )
        classes = _target_classes(target, x.shape[0])
        seg = self.segment(x) if segments is None else expand_segments(segments, x)
        kwargs = {**self.default_kwargs, **kwargs}
        if self._segments_as_feature_mask:
            if "feature_mask" in kwargs:
                raise TypeError(
                    f"`feature_mask`: {type(self).__name__} uses the segments as the "
                    "feature mask; pass `segments=` instead"
                )
            kwargs["feature_mask"] = seg
        if return_convergence_delta:
            kwargs["return_convergence_delta"] = True
        model = _model_of(self.forward_func)
        with (
            self._state_guard(),
            explain_dtype_mismatch(self.forward_func, x),
            _target_in_range(model, classes),
        ):
            result = self.attribution.attribute(
                x, target=target, additional_forward_args=additional_forward_args, **kwargs
            )
        delta = None
        if return_convergence_delta:
            result, delta = result
        if isinstance(result, tuple):
            result = result[0]
        attr = self._to_input_size(result, x)
        pooled = attr if self._segments_as_feature_mask else self.pool(attr, seg)
        # some Captum methods compute in float32 whatever the inputs' dtype
        out = pooled.expand(x.shape).to(x.dtype).contiguous()
        out_any: Any = (out,) if is_tuple else out
        parts: list[Any] = [out_any]
        if return_convergence_delta:
            parts.append(delta)
        if return_segments:
            parts.append(seg)
        return parts[0] if len(parts) == 1 else tuple(parts)
