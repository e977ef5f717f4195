"""Segment-level perturbation methods: the segments are Captum's ``feature_mask``.

Every segment is one interpretable feature; the returned map has the inputs' shape
and holds one value per segment (the same over its pixels and channels), so
``SuperpixelAttribution.segment_scores(attr, segments)`` gives the (N, K) scores.

Batches: ``FeatureAblation`` and ``ShapleyValueSampling`` perturb a batch at once,
with a different mask per image (a feature id that an image lacks perturbs nothing
there). Captum's ``Lime`` and ``KernelShap`` fit one surrogate model per image, so
for N > 1 Captum itself loops over the images (and warns); nothing else is looped.

No scikit-learn: Lime and KernelShap use :class:`TorchLinearRegression`, a closed-form
weighted (ridge) least squares in torch, instead of Captum's scikit-learn defaults
(``SkLearnLasso`` for Lime, ``SkLearnLinearRegression`` for KernelShap). Pass
``interpretable_model=`` to ``NASLime`` to use another surrogate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

import torch
from captum._utils.models.model import Model
from captum._utils.typing import BaselineType, TargetType
from captum.attr import Attribution, FeatureAblation, KernelShap, Lime, ShapleyValueSampling
from captum.log import log_usage
from torch import Tensor
from torch.utils.data import DataLoader

from captum_nas._validation import check_number, check_positive_int
from captum_nas.attr.methods import CaptumSuperpixelMethod, _In, _Out
from captum_nas.attr.result import AttributionResult
from captum_nas.attr.superpixel import SegmenterFn


class TorchLinearRegression(Model):
    """Weighted linear (ridge) regression solved in closed form with torch.

    Minimises ``sum_i w_i (y_i - b - x_i . beta)^2 + alpha |beta|^2`` (intercept not
    penalised) in float64. ``alpha=0`` is ordinary weighted least squares (solved by
    ``torch.linalg.lstsq``'s SVD driver on the CPU, which copes with rank deficiency),
    as KernelShap needs. The coefficients live on the data's device.

    Args:
        alpha: ridge penalty (>= 0).
        fit_intercept: fit the intercept ``b``.

    Example:
        >>> lime = Lime(model, interpretable_model=TorchLinearRegression(alpha=1.0))
    """

    def __init__(self, alpha: float = 0.0, *, fit_intercept: bool = True) -> None:
        self.alpha = check_number(alpha, "alpha", minimum=0.0)
        self.fit_intercept = bool(fit_intercept)
        self.weight: Tensor | None = None
        self.intercept: Tensor | None = None

    def fit(self, train_data: DataLoader, **kwargs: object) -> dict[str, float]:
        """Fit on ``(x, y)`` or ``(x, y, w)`` batches of ``train_data``."""
        xs, ys, ws = [], [], []
        for batch in train_data:
            xs.append(batch[0])
            ys.append(batch[1])
            if len(batch) > 2:
                ws.append(batch[2])
        x = torch.cat(xs).double().reshape(sum(len(b) for b in xs), -1)
        # Captum's KernelShap hands the sample weights over on the CPU
        y = torch.cat(ys).to(x.device, torch.float64).reshape(x.shape[0], -1)
        w = (
            torch.cat(ws).to(x.device, torch.float64).reshape(-1)
            if ws
            else torch.ones_like(x[:, 0])
        )
        w = w.clamp_min(0)
        total = w.sum().clamp_min(torch.finfo(torch.float64).tiny)
        if self.fit_intercept:
            x_mean = (w[:, None] * x).sum(0) / total
            y_mean = (w[:, None] * y).sum(0) / total
        else:
            x_mean = x.new_zeros(x.shape[1])
            y_mean = y.new_zeros(y.shape[1])
        root = w.sqrt()[:, None]
        xc = (x - x_mean) * root
        yc = (y - y_mean) * root
        if self.alpha > 0:
            gram = xc.T @ xc + self.alpha * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
            beta = torch.linalg.solve(gram, xc.T @ yc)
        else:
            # the SVD-based driver copes with the rank-deficient designs of KernelShap; it
            # exists on the CPU only, and the system (samples x segments) is small
            beta = torch.linalg.lstsq(xc.cpu(), yc.cpu(), driver="gelsd").solution.to(x.device)
        self.weight = beta.T.float()
        self.intercept = (y_mean - x_mean @ beta).float()
        residual = yc - xc @ beta
        return {"train_loss": float((residual**2).sum() / total)}

    def representation(self) -> Tensor:
        """Coefficients (outputs, features), without the intercept."""
        if self.weight is None:
            raise RuntimeError("TorchLinearRegression is not fitted")
        return self.weight

    def __call__(self, x: Tensor) -> Tensor:
        """Predictions ``x @ weight.T + intercept``."""
        if self.weight is None or self.intercept is None:
            raise RuntimeError("TorchLinearRegression is not fitted")
        w = self.weight.to(x.device, x.dtype)
        return x.reshape(x.shape[0], -1) @ w.T + self.intercept.to(x.device, x.dtype)


class _SegmentMaskMethod(CaptumSuperpixelMethod):
    """Base of the segment-level classes: the segments are the Captum method's
    ``feature_mask``; the result is its signed per-segment value, never pooled."""

    _segments_as_feature_mask = True
    #: the fewest distinct segments an image may have (KernelShap needs 2)
    _min_segments = 1

    def __init__(
        self,
        attribution: Attribution,
        segmenter: SegmenterFn | None = None,
        *,
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(attribution, segmenter, n_segments=n_segments, nas_options=nas_options)
        self.pooling = None

    def _explain(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: Any,
        additional_forward_args: Any,
        method_kwargs: Mapping[str, Any],
        **options: Any,
    ) -> Any:
        if method_kwargs.get("return_input_shape", True) is not True:
            raise ValueError(
                f"`return_input_shape`: {type(self).__name__} returns a map of the inputs' "
                f"shape (one value per segment); got {method_kwargs['return_input_shape']!r}"
            )
        for key in ("n_samples", "perturbations_per_eval"):
            if key in method_kwargs:
                check_positive_int(method_kwargs[key], key)
        return super()._explain(inputs, target, additional_forward_args, method_kwargs, **options)

    def _resolve_segments(
        self, x: Tensor, feature_mask: Tensor | tuple[Tensor, ...] | None, segments: Tensor | None
    ) -> Tensor:
        seg = super()._resolve_segments(x, feature_mask, segments)
        if self._min_segments > 1:
            flat = seg.flatten(1)
            single = torch.nonzero(flat.amax(1) == flat.amin(1)).flatten().tolist()
            if single:
                name = "feature_mask" if feature_mask is not None else "segments"
                raise ValueError(
                    f"`{name}`: {type(self).__name__} needs at least {self._min_segments} "
                    f"segments per image (it samples coalitions of 1..K-1 segments), image(s) "
                    f"{single[:10]} have one; ask for more segments (`n_segments`) or use "
                    "NASFeatureAblation"
                )
        return seg


def _lime_model(interpretable_model: Model | None) -> Model:
    return TorchLinearRegression(alpha=1.0) if interpretable_model is None else interpretable_model


class NASFeatureAblation(_SegmentMaskMethod):
    """``captum.attr.FeatureAblation`` with one feature per segment (batched).

    Returns the signed value of every segment (the segments are Captum's
    ``feature_mask``), repeated over the segment's pixels and channels; no pooling.

    Args:
        forward_func: as in ``captum.attr.FeatureAblation``.
        segmenter, n_segments, nas_options: as in
            :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = FeatureAblation

    def __init__(
        self,
        forward_func: Callable[..., Any],
        *,
        segmenter: SegmenterFn | None = None,
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            FeatureAblation(forward_func),
            segmenter,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``FeatureAblation.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, target, additional_forward_args, perturbations_per_eval, show_progress::
                as in ``captum.attr.FeatureAblation.attribute``, in the same order.
            feature_mask: Captum's argument, here the segment ids (N, 1, H, W),
                (1, 1, H, W) or (M, 1, H, W) for NoiseTunnel's repeated batch;
                default: segment the inputs with :attr:`segmenter`.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The signed per-segment values (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
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


class NASShapleyValueSampling(_SegmentMaskMethod):
    """``captum.attr.ShapleyValueSampling`` with one feature per segment (batched).

    Returns the signed value of every segment (the segments are Captum's
    ``feature_mask``), repeated over the segment's pixels and channels; no pooling.

    Args:
        forward_func: as in ``captum.attr.ShapleyValueSampling``.
        segmenter, n_segments, nas_options: as in
            :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = ShapleyValueSampling

    def __init__(
        self,
        forward_func: Callable[..., Any],
        *,
        segmenter: SegmenterFn | None = None,
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            ShapleyValueSampling(forward_func),
            segmenter,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        *,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``ShapleyValueSampling.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, target, additional_forward_args, n_samples, perturbations_per_eval,
                show_progress::
                as in ``captum.attr.ShapleyValueSampling.attribute``, in the same order.
            feature_mask: Captum's argument, here the segment ids (N, 1, H, W),
                (1, 1, H, W) or (M, 1, H, W) for NoiseTunnel's repeated batch;
                default: segment the inputs with :attr:`segmenter`.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The signed per-segment values (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
                "baselines": baselines,
                "n_samples": n_samples,
                "perturbations_per_eval": perturbations_per_eval,
                "show_progress": show_progress,
            },
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASLime(_SegmentMaskMethod):
    """``captum.attr.Lime`` with one interpretable feature per segment.

    Returns the signed value of every segment (the segments are Captum's
    ``feature_mask``), repeated over the segment's pixels and channels; no pooling.

    Args:
        forward_func, interpretable_model, similarity_func, perturb_func: as in
            ``captum.attr.Lime``; ``interpretable_model`` defaults to
            :class:`TorchLinearRegression` with ``alpha=1.0`` (a ridge fit; no
            scikit-learn).
        segmenter, n_segments, nas_options: as in
            :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = Lime

    def __init__(
        self,
        forward_func: Callable[..., Any],
        interpretable_model: Model | None = None,
        similarity_func: Callable[..., Any] | None = None,
        perturb_func: Callable[..., Any] | None = None,
        *,
        segmenter: SegmenterFn | None = None,
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            Lime(forward_func, _lime_model(interpretable_model), similarity_func, perturb_func),
            segmenter,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``Lime.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, target, additional_forward_args, n_samples, perturbations_per_eval,
                return_input_shape, show_progress::
                as in ``captum.attr.Lime.attribute``, in the same order.
            feature_mask: Captum's argument, here the segment ids (N, 1, H, W),
                (1, 1, H, W) or (M, 1, H, W) for NoiseTunnel's repeated batch;
                default: segment the inputs with :attr:`segmenter`.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The signed per-segment values (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
                "baselines": baselines,
                "n_samples": n_samples,
                "perturbations_per_eval": perturbations_per_eval,
                "return_input_shape": return_input_shape,
                "show_progress": show_progress,
            },
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )


class NASKernelShap(_SegmentMaskMethod):
    """``captum.attr.KernelShap`` with one feature per segment, fitted by
    :class:`TorchLinearRegression` (weighted least squares, no scikit-learn).

    Returns the signed value of every segment (the segments are Captum's
    ``feature_mask``), repeated over the segment's pixels and channels; no pooling.

    Args:
        forward_func: as in ``captum.attr.KernelShap``.
        segmenter, n_segments, nas_options: as in
            :class:`~captum_nas.attr.SuperpixelAttribution`.
    """

    captum_class = KernelShap
    _min_segments = 2

    def __init__(
        self,
        forward_func: Callable[..., Any],
        *,
        segmenter: SegmenterFn | None = None,
        n_segments: int = 32,
        nas_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            KernelShap(forward_func),
            segmenter,
            n_segments=n_segments,
            nas_options=nas_options,
        )
        assert isinstance(self.attribution, Lime)
        self.attribution.interpretable_model = TorchLinearRegression(alpha=0.0)

    @overload
    def attribute(
        self,
        inputs: _In,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
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
        feature_mask: Tensor | tuple[Tensor, ...] | None = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        *,
        segments: Tensor | None = None,
        return_segments: bool = False,
        return_result: bool = False,
    ) -> _Out[_In]:
        """Captum's ``KernelShap.attribute``, then one value per segment.

        Args:
            inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
                1-tuple, the Captum way).
            baselines, target, additional_forward_args, n_samples, perturbations_per_eval,
                return_input_shape, show_progress::
                as in ``captum.attr.KernelShap.attribute``, in the same order.
            feature_mask: Captum's argument, here the segment ids (N, 1, H, W),
                (1, 1, H, W) or (M, 1, H, W) for NoiseTunnel's repeated batch;
                default: segment the inputs with :attr:`segmenter`.
            segments: alias of ``feature_mask``.
            return_segments: also return the segments used (last).
            return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
                (pooled and pixel maps, segments, (N, K) scores, target, delta).

        Returns:
            The signed per-segment values (inputs' shape, contiguous, detached);
            with ``return_segments`` also the segments (last); with
            ``return_result`` an ``AttributionResult`` instead.
        """
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            {
                "baselines": baselines,
                "n_samples": n_samples,
                "perturbations_per_eval": perturbations_per_eval,
                "return_input_shape": return_input_shape,
                "show_progress": show_progress,
            },
            feature_mask=feature_mask,
            segments=segments,
            return_convergence_delta=False,
            return_segments=return_segments,
            return_result=return_result,
        )
