"""One registry of attribution methods and segmenters, shared by every entry point.

The Python API, ``captum-nas explain``, ``captum-nas evaluate``, the evaluation runner
and the benchmarks build methods and segmenters only through this module, so a method's
defaults (GradientShap's baselines, the occlusion window, GradCAM's default layer) live
in one place, and one :func:`register_method` entry adds a method everywhere.

A method is a :class:`MethodSpec`: ``spec.build(model, ctx)`` gives the plain Captum
attribution (pixel or layer level, unpooled) and :func:`method_kwargs` the keyword
arguments of its ``attribute`` call (the spec's per-input defaults plus the user's
options from the :class:`BuildContext`)::

    spec = get_method("IG")                      # case-insensitive, aliases
    ctx = BuildContext(options={"n_steps": 16}, seed=0)
    attribution = spec.build(model, ctx)
    pixel_map = attribution.attribute(x, target=t, **method_kwargs(spec, x, ctx))

Pooling over segments is the caller's job (:class:`~captum_nas.attr.SuperpixelAttribution`
or :func:`~captum_nas.pooling.segment_pool`). Segment-level methods
(:attr:`MethodSpec.segment_level`: LIME, KernelSHAP, feature ablation) take the
segments as Captum's ``feature_mask``.

A segmenter is a :class:`SegmenterSpec`: ``spec.build(model, n_segments, seed)`` gives
a callable ``(N, C, H, W) -> (N, 1, H, W)`` segment ids, or ``None`` for "no pooling".
:func:`build_segmenter` also hands segmenters that work on images in [0, 1]
(:attr:`SegmenterSpec.takes_images`) the function that recovers them from the
model's inputs.

Builders import their packages inside the function, so registering a method never
imports it (and never creates an import cycle).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from captum_nas._types import SegmenterFn
from captum_nas._validation import lookup_name

if TYPE_CHECKING:  # pragma: no cover
    from captum.attr import Attribution

    from captum_nas.attr.superpixel import SuperpixelAttribution

__all__ = [
    "BuildContext",
    "MethodSpec",
    "SegmenterSpec",
    "build_segmenter",
    "default_gradcam_layer",
    "get_method",
    "get_segmenter",
    "method_kwargs",
    "method_names",
    "register_method",
    "register_segmenter",
    "seeded",
    "segmenter_names",
    "superpixel_attribution",
]


# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class BuildContext:
    """What a method's ``build`` may use besides the model.

    Attributes:
        model_name: the model's name on the command line (``"reference"``,
            ``"efficientnet-lite0"``, ``"resnet18"``, ...), used for per-model defaults
            such as GradCAM's layer; ``None`` when unknown.
        layer: the user's layer (resolved to a module); ``None`` = the method's default.
        options: method-specific options. ``"n_steps"`` is the one every entry point
            understands: it sets the keyword named by :attr:`MethodSpec.steps_kwarg`
            (IG's ``n_steps``, GradientShap's and LIME's ``n_samples``).
        seed: seed of the method's own randomness (the caller seeds sampling with it).
    """

    model_name: str | None = None
    layer: nn.Module | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0


def _no_kwargs(inputs: Tensor) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class MethodSpec:
    """How to build one attribution method, with its defaults.

    Attributes:
        name: lower-case name used on the command line (``"integrated-gradients"``).
        build: ``build(model, ctx)`` -> the Captum attribution (pixel or layer level).
        attribute_kwargs: ``attribute_kwargs(inputs)`` -> per-call defaults of its
            ``attribute`` (baselines, windows, ...), computed from the inputs' shape.
        uses_layer: whether the method takes a layer (``--layer``).
        summary: one line for ``--help``.
        aliases: other accepted names (``("ig",)``).
        steps_kwarg: the ``attribute`` keyword set by the ``"n_steps"`` option
            (``--n-steps``), or ``None`` when the method has no such knob.
        segment_level: the method scores segments, not pixels: it needs the segments
            as ``feature_mask`` (LIME, KernelSHAP, feature ablation).
        nonnegative: the map is non-negative by construction (saliency's absolute
            gradients, GradCAM after its ReLU); figures show it on a one-sided scale.
    """

    name: str
    build: Callable[[nn.Module, BuildContext], Attribution]
    attribute_kwargs: Callable[[Tensor], dict[str, Any]] = _no_kwargs
    uses_layer: bool = False
    summary: str = ""
    aliases: tuple[str, ...] = ()
    steps_kwarg: str | None = None
    segment_level: bool = False
    nonnegative: bool = False


@dataclass(frozen=True)
class SegmenterSpec:
    """How to build one segmenter.

    Attributes:
        name: lower-case name (``"nas"``, ``"slic"``, ...).
        build: ``build(model, n_segments, seed)`` -> a segmenter ``(N, C, H, W) ->
            (N, 1, H, W)`` long ids, or ``None`` (no pooling). When ``takes_images``
            it also accepts the keyword ``to_image`` (see :func:`build_segmenter`).
        summary: one line for ``--help``.
        takes_images: the segmenter works on images in [0, 1] (scikit-image): it is
            built with ``to_image=``, the function that maps model inputs back to them.
        aliases: other accepted names.
    """

    name: str
    build: Callable[..., SegmenterFn | None]
    summary: str = ""
    takes_images: bool = False
    aliases: tuple[str, ...] = ()


_METHODS: dict[str, MethodSpec] = {}
_METHOD_LOOKUP: dict[str, str] = {}
_SEGMENTERS: dict[str, SegmenterSpec] = {}
_SEGMENTER_LOOKUP: dict[str, str] = {}


def _register(
    kind: str,
    name: str,
    aliases: tuple[str, ...],
    table: dict[str, Any],
    lookup: dict[str, str],
    spec: Any,
) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip().lower():
        raise ValueError(
            f"{kind} name must be a non-empty lower-case string without surrounding "
            f"spaces, got {name!r}"
        )
    keys = [name, *(a.lower() for a in aliases)]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{kind} {name!r}: its aliases {aliases} repeat a name")
    for key in keys:
        if key in lookup:
            raise ValueError(
                f"{kind} name {key!r} is already registered (by {lookup[key]!r}); "
                "choose another name or alias"
            )
    table[name] = spec
    for key in keys:
        lookup[key] = name


def register_method(spec: MethodSpec) -> MethodSpec:
    """Add a method to the registry.

    Args:
        spec: the method; its name and aliases must not be registered yet.

    Returns:
        ``spec`` (so the call can be used as an expression).

    Raises:
        TypeError: ``spec`` is not a :class:`MethodSpec`.
        ValueError: the name or an alias is taken, or the name is not lower-case.

    Example:
        >>> from captum.attr import Saliency
        >>> spec = MethodSpec("saliency", lambda m, ctx: Saliency(m))
        >>> register_method(spec)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: method name 'saliency' is already registered ...
    """
    if not isinstance(spec, MethodSpec):
        raise TypeError(f"`spec` must be a MethodSpec, got {type(spec).__name__}")
    _register("method", spec.name, spec.aliases, _METHODS, _METHOD_LOOKUP, spec)
    return spec


def get_method(name: str) -> MethodSpec:
    """The method registered under ``name`` or one of its aliases (case-insensitive).

    Raises:
        ValueError: unknown name; the message suggests close names.

    Example:
        >>> get_method("IG").name
        'integrated-gradients'
    """
    spec: MethodSpec = lookup_name("method", name, _METHODS, _METHOD_LOOKUP)
    return spec


def method_names() -> tuple[str, ...]:
    """The registered method names (no aliases), in registration order."""
    return tuple(_METHODS)


def register_segmenter(spec: SegmenterSpec) -> SegmenterSpec:
    """Add a segmenter to the registry (see :func:`register_method`)."""
    if not isinstance(spec, SegmenterSpec):
        raise TypeError(f"`spec` must be a SegmenterSpec, got {type(spec).__name__}")
    _register("segmenter", spec.name, spec.aliases, _SEGMENTERS, _SEGMENTER_LOOKUP, spec)
    return spec


def get_segmenter(name: str) -> SegmenterSpec:
    """The segmenter registered under ``name`` (case-insensitive, with suggestions)."""
    spec: SegmenterSpec = lookup_name("segmenter", name, _SEGMENTERS, _SEGMENTER_LOOKUP)
    return spec


def segmenter_names() -> tuple[str, ...]:
    """The registered segmenter names, in registration order."""
    return tuple(_SEGMENTERS)


# ----------------------------------------------------------------------------- helpers


def method_kwargs(spec: MethodSpec, inputs: Tensor, ctx: BuildContext) -> dict[str, Any]:
    """The keyword arguments of ``spec``'s ``attribute`` call for ``inputs``.

    The spec's per-input defaults, with ``ctx.options["n_steps"]`` (when given and the
    method has a steps knob) written to :attr:`MethodSpec.steps_kwarg`.

    Example:
        >>> method_kwargs(get_method("ig"), images, BuildContext(options={"n_steps": 8}))
        {'n_steps': 8}
    """
    kwargs = dict(spec.attribute_kwargs(inputs))
    steps = ctx.options.get("n_steps")
    if steps is not None and spec.steps_kwarg is not None:
        kwargs[spec.steps_kwarg] = steps
    return kwargs


@functools.cache
def _segment_level_class() -> type[SuperpixelAttribution]:
    from captum_nas.attr.superpixel import SuperpixelAttribution

    class SegmentLevelAttribution(SuperpixelAttribution):
        """A segment-level method: the segments are its feature mask, nothing is pooled."""

        _segments_as_feature_mask = True

        def __init__(self, attribution: Attribution, segmenter: SegmenterFn | None) -> None:
            super().__init__(attribution, segmenter)
            self.pooling = None

    return SegmentLevelAttribution


def superpixel_attribution(
    spec: MethodSpec | str,
    model: nn.Module,
    ctx: BuildContext | None = None,
    segmenter: SegmenterFn | None = None,
    **options: Any,
) -> SuperpixelAttribution:
    """The method ``spec`` built on ``model`` and wrapped for pooling over ``segmenter``.

    A pixel or layer method becomes a
    :class:`~captum_nas.attr.SuperpixelAttribution` (``options``: its ``pooling``,
    ``n_segments``, ...); a segment-level method one that passes the segments as its
    ``feature_mask`` and pools nothing (it takes no options). Call it with the method's
    keyword arguments: ``wrapper.attribute(x, target=t, **method_kwargs(spec, x, ctx))``.

    Example:
        >>> from captum_nas.segmentation import GridSegmenter
        >>> sp = superpixel_attribution("saliency", model, segmenter=GridSegmenter(4))
        >>> res = sp.attribute(images, target=labels, return_result=True)
        >>> res.scores.shape
        torch.Size([2, 4])
    """
    from captum_nas.attr.superpixel import SuperpixelAttribution

    spec = get_method(spec) if isinstance(spec, str) else spec
    ctx = BuildContext() if ctx is None else ctx
    attribution = spec.build(model, ctx)
    if spec.segment_level:
        if options:
            raise TypeError(
                f"method {spec.name!r} scores segments and pools nothing; it takes no "
                f"options, got {sorted(options)}"
            )
        return _segment_level_class()(attribution, segmenter)
    return SuperpixelAttribution(attribution, segmenter, **options)


def build_segmenter(
    name: str,
    model: nn.Module,
    n_segments: int,
    seed: int = 0,
    *,
    to_image: Callable[[Tensor], Tensor] | None = None,
) -> SegmenterFn | None:
    """Build the segmenter registered as ``name``.

    Args:
        name: a registered name (case-insensitive).
        model: the classifier (used by NAS).
        n_segments: segments per image (where the segmenter takes a number).
        seed: seed of the segmenter's randomness (NAS k-means, quickshift's noise).
        to_image: maps model inputs to images in [0, 1] (e.g. ``normalizer.inverse``),
            given to segmenters that work on images.

    Returns:
        The segmenter, or ``None`` for ``"none"`` (no pooling).
    """
    spec = get_segmenter(name)
    if spec.takes_images:
        return spec.build(model, n_segments, seed, to_image=to_image)
    return spec.build(model, n_segments, seed)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed the global torch and NumPy generators inside the block, restore them after.

    Captum's sampling methods draw from both global generators (GradientShap picks its
    baselines with NumPy, its noise with torch; LIME and KernelSHAP sample with torch),
    so a reproducible call seeds both; restoring them keeps the caller's streams intact.

    Example:
        >>> with seeded(0):
        ...     a = torch.rand(2)
        >>> with seeded(0):
        ...     b = torch.rand(2)
        >>> torch.equal(a, b)
        True
    """
    import numpy as np
    import torch

    np_state = np.random.get_state()
    # CUDA generators are saved and restored once CUDA is in use (not initialised for it)
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)


