"""SuperpixelAttribution: any Captum attribution, pooled over segments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from captum.attr import Attribution, DeepLiftShap, GradientShap, IntegratedGradients
from captum.log import log_usage
from torch import Tensor, nn

from captum_nas._model_state import preserved_model_state
from captum_nas._types import INTERPOLATE_MODES, SegmenterFn
from captum_nas._validation import (
    all_finite,
    check_choice,
    check_image_batch,
    check_image_input,
    check_model_output,
    check_positive_int,
    check_segments,
    describe,
    explain_dtype_mismatch,
    normalize_target,
)
from captum_nas.attr.shared_forward import CleanForwardCapture
from captum_nas.pooling import (
    CHANNEL_REDUCTIONS,
    POOLING_MODES,
    REDUCTIONS,
    PooledAttribution,
    pool_segments,
    segment_pool,
)
from captum_nas.segmentation.base import relabel_contiguous

#: ``pooling`` values of :class:`SuperpixelAttribution`: the named modes of
#: :func:`captum_nas.pooling.pool_segments`, or ``"custom"`` (``reduce`` and
#: ``channel_reduce`` of :func:`captum_nas.pooling.segment_pool`)
POOLINGS = (*POOLING_MODES, "custom")
#: the ``pooling`` values, for type checkers
PoolingMode = Literal["magnitude", "contribution", "custom"]


def _model_of(forward_func: Any) -> nn.Module | None:
    return forward_func if isinstance(forward_func, nn.Module) else None


def _target_classes(
    target: Any, n: int, device: torch.device | None = None
) -> Tensor | tuple[int, ...] | list[tuple[int, ...]] | None:
    """The checked, normalised ``target`` (see :func:`captum_nas._validation.normalize_target`):
    what is passed on to Captum and stored in results."""
    return normalize_target(target, n, device=device)


@contextmanager
def _target_in_range(model: nn.Module | None, target: Any) -> Iterator[None]:
    """Check on every forward of ``model`` that it returns one tensor and that the
    normalised ``target`` indexes it: class ids for (B, n_classes), multi-indices for
    (B, d1, ..., dk) outputs."""
    if model is None:
        # no hook on a plain function: translate the index error its output gives
        try:
            yield
        except (IndexError, RuntimeError) as err:
            if isinstance(target, Tensor) and "out of bounds" in str(err):
                raise ValueError(
                    f"`target` {int(target.max())} is out of range for the outputs of "
                    f"`forward_func` ({err})"
                ) from err
            raise
        return
    if isinstance(target, Tensor):
        index: tuple[int, ...] | None = (int(target.max()),)
    elif isinstance(target, tuple):
        index = target
    elif isinstance(target, list):
        index = tuple(max(col) for col in zip(*target))
    else:
        index = None

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        check_model_output(output)
        if index is None or output.dim() < 2:
            return
        dims = tuple(output.shape[1:])
        if len(index) != len(dims):
            shown = index[0] if isinstance(target, Tensor) else target
            raise ValueError(
                f"`target` {shown!r} indexes {len(index)} dimension(s) per example, but the "
                f"model returns shape {tuple(output.shape)} ({len(dims)} per example); use "
                "an int per image for (N, n_classes) outputs, a tuple for more dimensions"
            )
        for i, size in zip(index, dims):
            if i >= size:
                if len(dims) == 1:
                    raise ValueError(
                        f"`target` {i} is out of range for the model's {size} outputs "
                        f"(class ids 0..{size - 1})"
                    )
                raise ValueError(
                    f"`target` {target!r} is out of range for the model's output of shape "
                    f"{tuple(output.shape)}"
                )

    handle = model.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _non_finite_message(method: str, dtype: torch.dtype) -> str:
    """Why a wrapped attribution returned NaN or Inf, as far as we can tell."""
    name = method.lstrip("_")
    if dtype in (torch.float16, torch.bfloat16):
        if "LRP" in name or "DeepLift" in name:
            return (
                f"the wrapped attribution {name} returned NaN or Inf values on {dtype} inputs: "
                "its epsilon rule (LRP divides by a layer's output plus 1e-9, DeepLift by "
                "input differences guarded by 1e-10) underflows in half precision, where "
                "that epsilon rounds to 0 and the division gives Inf; run the model and the "
                "inputs in float32 (`model.float()`, `inputs.float()`)"
            )
        return (
            f"the wrapped attribution {name} returned NaN or Inf values on {dtype} inputs; "
            "half precision overflows or underflows easily in gradients: run the model and "
            "the inputs in float32 (`model.float()`, `inputs.float()`)"
        )
    return (
        f"the wrapped attribution {name} returned NaN or Inf values; check the model's "
        "outputs and gradients on these inputs"
    )


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
    seg = relabel_contiguous(check_segments(segments, name))
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


def _check_pooling(pooling: Any, reduce: str | None, channel_reduce: str | None) -> str:
    """Validate ``pooling`` and the advanced ``reduce``/``channel_reduce`` together."""
    check_choice(pooling, "pooling", POOLINGS)
    if pooling != "custom":
        for name, value in (("reduce", reduce), ("channel_reduce", channel_reduce)):
            if value is not None:
                raise ValueError(
                    f"`{name}`={value!r} applies only with pooling='custom' (got "
                    f"pooling={pooling!r}, which fixes its own reduction); pass "
                    f"pooling='custom' to pool with segment_pool's `reduce`/`channel_reduce`"
                )
        return pooling
    if reduce is not None:
        check_choice(reduce, "reduce", REDUCTIONS)
    if channel_reduce is not None:
        check_choice(channel_reduce, "channel_reduce", CHANNEL_REDUCTIONS)
    return pooling


#: attributions that never run the model on the unmodified inputs (random baselines and
#: noise; DeepLiftShap repeats every image once per baseline): NAS runs its own forward
_NEVER_CLEAN_INPUTS: tuple[type[Attribution], ...] = (GradientShap, DeepLiftShap)
#: Integrated Gradients' methods with a step at alpha = 1
_IG_METHODS_AT_ONE = ("riemann_right", "riemann_trapezoid")


def _runs_clean_inputs(attribution: Attribution, kwargs: Mapping[str, Any]) -> bool:
    """Whether ``attribution.attribute(**kwargs)`` may forward the unmodified inputs."""
    if isinstance(attribution, _NEVER_CLEAN_INPUTS):
        return False
    if isinstance(attribution, IntegratedGradients):
        return kwargs.get("method", "gausslegendre") in _IG_METHODS_AT_ONE
    return True


def _keeps_total(pooling: str | None, reduce: str, channel_reduce: str | None) -> bool:
    """Whether a pooling keeps every image's total (sum over pixels and channels)."""
    if pooling == "contribution":
        return True
    return pooling == "custom" and reduce == "mean" and channel_reduce in (None, "none", "mean")


