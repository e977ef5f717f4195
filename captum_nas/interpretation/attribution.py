"""RelevantFeatures: explain a prediction by back-projecting its class's relevant channels.

Oramas et al. (ICLR 2019), "Visual Explanation by Interpretation": the image's feature
vector (channel energies, L2-normalised) times the class's lasso weights ranks the
class's relevant channels; the top ``n`` are back-projected to pixels, each map is
min-max normalised, and the maps are combined by pixel-wise max.

Back-projection of channel ``j`` of layer ``l`` runs Captum's ``GuidedBackprop``
(default) or ``Deconvolution`` (the paper's deconvnet) on the scalar
``0.5 * sum_{x,y} a_j(x, y)^2``: its gradient at the layer is the channel's own
activation map ``a_j``, so what is projected down is exactly the channel's response.

Why guided backprop by default: a deconvnet does not gate the backward signal by the
forward pass's ReLU pattern, so a deep channel's projection spreads over its whole
receptive field whatever the image shows (on the reference flowers, layer4's field is
most of the image); guided backprop keeps only the paths that were active for this
image. Measured on the flowers (README, ``benchmarks/bench_interpretation.py``), the
guided back-projection covers the deciding part about three times better (best IoU with
the petals 0.2 with deconvolution). ``backprojection="deconvolution"`` gives the
paper's choice, ``"upsample"`` its "upsampled activations" baseline.

Stride artefacts: the backward pass of a strided convolution whose kernel is not a
multiple of its stride (3x3, stride 2 here) hands every input pixel the sum over 1, 2
or 4 output positions, a checkerboard that survives to the pixels. With
``fix_stride=True`` (default) the backward signal entering every strided ``Conv2d`` is
divided by that coverage count (how many output positions see each input pixel), so a
flat signal stays flat. This is our fix in the spirit of the paper's (which we do not
reproduce literally); ``fix_stride=False`` gives the plain method.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import Attribution, Deconvolution, GuidedBackprop
from captum.log import log_usage
from torch import Tensor, nn

from captum_nas._model_state import ActivationCapture, preserved_model_state, resolve_layer
from captum_nas._validation import (
    check_choice,
    check_image_batch,
    check_positive_int,
    check_target,
    describe,
)
from captum_nas.interpretation.features import energy_from_activations
from captum_nas.interpretation.selector import RelevantFeatureSelector

BACKPROJECTIONS = ("deconvolution", "guided-backprop", "upsample")
#: CLI model name -> shipped selector file in ``captum_nas/data``.
SHIPPED_SELECTORS = {
    "reference": "selector_reference_single.pt",
    "reference-double": "selector_reference_double.pt",
}


def _as_args(additional_forward_args: Any) -> tuple[Any, ...]:
    if additional_forward_args is None:
        return ()
    if isinstance(additional_forward_args, tuple):
        return additional_forward_args
    return (additional_forward_args,)


class _FeatureResponses(nn.Module):
    """``x -> (N, d)``: half the energy of every channel of the selector's layers."""

    def __init__(self, model: nn.Module, layers: list[nn.Module]) -> None:
        super().__init__()
        self.model = model
        self.layers = layers  # plain list: not registered twice

    def forward(self, x: Tensor, *args: Any) -> Tensor:
        with ActivationCapture(self.layers, detach=False) as cap:
            self.model(x, *args)
        acts = cap.outputs
        return torch.cat([0.5 * a.pow(2).flatten(2).sum(-1) for a in acts], dim=1)