#: GradCAM layers by model name prefix (longest matching prefix wins): the built-in
#: models and the torchvision families.
_GRADCAM_LAYERS = {
    "efficientnet-lite0": "_blocks.15",
    "reference": "layer4",
    "resnet": "layer4",
    "resnext": "layer4",
    "wide_resnet": "layer4",
    "regnet": "trunk_output",
    "vgg": "features",
    "alexnet": "features",
    "densenet": "features",
    "squeezenet": "features",
    "mobilenet": "features",
    "efficientnet": "features",
    "convnext": "features",
    "mnasnet": "layers",
    "shufflenet": "conv5",
    "googlenet": "inception5b",
    "inception": "Mixed_7c",
}


def default_gradcam_layer(model: nn.Module, model_name: str | None = None) -> str:
    """GradCAM's default layer: the one place where it is chosen.

    A known model name (the built-in models, torchvision families) gives its last
    convolutional stage when the model has a module of that name; otherwise the last
    stage output found by :func:`~captum_nas.segmentation.auto_layers` for 224 x 224
    (or 128 x 128) inputs.

    Args:
        model: the classifier.
        model_name: its name on the command line, if known.

    Returns:
        A dotted module name of ``model``.

    Raises:
        ValueError: no spatial layer was found; pass the layer explicitly.

    Example:
        >>> default_gradcam_layer(model)  # probed: the last stage
        'layer2'
    """
    if model_name:
        best = ""
        for prefix in _GRADCAM_LAYERS:
            if model_name.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        if best and _GRADCAM_LAYERS[best] in dict(model.named_modules()):
            return _GRADCAM_LAYERS[best]
    from captum_nas.segmentation import auto_layers

    for size in (224, 128):
        try:
            return auto_layers(model, (3, size, size))[-1]
        except (ValueError, RuntimeError):
            continue
    raise ValueError("cannot find a spatial layer for GradCAM; pass the layer name")