@dataclass
class _Run:
    """Everything one call computes (the parts of an :class:`AttributionResult`)."""

    inputs: Tensor
    map: Tensor
    pixel_map: Tensor  # may be an expanded view, in the attribution's dtype
    segments: Tensor
    scores: Tensor
    delta: Tensor | None


class SuperpixelAttribution(Attribution):
    r"""Pool any Captum attribution over superpixels.

    Runs the wrapped attribution, brings layer maps ((N, 1, h, w) or (N, c, h, w))
    to the input size, segments the inputs, pools the map over every segment and
    returns a tensor of exactly the inputs' shape, where every pixel holds the pooled
    value of its segment. It is a Captum ``Attribution``: it composes with
    ``NoiseTunnel``, ``captum.metrics`` and ``captum.attr.visualization``.

    What the returned numbers mean depends on ``pooling``:

    * ``"magnitude"`` (default): every pixel holds its segment's **mean magnitude**,
      the mean over the segment of :math:`|\sum_c a_c|` (the channel sum of the
      attribution, made positive), repeated over the channels. Positive and negative
      pixels do not cancel, so this is the map that localises (for pictures, boxes,
      pointing games). Values are >= 0.
    * ``"contribution"``: signed, completeness-keeping **region contributions**. A
      segment's score is the sum of the signed channel-summed attribution over its
      pixels; the map spreads it evenly over the segment's pixels and channels, so
      every image's map total equals the unpooled total (for Integrated Gradients,
      the output difference to the baseline) and the convergence delta is Captum's.
    * ``"custom"``: the advanced :func:`captum_nas.pooling.segment_pool` options
      ``reduce`` (default ``"mean"``) and ``channel_reduce`` (default ``None``, every
      channel on its own).

    Segmentation runs on detached inputs without gradients, inside a block that
    restores the model's train/eval mode, ``requires_grad`` flags and hooks.

    **One forward for both.** With a NAS segmenter, no precomputed segments and the
    model in eval mode, the NAS layers' outputs are captured during the wrapped method's
    own forward on the unmodified inputs (the first forward whose input equals the
    inputs, as a whole batch or one aligned block of a larger one; hooks exist only
    during the call), and NAS clusters those instead of running a second forward
    (see :mod:`captum_nas.attr.shared_forward`). That covers GradCAM and the other
    layer methods, Saliency, InputXGradient, GuidedBackprop, Deconvolution, LRP,
    DeepLift (its input half), Occlusion (its reference pass) and Integrated
    Gradients with ``method="riemann_right"`` or ``"riemann_trapezoid"`` on a zero
    baseline (the step at alpha = 1). GradientShap and DeepLiftShap never run the
    unmodified inputs, Integrated Gradients' default Gauss-Legendre steps never reach
    alpha = 1, and the segment-level perturbation methods need the segments before
    they start: these keep NAS's separate forward (run before the method), as does
    any call where no forward matched. ``share_forward = False`` on an instance
    always uses the separate forward.

    Under ``NoiseTunnel`` the wrapped method sees noisy copies of the images. Without
    segments, every noisy batch is segmented anew. To segment the clean images once,
    pass ``feature_mask=wrapper.segment(inputs)`` (or its alias ``segments=``) to
    ``NoiseTunnel.attribute``: NoiseTunnel repeats a ``feature_mask`` like the images,
    and a mask of batch M for M * r noisy images is repeated the same way.

    Args:
        attribution: a Captum attribution instance (gradient, layer or perturbation
            based), e.g. ``IntegratedGradients(model)`` or
            ``LayerGradCam(model, model.layer4)``.
        segmenter: callable ``(N, C, H, W) -> LongTensor (N, 1, H, W)``. ``None``
            builds ``NASSegmenter(model, n_segments=n_segments, **nas_options)``
            lazily on the wrapped attribution's model (which must then be an
            ``nn.Module``).
        pooling: ``"magnitude"`` (default), ``"contribution"`` or ``"custom"``
            (see above).
        reduce: with ``pooling="custom"`` only: the pooling inside a segment (see
            :func:`captum_nas.pooling.segment_pool`; default ``"mean"``).
        channel_reduce: with ``pooling="custom"`` only: ``None`` pools every channel
            on its own; ``"sum"``, ``"abs-sum"`` or ``"mean"`` reduce the channels
            first and repeat the score over the channels.
        interpolate_mode: how layer maps are brought to the input size.
        n_segments: segments per image of the default NAS segmenter.
        nas_options: further keyword arguments of the default ``NASSegmenter``.

    Example:
        >>> from captum.attr import IntegratedGradients
        >>> sp = SuperpixelAttribution(IntegratedGradients(model), GridSegmenter(16))
        >>> attr = sp.attribute(images, target=3)   # same shape as images
        >>> res = sp.attribute(images, target=3, return_result=True)
        >>> res.scores.shape                        # (N, K) mean magnitudes
        torch.Size([2, 16])
    """

    def __init__(
        self,
        attribution: Attribution,
        segmenter: SegmenterFn | None = None,
        *,
        pooling: str = "magnitude",
        reduce: str | None = None,
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
        self.pooling: str | None = _check_pooling(pooling, reduce, channel_reduce)
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
        self.reduce = "mean" if reduce is None else reduce
        self.channel_reduce = channel_reduce
        self.interpolate_mode = interpolate_mode
        self.n_segments = n_segments
        self.nas_options = dict(nas_options or {})
        self._segmenter = segmenter
        #: keyword defaults merged under the caller's kwargs of :meth:`attribute`
        self.default_kwargs: dict[str, Any] = {}
        #: capture NAS's activations during the wrapped method's forward (see above)
        self.share_forward = True

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
        return self._checked_segments(seg, x)

    @staticmethod
    def _checked_segments(seg: Any, x: Tensor) -> Tensor:
        seg = relabel_contiguous(check_segments(seg, "segmenter output", like=x))
        return seg.to(x.device).expand(x.shape[0], 1, *x.shape[-2:]).contiguous()

    def _clean_forward_capture(
        self, x: Tensor, mask: Any, kwargs: Mapping[str, Any]
    ) -> CleanForwardCapture | None:
        """A capture of NAS's activations for the wrapped method's forward, or ``None``
        when NAS must run its own (see "One forward for both" above)."""
        if not self.share_forward or mask is not None or self._segments_as_feature_mask:
            return None
        from captum_nas.segmentation.nas import NASSegmenter

        segmenter = self.segmenter
        if not isinstance(segmenter, NASSegmenter) or segmenter.mode == "slic-merge":
            return None
        if not _runs_clean_inputs(self.attribution, kwargs) or not segmenter.shares_forward(x):
            return None
        # NAS's one-off layer probe, if it runs, guards the model's state itself
        with torch.no_grad():
            modules = segmenter.layers_for(x)
        return CleanForwardCapture(segmenter.model, modules, x)

    def _segments_after(self, x: Tensor, capture: CleanForwardCapture) -> Tensor:
        """Segments from the captured activations, or NAS's own forward if none matched."""
        if capture.activations is None:
            return self.segment(x)
        segmenter = self.segmenter
        assert hasattr(segmenter, "segment")  # a NASSegmenter (checked by the capture)
        # with the activations given, NAS does not run the model: no state guard needed
        with torch.no_grad():
            result = segmenter.segment(x.detach(), activations=capture.activations)
        capture.activations = None
        return self._checked_segments(result.segments, x)

    def _to_input_size(self, attr: Tensor, inputs: Tensor) -> Tensor:
        if attr.dim() != 4 or attr.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"the wrapped attribution returned {describe(attr)}; expected a 4-D map "
                f"(N, c, h, w) with N={inputs.shape[0]} (an attribution to a spatial layer "
                "or to the inputs)"
            )
        if not all_finite(attr):
            raise ValueError(_non_finite_message(type(self.attribution).__name__, inputs.dtype))
        h, w = inputs.shape[-2:]
        if attr.shape[-2:] != (h, w):
            kwargs = (
                {"align_corners": False} if self.interpolate_mode in ("bilinear", "bicubic") else {}
            )
            attr = F.interpolate(attr, size=(h, w), mode=self.interpolate_mode, **kwargs)
        if attr.shape[1] not in (1, inputs.shape[1]):
            attr = attr.sum(1, keepdim=True)
        return attr

    def pool_with_scores(
        self, attributions: Tensor, segments: Tensor, channels: int | None = None
    ) -> PooledAttribution:
        """Pool a map (N, c, h, w) over ``segments`` (N, 1, H, W) with this wrapper's
        ``pooling``.

        Args:
            attributions: the unpooled map.
            segments: integer ids.
            channels: channels of the returned map (default: the map's own).

        Returns:
            :class:`~captum_nas.pooling.PooledAttribution`: the map
            (N, channels, H, W) and the (N, K) scores (NaN for absent ids; with
            ``pooling="custom"`` and no channel reduction, the channel mean).
        """
        if self.pooling in POOLING_MODES:
            assert self.pooling is not None
            return pool_segments(
                attributions,
                segments,
                pooling=self.pooling,
                channels=channels,
                interpolate_mode=self.interpolate_mode,
            )
        pooled = segment_pool(
            attributions,
            segments,
            reduce=self.reduce,
            channel_reduce=self.channel_reduce,
            interpolate_mode=self.interpolate_mode,
        )
        scores = pooled.scores.mean(1) if pooled.scores.dim() == 3 else pooled.scores
        out = pooled.map
        if channels is not None and out.shape[1] != channels:
            out = out.expand(out.shape[0], channels, *out.shape[-2:]).contiguous()
        return PooledAttribution(out, scores)

    def pool(self, attributions: Tensor, segments: Tensor) -> Tensor:
        """Pool an attribution map (N, c, h, w) over ``segments`` (N, 1, H, W).

        Returns:
            The pooled map (N, c, H, W) with the options of this wrapper.
        """
        return self.pool_with_scores(attributions, segments).map

    @staticmethod
    def segment_scores(attributions: Tensor, segments: Tensor) -> Tensor:
        """Per-segment values (N, K) of a map returned by :meth:`attribute`.

        The map holds one value per segment (repeated over its pixels); this averages
        it over pixels and channels, so it returns that value (the channel mean with
        ``pooling="custom"`` and no channel reduction). With
        ``pooling="contribution"`` the value is the score divided by the segment's
        pixel and channel count; ``attribute(..., return_result=True).scores`` gives
        the scores themselves. Absent ids are NaN.
        """
        return segment_pool(attributions, segments, channel_reduce="mean").scores

    #: pass the segments to the wrapped method as ``feature_mask`` (perturbation methods)
    #: and return its map as it is (already one value per segment)
    _segments_as_feature_mask = False

    def _resolve_segments(
        self, x: Tensor, feature_mask: Tensor | tuple[Tensor, ...] | None, segments: Tensor | None
    ) -> Tensor:
        if feature_mask is not None and segments is not None:
            raise TypeError("`segments` is an alias of `feature_mask`; pass one of them, not both")
        mask: Any = feature_mask if feature_mask is not None else segments
        name = "feature_mask" if feature_mask is not None else "segments"
        if isinstance(mask, tuple):
            if len(mask) != 1:
                raise TypeError(
                    f"`{name}`: one mask (N, 1, H, W) or a 1-tuple of it expected, got a "
                    f"tuple of {len(mask)}"
                )
            mask = mask[0]
        if mask is None:
            return self.segment(x)
        return expand_segments(mask, x, name)

    def _run(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: Any,
        additional_forward_args: Any,
        method_kwargs: Mapping[str, Any],
        *,
        feature_mask: Tensor | tuple[Tensor, ...] | None,
        segments: Tensor | None,
        return_convergence_delta: bool,
    ) -> tuple[_Run, bool]:
        """Segment, attribute and pool; returns the parts and whether inputs were a tuple."""
        x, is_tuple = check_image_input(inputs, type(self).__name__)
        if not isinstance(return_convergence_delta, bool):
            raise TypeError(
                "`return_convergence_delta` must be a bool, got "
                f"{describe(return_convergence_delta)}"
            )
        if return_convergence_delta and not self.has_convergence_delta():
            raise ValueError(
                f"`return_convergence_delta`: {type(self.attribution).__name__} has no "
                "convergence delta"
            )
        classes = _target_classes(target, x.shape[0], x.device)
        kwargs = {**self.default_kwargs, **method_kwargs}
        mask = feature_mask if feature_mask is not None else segments
        capture = self._clean_forward_capture(x, mask, kwargs)
        seg = self._resolve_segments(x, feature_mask, segments) if capture is None else None
        if self._segments_as_feature_mask:
            kwargs["feature_mask"] = seg
        if return_convergence_delta:
            kwargs["return_convergence_delta"] = True
        model = _model_of(self.forward_func)
        with (
            self._state_guard(),
            explain_dtype_mismatch(self.forward_func, x),
            _target_in_range(model, classes),
            capture if capture is not None else nullcontext(),
        ):
            result = self.attribution.attribute(
                x, target=classes, additional_forward_args=additional_forward_args, **kwargs
            )
        if capture is not None:
            seg = self._segments_after(x, capture)
        assert seg is not None
        delta = None
        if return_convergence_delta:
            result, delta = result
        if isinstance(result, tuple):
            result = result[0]
        raw = result.detach()
        attr = self._to_input_size(raw, x)
        n, c = x.shape[:2]
        if self._segments_as_feature_mask:
            out = attr.expand(x.shape)
            scores = segment_pool(attr, seg, channel_reduce="mean").scores
        else:
            out, scores = self.pool_with_scores(attr, seg, channels=c)
        # some Captum methods compute in float32 whatever the inputs' dtype
        out = out.expand(x.shape).to(x.dtype).contiguous()
        if delta is not None:
            delta = delta.detach()
            exact = _keeps_total(self.pooling, self.reduce, self.channel_reduce)
            if not (exact and raw.shape == x.shape) and not self._segments_as_feature_mask:
                delta = _delta_of_returned(delta, raw, out)
        pixel_map = attr.expand(n, c, *x.shape[-2:]) if attr.shape[1] == 1 else attr
        run = _Run(
            inputs=x.detach(),
            map=out,
            pixel_map=pixel_map,  # made contiguous in the inputs' dtype only for a result
            segments=seg,
            scores=scores,
            delta=delta,
        )
        return run, is_tuple

    def _explain(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: Any,
        *run_args: Any,
        return_segments: bool,
        return_result: bool,
        **run_options: Any,
    ) -> Any:
        """The body of every ``attribute``: check our options, run, shape the output.

        ``run_args`` and ``run_options``: the rest of :meth:`_run`'s arguments."""
        for name, flag in (("return_result", return_result), ("return_segments", return_segments)):
            if not isinstance(flag, bool):
                raise TypeError(f"`{name}` must be a bool, got {describe(flag)}")
        run, is_tuple = self._run(inputs, target, *run_args, **run_options)
        return self._outputs(
            run,
            is_tuple,
            target,
            return_convergence_delta=run_options["return_convergence_delta"],
            return_segments=return_segments,
            return_result=return_result,
        )

    def _outputs(
        self,
        run: _Run,
        is_tuple: bool,
        target: Any,
        *,
        return_convergence_delta: bool,
        return_segments: bool,
        return_result: bool,
    ) -> Any:
        if return_result:
            from captum_nas.attr.result import AttributionResult

            classes = _target_classes(target, run.map.shape[0])
            return AttributionResult(
                map=run.map,
                pixel_map=run.pixel_map.to(run.map.dtype).contiguous(),
                segments=run.segments,
                scores=run.scores,
                target=classes,
                delta=run.delta,
                inputs=run.inputs,
                pooling=self.pooling,
                method=type(self.attribution).__name__.lstrip("_"),
            )
        out_any: Any = (run.map,) if is_tuple else run.map
        parts: list[Any] = [out_any]
        if return_convergence_delta:
            parts.append(run.delta)
        if return_segments:
            parts.append(run.segments)
        return parts[0] if len(parts) == 1 else tuple(parts)

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: Any = None,
        additional_forward_args: Any = None,
        *,
        feature_mask: Tensor | tuple[Tensor] | None = None,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_convergence_delta: bool = False,
        return_result: bool = False,
        **kwargs: Any,
    ) -> Any:
        r"""Attribute with the wrapped method, then pool over segments.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple holding them (the result is
                then a 1-tuple too, the Captum way). Several input tensors are not
                supported.
            target: Captum's ``target`` (int, list, tuple or tensor).
            additional_forward_args: Captum's ``additional_forward_args``.
            feature_mask: precomputed segment ids (N, 1, H, W), (1, 1, H, W), or
                (M, 1, H, W) for N = M * r (NoiseTunnel's repeated batch); NoiseTunnel
                expands a ``feature_mask`` the Captum way. Default: segment the inputs
                with :attr:`segmenter`.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used.
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                instead: the pooled map, the unpooled pixel map, the segments, the
                (N, K) scores, the target and (with ``return_convergence_delta``) the
                delta, with ``top_k()``, ``plot()``, ``overlay()`` and ``save()``.
            return_convergence_delta: return the convergence delta (only where the
                wrapped method has one) **of the returned map**: Captum's own delta
                when the pooling keeps every image's total (``"contribution"``), else
                Captum's delta plus the difference between the returned map's total
                and the unpooled one's.
            **kwargs: passed to the wrapped method's ``attribute`` (``baselines``,
                ``n_steps``, ``sliding_window_shapes``, ...).

        Returns:
            The pooled map, contiguous, detached, of the inputs' shape and dtype; with
            ``return_convergence_delta`` the pair ``(attributions, delta)``; with
            ``return_segments`` the segments come last: ``(attributions, segments)``
            or ``(attributions, delta, segments)``; with ``return_result`` an
            ``AttributionResult`` (whatever ``return_segments`` says).

        Raises:
            TypeError: bad argument types, or inputs of another dtype than the model's
                parameters where the model fails on them (inputs are never cast).
            ValueError: bad shapes or values: among them a negative ``target``, one of
                the wrong length, or one out of range for the model's (N, n_classes)
                output (checked on every forward when the model is an ``nn.Module``),
                and a wrapped attribution returning NaN or Inf.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            kwargs,
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=return_convergence_delta,
            return_segments=return_segments,
            return_result=return_result,
        )


def _delta_of_returned(delta: Tensor, raw: Tensor, out: Tensor) -> Tensor:
    """Captum's delta moved from the unpooled map ``raw`` to the returned map ``out``.

    Captum's deltas are ``total(attributions) - (f(x) - f(baseline))`` per example
    (or per example and baseline sample, example-major, for the Shap methods); the
    delta of the returned map adds ``total(out) - total(raw)`` of its example.
    """
    n = out.shape[0]
    if delta.numel() % n != 0:
        raise ValueError(
            f"cannot move a convergence delta of shape {tuple(delta.shape)} to a batch of {n} "
            "pooled maps; use pooling='contribution' for Captum's own delta"
        )
    offset = out.flatten(1).double().sum(1) - raw.flatten(1).double().sum(1)
    moved = delta.reshape(n, -1).double() + offset.to(delta.device)[:, None]
    return moved.to(delta.dtype).reshape(delta.shape)
