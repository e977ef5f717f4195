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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from captum._utils.models.model import Model
from captum._utils.typing import BaselineType, TargetType
from captum.attr import FeatureAblation, KernelShap, Lime, ShapleyValueSampling
from torch import Tensor
from torch.utils.data import DataLoader

from captum_nas._validation import check_number, check_positive_int
from captum_nas.attr._signature import (
    SegmenterOptions,
    SegmentOptions,
    captum_attribute,
    with_options,
)
from captum_nas.attr.methods import CaptumSuperpixelMethod
from captum_nas.attr.superpixel import SuperpixelAttribution

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

_FeatureMask = Tensor | tuple[Tensor, ...] | None


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

    @with_options
    def __init__(
        self, forward_func: Callable[..., Any], **options: Unpack[SegmenterOptions]
    ) -> None:
        self._init(self.captum_class(forward_func), **options)

    def _init(self, attribution: Any, **options: Unpack[SegmenterOptions]) -> None:
        SuperpixelAttribution.__init__(self, attribution, **options)
        self.pooling = None

    def _method_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """Captum's arguments; ``return_input_shape`` must stay ``True``."""
        if values.get("return_input_shape", True) is not True:
            raise ValueError(
                f"`return_input_shape`: {type(self).__name__} returns a map of the inputs' "
                f"shape (one value per segment); got {values['return_input_shape']!r}"
            )
        for key in ("n_samples", "perturbations_per_eval"):
            if key in values:
                check_positive_int(values[key], key)
        return values

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


class NASFeatureAblation(_SegmentMaskMethod):
    """``captum.attr.FeatureAblation`` with one feature per segment (batched).

    Returns the signed value of every segment (the segments are Captum's
    ``feature_mask``), repeated over the segment's pixels and channels; no pooling.
    """

    captum_class = FeatureAblation

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        feature_mask: _FeatureMask = None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        **options: Unpack[SegmentOptions],
    ) -> Any: ...


class NASShapleyValueSampling(_SegmentMaskMethod):
    """``captum.attr.ShapleyValueSampling`` with one feature per segment (batched).

    Returns the signed value of every segment, repeated over its pixels and channels.
    """

    captum_class = ShapleyValueSampling

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        feature_mask: _FeatureMask = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
        **options: Unpack[SegmentOptions],
    ) -> Any: ...


class _LimeMethod(_SegmentMaskMethod):
    """Lime and KernelShap (a Lime with its own kernel): Captum's ``Lime.attribute``."""

    @captum_attribute
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        feature_mask: _FeatureMask = None,
        n_samples: int = 25,
        perturbations_per_eval: int = 1,
        return_input_shape: bool = True,
        show_progress: bool = False,
        **options: Unpack[SegmentOptions],
    ) -> Any: ...


class NASKernelShap(_LimeMethod):
    """``captum.attr.KernelShap`` with one feature per segment, fitted by
    :class:`TorchLinearRegression` (weighted least squares, no scikit-learn).

    Returns the signed value of every segment, repeated over its pixels and channels.
    """

    captum_class = KernelShap
    _min_segments = 2

    def _init(self, attribution: Any, **options: Unpack[SegmenterOptions]) -> None:
        super()._init(attribution, **options)
        attribution.interpretable_model = TorchLinearRegression(alpha=0.0)


class NASLime(_LimeMethod):
    """``captum.attr.Lime`` with one interpretable feature per segment.

    Returns the signed value of every segment, repeated over its pixels and channels.
    Unlike KernelShap, one segment per image is enough.

    Args:
        forward_func, interpretable_model, similarity_func, perturb_func: as in
            ``captum.attr.Lime``; ``interpretable_model`` defaults to
            :class:`TorchLinearRegression` with ``alpha=1.0`` (a ridge fit; no
            scikit-learn).
    """

    captum_class = Lime

    @with_options
    def __init__(
        self,
        forward_func: Callable[..., Any],
        interpretable_model: Model | None = None,
        similarity_func: Callable[..., Any] | None = None,
        perturb_func: Callable[..., Any] | None = None,
        **options: Unpack[SegmenterOptions],
    ) -> None:
        model = (
            TorchLinearRegression(alpha=1.0) if interpretable_model is None else interpretable_model
        )
        self._init(Lime(forward_func, model, similarity_func, perturb_func), **options)