# ----------------------------------------------------------------------------- methods


def _occlusion_window(inputs: Tensor) -> dict[str, Any]:
    side = max(1, min(inputs.shape[-2:]) // 14)
    shape = (inputs.shape[1], side, side)
    return {"sliding_window_shapes": shape, "strides": shape, "perturbations_per_eval": 16}


def _gradientshap_baselines(inputs: Tensor) -> dict[str, Any]:
    import torch

    gen = torch.Generator(device="cpu").manual_seed(0)
    noise = torch.randn((4, *inputs.shape[1:]), generator=gen) * 0.1
    return {"baselines": noise.to(device=inputs.device, dtype=inputs.dtype)}


def _simple(class_name: str) -> Callable[[nn.Module, BuildContext], Attribution]:
    def build(model: nn.Module, ctx: BuildContext) -> Attribution:
        import captum.attr

        cls: Any = getattr(captum.attr, class_name)
        result: Attribution = cls(model)
        return result

    build.__name__ = f"build_{class_name}"
    return build


def _register_captum(name: str, class_name: str, summary: str, **fields: Any) -> MethodSpec:
    """Register the Captum class ``class_name``, built from the model alone, as ``name``."""
    return register_method(MethodSpec(name, _simple(class_name), summary=summary, **fields))


def _gradcam(model: nn.Module, ctx: BuildContext) -> Attribution:
    from captum.attr import LayerGradCam

    from captum_nas._model_state import resolve_layer

    layer = ctx.layer
    if layer is None:
        layer = resolve_layer(model, default_gradcam_layer(model, ctx.model_name), "layer")
    return LayerGradCam(model, layer)


def _lime(model: nn.Module, ctx: BuildContext) -> Attribution:
    from captum.attr import Lime

    from captum_nas.attr.perturbation import TorchLinearRegression

    return Lime(model, interpretable_model=TorchLinearRegression(alpha=1.0))


def _kernelshap(model: nn.Module, ctx: BuildContext) -> Attribution:
    from captum.attr import KernelShap

    from captum_nas.attr.perturbation import TorchLinearRegression

    attribution = KernelShap(model)
    attribution.interpretable_model = TorchLinearRegression(alpha=0.0)
    return attribution


def _batched_perturbations(inputs: Tensor) -> dict[str, Any]:
    return {"perturbations_per_eval": 16}


# ----------------------------------------------------------------------------- segmenters


def _seg_none(model: nn.Module, n_segments: int, seed: int) -> SegmenterFn | None:
    return None


def _seg_grid(model: nn.Module, n_segments: int, seed: int) -> SegmenterFn:
    from captum_nas.segmentation import GridSegmenter

    return GridSegmenter(n_segments)


def _seg_slic(model: nn.Module, n_segments: int, seed: int, *, to_image: Any = None) -> SegmenterFn:
    from captum_nas.segmentation import SLICSegmenter

    return SLICSegmenter(n_segments, to_image=to_image)


def _seg_quickshift(
    model: nn.Module, n_segments: int, seed: int, *, to_image: Any = None
) -> SegmenterFn:
    from captum_nas.segmentation import QuickshiftSegmenter

    return QuickshiftSegmenter(seed=seed, to_image=to_image)


def _seg_felzenszwalb(
    model: nn.Module, n_segments: int, seed: int, *, to_image: Any = None
) -> SegmenterFn:
    from captum_nas.segmentation import FelzenszwalbSegmenter

    return FelzenszwalbSegmenter(to_image=to_image)


def _seg_watershed(
    model: nn.Module, n_segments: int, seed: int, *, to_image: Any = None
) -> SegmenterFn:
    from captum_nas.segmentation import WatershedSegmenter

    return WatershedSegmenter(n_segments, to_image=to_image)


def _seg_nas(model: nn.Module, n_segments: int, seed: int) -> SegmenterFn:
    from captum_nas.segmentation import NASSegmenter

    return NASSegmenter(model, n_segments=n_segments, seed=seed)


# ----------------------------------------------------------------------------- the table
# One entry per method / segmenter. A new method is one more register_method line.

_register_captum(
    "saliency", "Saliency", "absolute input gradients (Simonyan et al.)", nonnegative=True
)
_register_captum(
    "integrated-gradients",
    "IntegratedGradients",
    "integrated gradients from a zero baseline (--n-steps steps)",
    aliases=("ig",),
    steps_kwarg="n_steps",
)
register_method(
    MethodSpec(
        "gradcam",
        _gradcam,
        attribute_kwargs=lambda x: {"relu_attributions": True},
        uses_layer=True,
        summary="GradCAM at --layer (default: the model's last stage), ReLU applied",
        aliases=("grad-cam",),
        nonnegative=True,
    )
)
_register_captum("lrp", "LRP", "layer-wise relevance propagation")
register_method(
    MethodSpec(
        "guided-lrp",
        lambda model, ctx: __import__("captum_nas.guidance.attribution", fromlist=["build"]).build(
            model, ctx
        ),
        summary="differentiable LRP-epsilon of the model (tied-weight decoder, bias detached)",
        aliases=("differentiable-lrp",),
    )
)
_register_captum(
    "inputxgradient", "InputXGradient", "input times gradient", aliases=("input-x-gradient",)
)
_register_captum("deeplift", "DeepLift", "DeepLIFT from a zero baseline")
_register_captum(
    "gradientshap",
    "GradientShap",
    "GradientSHAP, 4 fixed Gaussian baselines (sd 0.1), --n-steps samples",
    aliases=("gradient-shap",),
    attribute_kwargs=_gradientshap_baselines,
    steps_kwarg="n_samples",
)
_register_captum(
    "guidedbackprop", "GuidedBackprop", "guided backpropagation", aliases=("guided-backprop",)
)
_register_captum("deconvolution", "Deconvolution", "deconvolution (Zeiler)")
_register_captum(
    "occlusion",
    "Occlusion",
    "occlusion with a square window of 1/14 of the image side, same stride",
    attribute_kwargs=_occlusion_window,
)
register_method(
    MethodSpec(
        "lime",
        _lime,
        attribute_kwargs=_batched_perturbations,
        summary="LIME over the segments (ridge surrogate), --n-steps samples",
        steps_kwarg="n_samples",
        segment_level=True,
    )
)
register_method(
    MethodSpec(
        "kernelshap",
        _kernelshap,
        attribute_kwargs=_batched_perturbations,
        summary="KernelSHAP over the segments, --n-steps samples",
        aliases=("kernel-shap",),
        steps_kwarg="n_samples",
        segment_level=True,
    )
)
_register_captum(
    "featureablation",
    "FeatureAblation",
    "ablate one segment at a time",
    aliases=("feature-ablation",),
    attribute_kwargs=_batched_perturbations,
    segment_level=True,
)


def _package_build(module: str) -> Callable[[nn.Module, BuildContext], Attribution]:
    """The ``build(model, ctx)`` of ``module``, imported when first called (no cycles)."""

    def build(model: nn.Module, ctx: BuildContext) -> Attribution:
        result: Attribution = importlib.import_module(module).build(model, ctx)
        return result

    build.__name__ = f"build_{module.rsplit('.', 2)[-2]}"
    return build


_RELEVANT_FEATURES = _package_build("captum_nas.interpretation.attribution")
register_method(
    MethodSpec(
        "relevant-features",
        _RELEVANT_FEATURES,
        summary="top-3 relevant channels (lasso selector; --selector PATH or the shipped "
        "one of the reference models) back-projected by guided backprop (Oramas et al.)",
        aliases=("relevant-feature", "oramas"),
        nonnegative=True,
    )
)


def _relevant_features_as(backprojection: str) -> Callable[[nn.Module, BuildContext], Attribution]:
    """The relevant-features builder with another back-projection of the top channels."""

    def build(model: nn.Module, ctx: BuildContext) -> Attribution:
        options = {**ctx.options, "backprojection": backprojection}
        return _RELEVANT_FEATURES(model, dataclasses.replace(ctx, options=options))

    return build


register_method(
    MethodSpec(
        "relevant-features-deconvnet",
        _relevant_features_as("deconvolution"),
        summary="relevant-features back-projected by the deconvnet, as in Oramas et al.",
        nonnegative=True,
    )
)
register_method(
    MethodSpec(
        "relevant-features-upsampled",
        _relevant_features_as("upsample"),
        summary="the top relevant channels' activations, upsampled (the paper's baseline)",
        aliases=("upsampled-activations",),
        nonnegative=True,
    )
)


register_method(
    MethodSpec(
        "explainer",
        _package_build("captum_nas.explainer.attribution"),
        summary="trained Explainer's mask of the class (Stalder et al.): the shipped one for "
        "model 'reference', else options['explainer'] = a checkpoint",
        nonnegative=True,
    )
)

register_segmenter(SegmenterSpec("none", _seg_none, summary="no pooling: the pixel map"))
register_segmenter(SegmenterSpec("grid", _seg_grid, summary="square patches"))
register_segmenter(SegmenterSpec("slic", _seg_slic, summary="scikit-image SLIC", takes_images=True))
register_segmenter(
    SegmenterSpec(
        "quickshift",
        _seg_quickshift,
        summary="scikit-image quickshift (seeded)",
        takes_images=True,
    )
)
register_segmenter(
    SegmenterSpec(
        "felzenszwalb", _seg_felzenszwalb, summary="scikit-image Felzenszwalb", takes_images=True
    )
)
register_segmenter(
    SegmenterSpec(
        "watershed", _seg_watershed, summary="scikit-image compact watershed", takes_images=True
    )
)
register_segmenter(
    SegmenterSpec("nas", _seg_nas, summary="Neuro-Activated Superpixels (the model's features)")
)


def _seg_nas_legacy(model: nn.Module, n_segments: int, seed: int) -> SegmenterFn:
    from captum_nas.segmentation import NASSegmenter
    from captum_nas.segmentation.nas import LEGACY_NAS_OPTIONS

    return NASSegmenter(model, n_segments=n_segments, seed=seed, **LEGACY_NAS_OPTIONS)  # type: ignore[arg-type]


register_segmenter(
    SegmenterSpec(
        "nas-legacy",
        _seg_nas_legacy,
        summary="NAS with the first release's options (geometric depth weights, no colour)",
    )
)