class _OverlapNormalize(torch.autograd.Function):
    """Identity forward; backward divides the gradient by a coverage count."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, count: Tensor) -> Tensor:
        ctx.save_for_backward(count)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (count,) = ctx.saved_tensors
        return grad / count, None


def coverage_count(conv: nn.Conv2d, input_shape: tuple[int, int], like: Tensor) -> Tensor:
    """How many output positions of ``conv`` see each input pixel: (1, 1, H, W), >= 1.

    Example:
        >>> from torch import nn
        >>> x = torch.zeros(1, 1, 4, 4)     # only its dtype and device are used
        >>> coverage_count(nn.Conv2d(1, 1, 3, stride=2, padding=1), (4, 4), x)[0, 0, 0]
        tensor([1., 2., 1., 1.])
    """
    h, w = input_shape
    stride = conv.stride
    padding = conv.padding
    if isinstance(padding, str):  # "same"/"valid": PyTorch only allows these with stride 1
        padding = (0, 0)
    kernel = torch.ones(1, 1, *conv.kernel_size, dtype=like.dtype, device=like.device)
    probe = torch.zeros(1, 1, h, w, dtype=like.dtype, device=like.device, requires_grad=True)
    with torch.enable_grad():
        out = F.conv2d(probe, kernel, stride=stride, padding=padding, dilation=conv.dilation)
        (count,) = torch.autograd.grad(out.sum(), probe)
    return count.clamp_min(1.0)


@contextmanager
def stride_fix(model: nn.Module) -> Iterator[int]:
    """Divide the backward signal entering every strided ``Conv2d`` by its coverage count.

    Yields the number of convolutions changed; the hooks go away on exit.
    """
    handles = []

    def pre_hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        x = args[0]
        if not isinstance(x, Tensor) or not x.requires_grad or x.dim() != 4:
            return None
        assert isinstance(module, nn.Conv2d)
        count = coverage_count(module, (int(x.shape[-2]), int(x.shape[-1])), x)
        return (_OverlapNormalize.apply(x, count), *args[1:])

    try:
        for m in model.modules():
            if isinstance(m, nn.Conv2d) and max(m.stride) > 1:
                handles.append(m.register_forward_pre_hook(pre_hook))
        yield len(handles)
    finally:
        for h in handles:
            h.remove()


def shipped_selector_path(model_name: str) -> Path:
    """Path of the selector shipped for a CLI model name (``reference``, ``reference-double``).

    Raises:
        ValueError: no selector ships for ``model_name``.
    """
    if model_name not in SHIPPED_SELECTORS:
        raise ValueError(
            f"no fitted selector ships for model {model_name!r} (shipped for "
            f"{sorted(SHIPPED_SELECTORS)}); fit one with RelevantFeatureSelector and pass "
            "`--selector PATH`"
        )
    root = resources.files("captum_nas").joinpath("data")
    return Path(str(root)) / SHIPPED_SELECTORS[model_name]


def load_selector(selector: str | Path | RelevantFeatureSelector) -> RelevantFeatureSelector:
    """A fitted selector from a selector, a file path, or a shipped model name."""
    if isinstance(selector, RelevantFeatureSelector):
        return selector
    if isinstance(selector, str) and selector in SHIPPED_SELECTORS:
        return RelevantFeatureSelector.load(shipped_selector_path(selector))
    if isinstance(selector, (str, Path)):
        return RelevantFeatureSelector.load(selector)
    raise TypeError(
        "`selector` must be a RelevantFeatureSelector, a path or one of "
        f"{sorted(SHIPPED_SELECTORS)}, got {describe(selector)}"
    )


class RelevantFeatures(Attribution):
    r"""Explain by the class's relevant internal features (Oramas et al., ICLR 2019).

    A Captum ``Attribution``: composes with ``NoiseTunnel`` and
    :class:`~captum_nas.attr.SuperpixelAttribution` (NAS pooling).

    Args:
        model: the classifier (``nn.Module``) the selector was fitted on.
        selector: a fitted :class:`RelevantFeatureSelector`, or a path to one saved with
            :meth:`RelevantFeatureSelector.save`.
        backprojection: ``"guided-backprop"`` (default), ``"deconvolution"`` (the
            paper's deconvnet; see the module doc for why it is not the default), or
            ``"upsample"`` (the channel's activation map upsampled bilinearly to the
            input size: the paper's "upsampled activations" baseline, same features,
            no back-projection).
        fix_stride: remove the checkerboard of strided convolutions (see module doc).

    Example:
        >>> from captum_nas.interpretation import ChannelEnergy
        >>> energy = ChannelEnergy(model, ["layer1", "layer2"])
        >>> x, y = torch.rand(10, 3, 32, 32), torch.arange(5).repeat(2)
        >>> selector = RelevantFeatureSelector(max_per_class=5).fit(
        ...     energy(x), y, layout=energy.layout
        ... )                                                  # or RelevantFeatureSelector.load
        >>> explainer = RelevantFeatures(model, selector)
        >>> attr = explainer.attribute(images, top_n=3)        # images' shape, in [0, 1]
        >>> attr.shape, bool(attr.min() >= 0), bool(attr.max() <= 1)
        (torch.Size([2, 3, 32, 32]), True, True)
        >>> indices, relevance = explainer.top_features(images)  # which channels were used
        >>> indices.shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        model: nn.Module,
        selector: RelevantFeatureSelector | str | Path,
        *,
        backprojection: str = "guided-backprop",
        fix_stride: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be an nn.Module, got {describe(model)}")
        sel = load_selector(selector)
        sel._require_fitted()
        check_choice(backprojection, "backprojection", BACKPROJECTIONS)
        if not isinstance(fix_stride, bool):
            raise TypeError(f"`fix_stride` must be a bool, got {describe(fix_stride)}")
        assert sel.layout is not None
        self.layers = [resolve_layer(model, name, "selector") for name in sel.layout.layers]
        super().__init__(model)
        self.model = model
        self.selector = sel
        self.backprojection = backprojection
        self.fix_stride = fix_stride

    def _features_and_logits(self, inputs: Tensor, args: tuple[Any, ...]) -> tuple[Tensor, Tensor]:
        with preserved_model_state(self.model), torch.no_grad():
            with ActivationCapture(self.layers) as cap:
                logits = self.model(inputs, *args)
            feats = energy_from_activations(cap.outputs)
        if feats.shape[1] != self.selector.n_features:
            raise ValueError(
                f"the model's layers {self.selector.layout.layers} give "  # type: ignore[union-attr]
                f"{feats.shape[1]} features, the `selector` expects {self.selector.n_features}"
            )
        if logits.dim() == 2 and logits.shape[1] != self.selector.n_classes:
            raise ValueError(
                f"the model has {logits.shape[1]} outputs, the `selector` was fitted for "
                f"{self.selector.n_classes} classes"
            )
        return feats, logits

    def _targets(self, target: Any, logits: Tensor, n: int) -> Tensor:
        t = check_target(target, n, device=logits.device)
        if t is None:
            t = logits.argmax(1)
        if int(t.max()) >= self.selector.n_classes:
            raise ValueError(
                f"`target` {int(t.max())} is out of range for the selector's "
                f"{self.selector.n_classes} classes"
            )
        return t

    def top_features(
        self,
        inputs: Tensor,
        target: Any = None,
        top_n: int = 3,
        additional_forward_args: Any = None,
    ) -> tuple[Tensor, Tensor]:
        """The image's top-``n`` relevant features for its target class.

        Args:
            inputs: images (N, C, H, W).
            target: class per image (default: the predicted class).
            top_n: features per image.
            additional_forward_args: further model arguments (Captum's convention).

        Returns:
            ``(indices, relevance)``, both (N, n'): feature indices (see
            ``selector.layout.locate``) and their relevance, best first, where
            ``n' = min(top_n, most relevant features of any target class)``; an image
            whose class has fewer relevant features gets ``-1`` / ``-inf`` padding.
        """
        check_image_batch(inputs, "inputs")
        top_n = check_positive_int(top_n, "top_n")
        feats, logits = self._features_and_logits(inputs, _as_args(additional_forward_args))
        t = self._targets(target, logits, inputs.shape[0])
        rel = self.selector.relevance(feats, t)
        k = min(top_n, rel.shape[1])
        vals, idx = rel.topk(k, dim=1)
        valid = torch.isfinite(vals)
        k_used = max(1, int(valid.sum(1).max()))
        idx = torch.where(valid, idx, torch.full_like(idx, -1))[:, :k_used]
        return idx, vals[:, :k_used]

    def _method(self, wrapper: nn.Module) -> Attribution:
        if self.backprojection == "deconvolution":
            return Deconvolution(wrapper)
        return GuidedBackprop(wrapper)

    def backproject(
        self, inputs: Tensor, feature: Tensor, additional_forward_args: Any = None
    ) -> Tensor:
        """Back-projection (N, C, H, W) of one feature per image (``feature``: (N,) ids);
        (N, 1, H, W) for ``backprojection="upsample"``."""
        if self.backprojection == "upsample":
            return self._upsampled(inputs, feature, additional_forward_args)
        wrapper = _FeatureResponses(self.model, self.layers)
        method = self._method(wrapper)
        x = inputs.detach().requires_grad_(True)
        fix = stride_fix(self.model) if self.fix_stride else nullcontext()
        with preserved_model_state(self.model), fix, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
            out = method.attribute(
                x, target=feature, additional_forward_args=additional_forward_args
            )
        return out.detach()

    def _upsampled(self, inputs: Tensor, feature: Tensor, additional_forward_args: Any) -> Tensor:
        assert self.selector.layout is not None
        with preserved_model_state(self.model), torch.no_grad():
            with ActivationCapture(self.layers) as cap:
                self.model(inputs, *_as_args(additional_forward_args))
            acts = cap.outputs
        offsets = torch.tensor(self.selector.layout.offsets, device=feature.device)
        layer_of = torch.searchsorted(offsets, feature, right=True) - 1
        out = torch.zeros(inputs.shape[0], 1, *inputs.shape[-2:], device=inputs.device)
        for li, act in enumerate(acts):
            rows = torch.nonzero(layer_of == li).flatten()
            if rows.numel() == 0:
                continue
            channel = (feature[rows] - offsets[li]).to(act.device)
            maps = act[rows.to(act.device), channel].unsqueeze(1).float()
            up = F.interpolate(maps, size=tuple(inputs.shape[-2:]), mode="bilinear")
            out[rows] = up.to(out.device)
        return out.to(inputs.dtype)

    @log_usage()
    def attribute(
        self,
        inputs: Tensor,
        target: Any = None,
        top_n: int = 3,
        additional_forward_args: Any = None,
    ) -> Tensor:
        r"""Pixel map of the top-``n`` relevant features of each image's target class.

        Args:
            inputs: images (N, C, H, W) as the model expects them.
            target: class per image (int, sequence or tensor); default: the predicted
                class.
            top_n: relevant features back-projected per image (3 in the paper).
            additional_forward_args: further model arguments (Captum's convention).

        Returns:
            Tensor of the inputs' shape, dtype and device, values in [0, 1]: the
            pixel-wise max of the min-max normalised back-projections (the same map
            repeated over the channels).

        Raises:
            ValueError: a target class has no relevant feature, the model and the
                selector do not match, or bad ``inputs``/``target``/``top_n``.
        """
        check_image_batch(inputs, "inputs")
        idx, _ = self.top_features(inputs, target, top_n, additional_forward_args)
        n, c, h, w = inputs.shape
        combined = torch.zeros(n, 1, h, w, dtype=inputs.dtype, device=inputs.device)
        for r in range(idx.shape[1]):
            valid = idx[:, r] >= 0
            bp = self.backproject(inputs, idx[:, r].clamp_min(0), additional_forward_args)
            heat = bp.abs().sum(1, keepdim=True)
            flat = heat.flatten(1)
            lo = flat.min(1).values.view(n, 1, 1, 1)
            hi = flat.max(1).values.view(n, 1, 1, 1)
            norm = (heat - lo) / (hi - lo).clamp_min(torch.finfo(heat.dtype).tiny)
            norm = torch.where(valid.view(n, 1, 1, 1), norm, torch.zeros_like(norm))
            combined = torch.maximum(combined, norm.to(inputs.dtype))
        return combined.expand(n, c, h, w).contiguous()

    @property
    def multiplies_by_inputs(self) -> bool:
        return False


def build(model: nn.Module, ctx: Any) -> RelevantFeatures:
    """Registry builder: ``ctx.options["selector"]`` (a path or a selector), else the
    selector shipped for ``ctx.model_name`` (``reference``, ``reference-double``).

    Raises:
        ValueError: no selector given and none ships for the model.
    """
    options: Mapping[str, Any] = getattr(ctx, "options", {}) or {}
    selector = options.get("selector")
    if selector is None:
        name = getattr(ctx, "model_name", None)
        if name not in SHIPPED_SELECTORS:
            raise ValueError(
                f"relevant-features needs a fitted selector for model {name!r}: pass "
                f"`--selector PATH` (shipped ones: {sorted(SHIPPED_SELECTORS)})"
            )
        selector = shipped_selector_path(name)
    backprojection = options.get("backprojection", "guided-backprop")
    return RelevantFeatures(model, selector, backprojection=backprojection)
