"""Relevance curves: remove pixels, patches or segments in relevance order and watch the score.

MoRF (most relevant first) should make the target score fall fast: a low area under
the curve (AUC) and a high AOPC are good. LeRF (least relevant first) should keep it
high: a high AUC is good. The gap LeRF AUC - MoRF AUC (higher is better) combines
both and is less fooled by maps that only rank the least relevant regions well
(Samek et al. 2017, "Evaluating the visualization of what a deep neural network has
learned"; Rieger & Hansen 2020, IROF; Boubekki et al. 2024 on AUC-LeRF).

Everything is batched: the perturbed inputs of all (image, step) pairs are built on
the inputs' device from one rank tensor, and the model sees them in chunks of
``max_examples_per_batch`` (Captum's name), so the forward function is called exactly
``ceil(N * (n_steps + 1) / max_examples_per_batch)`` times, with no host round trip in
the loop. A curve is three steps: :func:`_rank_units` (removal order and step grid),
:func:`_perturbed_batches` (the perturbed inputs, chunk by chunk) and
:class:`_TargetScorer` (the tracked score of each model output).

:func:`gaussian_blur` is our own rather than torchvision's because it pads by
replicating the border (torchvision reflects, which needs images larger than the
kernel), so the ``"blur"`` baseline works on images of any size.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_nas._model_state import preserved_model_state
from captum_nas._types import ClassTarget
from captum_nas._validation import (
    NormalizedTarget,
    check_choice,
    check_image_batch,
    check_model_output,
    check_number,
    check_positive_int,
    check_seed,
    check_segments,
    check_tensor,
    describe,
    explain_dtype_mismatch,
    normalize_target,
)
from captum_nas.segmentation.base import relabel_contiguous
from captum_nas.segmentation.grid import GridSegmenter

#: Deprecated name of :data:`captum_nas._types.ClassTarget` (it shadowed Captum's own
#: ``TargetType``, which also accepts tuples).
TargetType = ClassTarget
BaselineType = str | float | Tensor | Callable[[Tensor], Tensor]

ORDERS = ("morf", "lerf", "random")
BASELINES = ("zeros", "mean", "blur", "uniform")
#: Standard deviation (pixels) of the Gaussian used by ``baselines="blur"``.
BLUR_SIGMA = 5.0
#: Default number of steps when removing single pixels.
PIXEL_STEPS = 100
#: Marks a deprecated argument that was not given.
_UNSET: Any = object()


@dataclass(frozen=True)
class RelevanceCurveResult:
    """Result of :func:`relevance_curve`.

    Attributes:
        scores: (N, n_steps + 1) target score after each step (step 0: the intact
            input); softmax probability or raw output.
        fraction_removed: (N, n_steps + 1) fraction of the image's pixels removed.
        units_removed: (N, n_steps + 1) number of units (pixels, patches, segments)
            removed.
        auc: (N,) area under ``scores`` over ``fraction_removed`` (trapezoid rule over
            the fraction actually removed). MoRF: lower is better; LeRF: higher.
        aopc: (N,) ``mean_k (scores[:, 0] - scores[:, k])`` over the n_steps + 1 steps
            (Samek et al.). MoRF: higher is better; LeRF: lower.
        n_units: (N,) number of units of each image.
        target: (N,) class whose score is tracked (-1 when the model outputs one
            score per example), or (N, d) the multi-index per image for tuple targets.
        order: "morf", "lerf" or "random".
    """

    scores: Tensor
    fraction_removed: Tensor
    units_removed: Tensor
    auc: Tensor
    aopc: Tensor
    n_units: Tensor
    target: Tensor
    order: str

    @property
    def n_steps(self) -> int:
        """Number of removal steps (the curves have ``n_steps + 1`` points)."""
        return self.scores.shape[1] - 1


@dataclass(frozen=True)
class RelevanceGapResult:
    """Result of :func:`relevance_gap`.

    Attributes:
        morf: the MoRF curves.
        lerf: the LeRF curves.
        gap: (N,) ``lerf.auc - morf.auc``; higher is better.
    """

    morf: RelevanceCurveResult
    lerf: RelevanceCurveResult
    gap: Tensor


def gaussian_blur(inputs: Tensor, sigma: float, *, kernel_size: int | None = None) -> Tensor:
    """Blur every channel of (N, C, H, W) images with a Gaussian, in torch.

    Separable convolution with replicate padding; same shape, dtype and device.

    Args:
        inputs: floating images (N, C, H, W).
        sigma: standard deviation in pixels, > 0.
        kernel_size: odd kernel side; default ``2 * ceil(3 * sigma) + 1``.

    Returns:
        The blurred images.

    Example:
        >>> gaussian_blur(torch.ones(1, 3, 8, 8), 2.0).allclose(torch.ones(1, 3, 8, 8))
        True
    """
    x = check_image_batch(inputs)
    s = check_number(sigma, "sigma", minimum=0.0, strict_min=True)
    if kernel_size is None:
        kernel_size = 2 * math.ceil(3 * s) + 1
    k = check_positive_int(kernel_size, "kernel_size")
    if k % 2 == 0:
        raise ValueError(f"`kernel_size` must be odd, got {k}")
    n, c, h, w = x.shape
    r = k // 2
    coords = torch.arange(k, device=x.device, dtype=x.dtype) - r
    kern = torch.exp(-(coords**2) / (2 * s * s))
    kern = kern / kern.sum()
    y = x.reshape(n * c, 1, h, w)
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), kern.view(1, 1, 1, k))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), kern.view(1, 1, k, 1))
    return y.reshape(n, c, h, w)


def _reduce_attributions(attributions: Any, x: Tensor) -> Tensor:
    check_tensor(attributions, "attributions")
    a = attributions
    n, c, h, w = x.shape
    if a.dim() == 3:
        a = a.unsqueeze(1)
    if a.dim() != 4 or a.shape[1] not in (1, c) or a.shape[2:] != (h, w):
        raise ValueError(
            f"`attributions` must have shape (N, {c}, {h}, {w}), (N, 1, {h}, {w}) or "
            f"(N, {h}, {w}) to match the inputs, got {tuple(attributions.shape)}"
        )
    if a.shape[0] != n:
        raise ValueError(f"`attributions` has batch size {a.shape[0]}, the inputs have {n}")
    if not a.is_floating_point():
        raise TypeError(f"`attributions` must be floating point, got dtype {a.dtype}")
    if not bool(torch.isfinite(a).all()):
        raise ValueError("`attributions` contains NaN or Inf values")
    return a.to(device=x.device).mean(1).reshape(n, h * w)


def _unit_map(x: Tensor, segments: Any, patch_size: Any) -> tuple[Tensor, str]:
    n, _, h, w = x.shape
    if segments is not None and patch_size is not None:
        raise ValueError("give at most one of `segments` and `patch_size`")
    if segments is not None:
        seg = check_segments(segments, "segments", like=x).to(x.device)
        seg = relabel_contiguous(seg.expand(n, 1, h, w).contiguous())
        return seg.reshape(n, h * w), "segments"
    if patch_size is not None:
        p = check_positive_int(patch_size, "patch_size")
        if p > max(h, w):
            raise ValueError(f"`patch_size` ({p}) exceeds the image size {h}x{w}")
        seg = GridSegmenter(patch_size=p)(x)
        return seg.reshape(n, h * w), "patches"
    return torch.arange(h * w, device=x.device).expand(n, h * w), "pixels"


def _make_baseline(baseline: Any, x: Tensor, generator: torch.Generator) -> Tensor:
    if isinstance(baseline, str):
        check_choice(baseline, "baselines", BASELINES)
        if baseline == "zeros":
            return torch.zeros(1, 1, 1, 1, dtype=x.dtype, device=x.device)
        if baseline == "mean":
            return x.mean((2, 3), keepdim=True)
        if baseline == "blur":
            return gaussian_blur(x, BLUR_SIGMA)
        lo = x.amin((1, 2, 3), keepdim=True)
        hi = x.amax((1, 2, 3), keepdim=True)
        u = torch.rand(x.shape, generator=generator, dtype=torch.float64)
        return lo + (hi - lo) * u.to(device=x.device, dtype=x.dtype)
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        v = check_number(baseline, "baseline")
        return torch.full((1, 1, 1, 1), v, dtype=x.dtype, device=x.device)
    if isinstance(baseline, Tensor):
        b = baseline
    elif callable(baseline):
        b = baseline(x)
        if not isinstance(b, Tensor):
            raise TypeError(f"the `baselines` callable must return a tensor, got {describe(b)}")
    else:
        raise TypeError(
            f"`baselines` must be one of {BASELINES}, a number, a tensor or a callable, got "
            f"{describe(baseline)}"
        )
    try:
        shape = torch.broadcast_shapes(b.shape, x.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"`baselines` of shape {tuple(b.shape)} does not broadcast to the inputs' "
            f"{tuple(x.shape)}"
        )
    if b.is_floating_point() and not bool(torch.isfinite(b).all()):
        raise ValueError("`baselines` contains NaN or Inf values")
    b = b.to(device=x.device, dtype=x.dtype)
    # compact but 4-D: a leading dim of 1 or N, so rows can be picked per image
    return b.reshape((1,) * (4 - b.dim()) + tuple(b.shape))


def _split_args(additional_forward_args: Any, n: int) -> tuple[list[Any], list[bool]]:
    if additional_forward_args is None:
        return [], []
    args = (
        list(additional_forward_args)
        if isinstance(additional_forward_args, tuple)
        else [additional_forward_args]
    )
    per_example = [isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n for a in args]
    return args, per_example


def _renamed(new_value: Any, new_default: Any, old_value: Any, new_name: str, old_name: str) -> Any:
    """The value of a renamed argument: the new one, or the deprecated old one with a warning."""
    if old_value is _UNSET:
        return new_value
    warnings.warn(
        f"`{old_name}` is deprecated and will be removed in a future release; use "
        f"`{new_name}` (Captum's name) instead",
        DeprecationWarning,
        stacklevel=3,
    )
    if not (type(new_value) is type(new_default) and new_value == new_default):
        raise TypeError(f"give only one of `{new_name}` and its deprecated alias `{old_name}`")
    return old_value


@dataclass(frozen=True)
class _Ranking:
    """Removal order of the units and the step grid (the ranking step of a curve).

    Attributes:
        pixel_rank: (N, H*W) removal rank of every pixel's unit, in ``rank_dtype``.
        removed: (S,) number of units removed at each step, in ``rank_dtype``.
        fraction: (N, S) fraction of each image's pixels removed at each step.
        units_removed: (N, S) units removed at each step (capped per image).
        n_units: (N,) number of units of each image.
    """

    pixel_rank: Tensor
    removed: Tensor
    fraction: Tensor
    units_removed: Tensor
    n_units: Tensor


def _rank_units(
    rel: Tensor,
    unit: Tensor,
    kind: str,
    *,
    order: str,
    n_steps: int | None,
    segment_relevance: str,
    generator: torch.Generator,
) -> _Ranking:
    """Sort the units of every image by relevance and lay out the step grid."""
    n, hw = unit.shape
    device = unit.device
    k_per_image = unit.amax(1) + 1
    k_max = hw if kind == "pixels" else int(k_per_image.max())
    if n_steps is None:
        steps = min(hw, PIXEL_STEPS) if kind == "pixels" else k_max
    else:
        steps = check_positive_int(n_steps, "n_steps")
        if steps > k_max:
            raise ValueError(
                f"`n_steps` ({steps}) exceeds the number of {kind} to remove ({k_max})"
            )
    work = torch.promote_types(rel.dtype, torch.float32)
    counts = torch.zeros(n, k_max, dtype=torch.long, device=device).scatter_add_(
        1, unit, torch.ones_like(unit)
    )
    if kind == "pixels":
        unit_rel = rel.to(work)
    else:
        sums = torch.zeros(n, k_max, dtype=work, device=device).scatter_add_(1, unit, rel.to(work))
        unit_rel = sums / counts.clamp(min=1) if segment_relevance == "mean" else sums
    if order == "morf":
        key = -unit_rel
    elif order == "lerf":
        key = unit_rel.clone()
    else:
        key = torch.rand(n, k_max, generator=generator, dtype=torch.float64).to(
            device=device, dtype=work
        )
    key = torch.where(counts > 0, key, torch.full_like(key, math.inf))
    perm = torch.sort(key, dim=1, stable=True).indices
    positions = torch.arange(k_max, device=device).expand(n, k_max)
    rank_of_unit = torch.empty_like(perm).scatter_(1, perm, positions)
    # the smallest integer type holding the ranks: the per-chunk gather is memory bound
    rank_dtype = torch.int16 if k_max < 2**15 - 1 else torch.int32
    s = steps + 1
    ks = torch.arange(s, device=device)
    m = torch.div(2 * ks * k_max + steps, 2 * steps, rounding_mode="floor")  # (S,)
    area = torch.cat(
        [torch.zeros(n, 1, dtype=torch.long, device=device), counts.gather(1, perm).cumsum(1)],
        1,
    )
    return _Ranking(
        pixel_rank=rank_of_unit.gather(1, unit).to(rank_dtype),
        removed=m.to(rank_dtype),
        fraction=area.gather(1, m.expand(n, s)).to(work) / hw,
        units_removed=torch.minimum(m.expand(n, s), k_per_image[:, None]),
        n_units=k_per_image,
    )


def _perturbed_batches(
    x: Tensor,
    ranking: _Ranking,
    base: Tensor,
    additional_forward_args: Any,
    batch_size: int,
) -> Iterator[tuple[slice, Tensor, Tensor, Tensor, list[Any]]]:
    """The perturbed inputs of all (image, step) pairs, ``batch_size`` at a time.

    Yields ``(pairs, image_ids, step_ids, batch, forward_args)`` where ``pairs`` is the
    slice of the flat (image-major) pair index covered by the batch.
    """
    n, _, h, w = x.shape
    s = ranking.removed.shape[0]
    args, per_example = _split_args(additional_forward_args, n)
    total = n * s
    pair_image = torch.div(torch.arange(total, device=x.device), s, rounding_mode="floor")
    pair_step = torch.arange(total, device=x.device) % s
    for start in range(0, total, batch_size):
        end = min(start + batch_size, total)
        img = pair_image[start:end]
        stp = pair_step[start:end]
        removed = (ranking.pixel_rank[img] < ranking.removed[stp][:, None]).view(-1, 1, h, w)
        batch = x[img]
        fill = base[img] if base.shape[0] != 1 else base
        torch.where(removed, fill, batch, out=batch)
        call_args = [a[img] if pe else a for a, pe in zip(args, per_example)]
        yield slice(start, end), img, stp, batch, call_args


class _TargetScorer:
    """Reads the tracked score from the model's outputs (the scoring step of a curve).

    With ``target=None`` the class is the one predicted on the intact input (step 0),
    remembered per image; a model with one output per example is tracked as it is.
    A normalised tuple target (or list of tuples) is a multi-index into a
    (B, d1, ..., dk) output, the same for every image (or one per image); with
    ``softmax`` the softmax is taken over the last dimension.
    """

    def __init__(
        self, target: NormalizedTarget, n: int, *, softmax: bool, device: torch.device
    ) -> None:
        self.softmax = softmax
        self.n = n
        self.index: Tensor | None = None  # (n, d) multi-index per image
        if isinstance(target, Tensor):
            self.index = target.reshape(n, 1)
        elif target is not None:
            rows = [target] * n if isinstance(target, tuple) else target
            self.index = torch.tensor(rows, dtype=torch.long, device=device)
        self.target = target
        self.chosen = torch.full((n + 1,), -1, dtype=torch.long, device=device)
        if self.index is not None and self.index.shape[1] == 1:
            self.chosen[:n] = self.index[:, 0]
        self.one_score = False

    def _check_index(self, out: Tensor) -> None:
        assert self.index is not None
        dims = tuple(out.shape[1:])
        if self.index.shape[1] != len(dims):
            shown = int(self.index.max()) if isinstance(self.target, Tensor) else self.target
            raise ValueError(
                f"`target` {shown!r} indexes {self.index.shape[1]} dimension(s) per "
                f"example, but `forward_func` returns shape {tuple(out.shape)}; use class "
                "ids for (B, n_classes) outputs, a tuple for more dimensions"
            )
        top = self.index.amax(0).tolist()
        for i, size in zip(top, dims):
            if i >= size:
                if len(dims) == 1:
                    raise ValueError(
                        f"`target` {i} is out of range for {size} outputs (class ids 0..{size - 1})"
                    )
                raise ValueError(
                    f"`target` {self.target!r} is out of range for outputs of shape "
                    f"{tuple(out.shape)}"
                )

    def __call__(self, out: Any, img: Tensor, stp: Tensor) -> Tensor:
        check_model_output(out, "forward_func")
        b = img.shape[0]
        if out.dim() == 1 or (out.dim() == 2 and out.shape[1] == 1 and self.target is None):
            if out.shape[0] != b:
                raise ValueError(f"`forward_func` returned shape {tuple(out.shape)} for {b} inputs")
            if self.target is not None or self.softmax:
                raise ValueError(
                    "`forward_func` returns one score per example: use target=None and "
                    "softmax=False"
                )
            self.one_score = True
            return out.reshape(b)
        if out.shape[0] != b or (out.dim() > 2 and self.index is None):
            raise ValueError(
                f"`forward_func` must return (B, n_classes) or (B,) scores (or (B, d1, ...) "
                f"for a tuple `target`), got shape {tuple(out.shape)} for B={b}"
            )
        if self.index is not None:
            self._check_index(out)
        work = torch.promote_types(out.dtype, torch.float32)
        probs = torch.softmax(out.to(work), -1).to(out.dtype) if self.softmax else out
        if out.dim() == 2:
            if self.index is None:
                slot = torch.where(stp == 0, img, torch.full_like(img, self.n))
                self.chosen.scatter_(0, slot, out.argmax(1))
            return probs.gather(1, self.chosen[img][:, None]).squeeze(1)
        assert self.index is not None
        strides = torch.tensor(probs.shape[1:], device=out.device).flip(0).cumprod(0).flip(0)
        strides = torch.cat([strides[1:], strides.new_ones(1)])
        linear = (self.index[img].to(out.device) * strides).sum(1)
        return probs.reshape(b, -1).gather(1, linear[:, None]).squeeze(1)

    def used_targets(self) -> Tensor:
        """(N,) the class tracked per image (-1 for one-score models), or (N, d) the
        multi-index per image for tuple targets."""
        if self.one_score:
            return torch.full((self.n,), -1, dtype=torch.long, device=self.chosen.device)
        if self.index is not None and self.index.shape[1] > 1:
            return self.index
        return self.chosen[: self.n]


def relevance_curve(
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    attributions: Tensor,
    target: ClassTarget = None,
    *,
    segments: Tensor | None = None,
    patch_size: int | None = None,
    order: str = "morf",
    baselines: BaselineType = "zeros",
    n_steps: int | None = None,
    max_examples_per_batch: int = 64,
    additional_forward_args: Any = None,
    seed: int = 0,
    softmax: bool = True,
    segment_relevance: str = "mean",
    baseline: Any = _UNSET,
    batch_size: Any = _UNSET,
) -> RelevanceCurveResult:
    """Score curves while removing units (pixels, patches or segments) in relevance order.

    Units: ``segments`` (a (N, 1, H, W) or (1, 1, H, W) id mask, e.g. any segmenter's
    output; ids are made contiguous per image), else square patches of ``patch_size``
    pixels, else single pixels. A unit's relevance is the mean (or, with
    ``segment_relevance="sum"``, the sum) over its pixels of the channel-averaged
    attribution. Units are sorted by relevance (descending for MoRF, ascending for
    LeRF, a seeded random permutation for ``"random"``); ties keep the lower unit id
    first (stable sort). Removing a unit replaces all channels of its pixels by the
    baseline; removals accumulate.

    Step rule: with ``K`` the largest number of units over the batch, step
    ``k = 0..n_steps`` removes the first ``round(k * K / n_steps)`` units of each image
    (capped at the image's own number of units). ``n_steps`` defaults to ``K`` for
    segments and patches (one unit per step; images with fewer segments plateau once
    they are fully removed) and to ``min(H * W, 100)`` for pixels. The last step always
    removes everything.

    Sensitive to the baseline (a zeros baseline is far from the data for many
    models), to the unit (pixels give noisy, off-manifold inputs; segments depend on
    the segmenter) and, for AUC, to the step grid (the x axis is the fraction of
    pixels actually removed, so uneven segments are weighted by their area).

    Args:
        forward_func: model or function; called as
            ``forward_func(perturbed, *additional_forward_args)`` under ``no_grad`` and
            must return one tensor of (B, n_classes) or (B,) scores. Put the model in
            eval mode first (it runs as it is); an ``nn.Module`` comes out unchanged,
            hooks, modes and buffers (BatchNorm statistics) included.
        inputs: floating images (N, C, H, W).
        attributions: (N, C, H, W), (N, 1, H, W) or (N, H, W), finite; channels are
            averaged.
        target: Captum's convention: class per image as an int, a sequence, range,
            numpy array or tensor of N ints, or None (the class predicted on the intact
            input; for (B,) outputs, the output itself); a tuple is one multi-index
            into a (B, d1, ..., dk) output for all images (``(1, 3)`` tracks
            ``output[:, 1, 3]``; with ``softmax`` the softmax is over the last
            dimension), a list of N tuples one multi-index per image.
        segments: integer segment ids; excludes ``patch_size``.
        patch_size: side of square patches (the last row/column may be smaller).
        order: "morf" (default), "lerf" or "random".
        baselines: what removed pixels become: "zeros" (default), "mean" (per-image
            channel mean), "blur" (Gaussian, sigma :data:`BLUR_SIGMA` pixels; use a
            callable with :func:`gaussian_blur` for another sigma), "uniform" (seeded
            uniform noise in each image's [min, max]), a number, a tensor broadcastable
            to the inputs, or a callable ``inputs -> tensor`` broadcastable to the
            inputs.
        n_steps: number of removal steps, 1..K (see the step rule).
        max_examples_per_batch: number of perturbed images per forward call.
        additional_forward_args: extra positional arguments (one value or a tuple);
            tensors whose first dimension is N are indexed per perturbed image,
            anything else is passed unchanged.
        seed: seed for ``order="random"`` and ``baselines="uniform"`` (a local
            generator; the global RNG is untouched).
        softmax: track the softmax probability of the target (default) rather than the
            raw output; must be False for models returning one score per example.
        segment_relevance: "mean" (default) or "sum" of the attribution over a unit.
        baseline: deprecated alias of ``baselines``.
        batch_size: deprecated alias of ``max_examples_per_batch``.

    Returns:
        :class:`RelevanceCurveResult`; curves on the inputs' device in the output dtype.

    Raises:
        TypeError: the model fails on ``inputs`` of another dtype than its parameters.
        ValueError: bad arguments, or ``forward_func`` returns NaN or Inf scores.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
        >>> x = torch.rand(2, 1, 4, 4)
        >>> res = relevance_curve(model, x, x, target=0, patch_size=2)
        >>> res.scores.shape, res.fraction_removed[0, -1].item()
        (torch.Size([2, 5]), 1.0)
    """
    baselines = _renamed(baselines, "zeros", baseline, "baselines", "baseline")
    max_examples_per_batch = _renamed(
        max_examples_per_batch, 64, batch_size, "max_examples_per_batch", "batch_size"
    )
    x = check_image_batch(inputs)
    n = x.shape[0]
    rel = _reduce_attributions(attributions, x)
    check_choice(order, "order", ORDERS)
    check_choice(segment_relevance, "segment_relevance", ("mean", "sum"))
    bs = check_positive_int(max_examples_per_batch, "max_examples_per_batch")
    seed = check_seed(seed)
    if not isinstance(softmax, bool):
        raise TypeError(f"`softmax` must be a bool, got {describe(softmax)}")
    if not callable(forward_func):
        raise TypeError(f"`forward_func` must be callable, got {describe(forward_func)}")
    tgt = normalize_target(target, n, device=x.device)
    unit, kind = _unit_map(x, segments, patch_size)
    generator = torch.Generator().manual_seed(seed)
    ranking = _rank_units(
        rel,
        unit,
        kind,
        order=order,
        n_steps=n_steps,
        segment_relevance=segment_relevance,
        generator=generator,
    )
    base = _make_baseline(baselines, x, generator)

    scorer = _TargetScorer(tgt, n, softmax=softmax, device=x.device)
    s = ranking.removed.shape[0]
    scores: Tensor | None = None
    guard: AbstractContextManager[Any] = (
        preserved_model_state(forward_func)
        if isinstance(forward_func, nn.Module)
        else nullcontext()
    )
    with torch.no_grad(), explain_dtype_mismatch(forward_func, x), guard:
        batches = _perturbed_batches(x, ranking, base, additional_forward_args, bs)
        for pairs, img, stp, batch, call_args in batches:
            val = scorer(forward_func(batch, *call_args), img, stp)
            if scores is None:
                dt = val.dtype if val.is_floating_point() else torch.float32
                scores = torch.empty(n * s, dtype=dt, device=x.device)
            scores[pairs] = val.detach().to(scores.dtype)
    assert scores is not None
    curves = scores.reshape(n, s)
    if not bool(torch.isfinite(curves).all()):
        raise ValueError(
            "`forward_func` returned NaN or Inf scores on the inputs or their perturbations; "
            "check the model and the baseline"
        )
    frac = ranking.fraction.to(curves.dtype)
    return RelevanceCurveResult(
        scores=curves,
        fraction_removed=frac,
        units_removed=ranking.units_removed,
        auc=torch.trapezoid(curves, frac, dim=1),
        aopc=(curves[:, :1] - curves).mean(1),
        n_units=ranking.n_units,
        target=scorer.used_targets(),
        order=order,
    )


def relevance_gap(
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    attributions: Tensor,
    target: ClassTarget = None,
    *,
    segments: Tensor | None = None,
    patch_size: int | None = None,
    baselines: BaselineType = "zeros",
    n_steps: int | None = None,
    max_examples_per_batch: int = 64,
    additional_forward_args: Any = None,
    seed: int = 0,
    softmax: bool = True,
    segment_relevance: str = "mean",
    baseline: Any = _UNSET,
    batch_size: Any = _UNSET,
) -> RelevanceGapResult:
    """MoRF and LeRF curves on the same units and their gap ``LeRF AUC - MoRF AUC``.

    Higher gap is better: removing the most relevant units hurts more than removing
    the least relevant ones. Reporting both curves next to the gap exposes maps whose
    LeRF AUC alone looks good for the wrong reason (e.g. after pooling over segments).
    Arguments as in :func:`relevance_curve` (``order`` is fixed; ``baseline`` and
    ``batch_size`` are deprecated aliases of ``baselines`` and
    ``max_examples_per_batch``); the forward function is called twice
    ``ceil(N * (n_steps + 1) / max_examples_per_batch)`` times.

    Returns:
        :class:`RelevanceGapResult`.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
        >>> x = torch.rand(2, 1, 4, 4)
        >>> relevance_gap(model, x, x, target=0, patch_size=2).gap.shape
        torch.Size([2])
    """
    baselines = _renamed(baselines, "zeros", baseline, "baselines", "baseline")
    max_examples_per_batch = _renamed(
        max_examples_per_batch, 64, batch_size, "max_examples_per_batch", "batch_size"
    )
    kwargs: dict[str, Any] = dict(
        segments=segments,
        patch_size=patch_size,
        baselines=baselines,
        n_steps=n_steps,
        max_examples_per_batch=max_examples_per_batch,
        additional_forward_args=additional_forward_args,
        seed=seed,
        softmax=softmax,
        segment_relevance=segment_relevance,
    )
    morf = relevance_curve(forward_func, inputs, attributions, target, order="morf", **kwargs)
    lerf = relevance_curve(forward_func, inputs, attributions, target, order="lerf", **kwargs)
    return RelevanceGapResult(morf=morf, lerf=lerf, gap=lerf.auc - morf.auc)


__all__ = [
    "BASELINES",
    "BLUR_SIGMA",
    "ORDERS",
    "RelevanceCurveResult",
    "RelevanceGapResult",
    "gaussian_blur",
    "relevance_curve",
    "relevance_gap",
]
