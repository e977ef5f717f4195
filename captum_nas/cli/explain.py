"""``captum-nas explain``: explain images with a Captum method pooled over superpixels.

For every image it writes ``<name>.png`` (the image with segment boundaries, the pixel
attribution, the pooled attribution and the top-k segments) and ``<name>.json``
(prediction, target, per-segment scores, top-k ids, timing), and prints one summary
line. Without images it explains scikit-image's ``chelsea`` with EfficientNet-Lite0.
"""

from __future__ import annotations

import argparse
import difflib
import json
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_nas.cli import CLIError

METHODS = (
    "ig",
    "saliency",
    "gradcam",
    "lrp",
    "deeplift",
    "gradientshap",
    "inputxgradient",
    "guidedbackprop",
    "deconvolution",
    "occlusion",
    "lime",
    "kernelshap",
    "featureablation",
)
#: segment-level perturbation methods: the segments are their feature mask
SEGMENT_METHODS = ("lime", "kernelshap", "featureablation")
SEGMENTERS = ("nas", "slic", "quickshift", "felzenszwalb", "watershed", "grid", "none")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
DEFAULT_IMAGE = "sample:chelsea"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``explain`` subcommand."""
    p = subparsers.add_parser(
        "explain",
        help="explain images: attribution pooled over superpixels, figure + JSON per image",
        description=(
            "Explain images with a Captum attribution pooled over superpixels (NAS by "
            "default). Without IMAGE, explains scikit-image's 'chelsea' with pretrained "
            "EfficientNet-Lite0. Writes a PNG figure and a JSON file per image."
        ),
    )
    p.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="image files or folders (default: the bundled 'chelsea' photo; "
        "'sample:NAME' picks another scikit-image sample)",
    )
    p.add_argument(
        "--model",
        default="efficientnet-lite0",
        help="efficientnet-lite0 (default), reference, a torchvision name with "
        "--weights PATH, or module:callable",
    )
    p.add_argument("--weights", default=None, help="state_dict/checkpoint for --model")
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="allow a torchvision architecture without weights",
    )
    p.add_argument("--method", default="ig", help=f"one of: {', '.join(METHODS)} (default ig)")
    p.add_argument(
        "--segmenter", default="nas", help=f"one of: {', '.join(SEGMENTERS)} (default nas)"
    )
    p.add_argument("--n-segments", type=int, default=32, help="segments per image (default 32)")
    p.add_argument(
        "--target",
        default=None,
        help="class index or name to explain (default: the predicted class)",
    )
    p.add_argument("--top-k", type=int, default=5, help="segments shown in the last panel")
    p.add_argument(
        "--layer",
        default=None,
        help="GradCAM layer (dotted module name; default: the model's last stage)",
    )
    p.add_argument(
        "--n-steps",
        type=int,
        default=32,
        help="integration steps of IG / samples of GradientShap / LIME samples (default 32)",
    )
    p.add_argument(
        "--image-size", type=int, default=None, help="image side (default: the model's input size)"
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--out", type=Path, default=Path("outputs"), help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of NAS k-means and sampling")
    p.add_argument("--dpi", type=int, default=100, help="figure resolution")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


# ----------------------------------------------------------------------------- inputs


def collect_images(specs: list[str]) -> list[str]:
    """Expand image arguments: files as they are, folders to the images inside (sorted).

    ``sample:NAME`` names a bundled scikit-image sample. Raises ``FileNotFoundError``
    for a missing path and ``CLIError`` for a folder without images.
    """
    from captum_nas.images import SAMPLE_IMAGES

    out: list[str] = []
    for spec in specs or [DEFAULT_IMAGE]:
        if spec.startswith("sample:"):
            name = spec.split(":", 1)[1]
            if name not in SAMPLE_IMAGES:
                raise CLIError(
                    f"unknown sample image {name!r}; choose from {', '.join(SAMPLE_IMAGES)}"
                )
            out.append(spec)
            continue
        path = Path(spec)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise CLIError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
            out += [str(p) for p in found]
        elif path.is_file():
            out.append(str(path))
        else:
            raise FileNotFoundError(f"image not found: {path}")
    return out


def read_image(spec: str, size: int) -> Tensor:
    """A (3, size, size) image in [0, 1] from a path or ``sample:NAME``."""
    from captum_nas.images import load_image, sample_image

    if spec.startswith("sample:"):
        return sample_image(spec.split(":", 1)[1], size)
    return load_image(spec, size)


def resolve_target(target: str | None, class_names: tuple[str, ...]) -> int | None:
    """``--target`` as a class index: an integer, or a class name (case-insensitive)."""
    if target is None:
        return None
    text = target.strip()
    n = len(class_names)
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < n:
            raise CLIError(f"--target {index} is out of range: the model has {n} classes")
        return index
    lowered = [c.lower() for c in class_names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    close = difflib.get_close_matches(text.lower(), lowered, n=3, cutoff=0.6)
    hint = (
        f"; did you mean {', '.join(repr(class_names[lowered.index(c)]) for c in close)}?"
        if close
        else ""
    )
    raise CLIError(f"--target {text!r} is neither a class index nor a class name{hint}")


def _output_stem(spec: str, used: set[str]) -> str:
    stem = spec.split(":", 1)[1] if spec.startswith("sample:") else Path(spec).stem
    candidate, i = stem, 1
    while candidate in used:
        i += 1
        candidate = f"{stem}-{i}"
    used.add(candidate)
    return candidate


# ----------------------------------------------------------------------------- method


def build_segmenter(
    name: str, model: nn.Module, k: int, to_image: Callable[[Tensor], Tensor], seed: int
) -> Callable[[Tensor], Tensor] | None:
    """A segmenter by CLI name (``None`` for ``none``)."""
    from captum_nas import segmentation as seg

    if name == "none":
        return None
    if name == "nas":
        return seg.NASSegmenter(model, n_segments=k, seed=seed)
    if name == "grid":
        return seg.GridSegmenter(k)
    if name == "slic":
        return seg.SLICSegmenter(k, to_image=to_image)
    if name == "watershed":
        return seg.WatershedSegmenter(k, to_image=to_image)
    if name == "quickshift":
        return seg.QuickshiftSegmenter(to_image=to_image, seed=seed)
    return seg.FelzenszwalbSegmenter(to_image=to_image)


@dataclass
class MethodSetup:
    """The NAS* wrapper of a method and the keyword arguments of its ``attribute``."""

    wrapper: Any
    kwargs: dict[str, Any]
    layer: str | None = None


def _gradcam_layer(model: nn.Module, requested: str | None, default: str | None) -> str:
    from captum_nas._model_state import resolve_layer

    name = requested or default
    if name is None:
        from captum_nas.evaluation.methods import default_gradcam_layer

        name = default_gradcam_layer(model)
    try:
        resolve_layer(model, name, "layer")
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        names = [n for n, _ in model.named_children()]
        raise CLIError(
            f"GradCAM layer {name!r} does not exist in the model ({err}); top-level "
            f"modules: {', '.join(names)}"
        ) from None
    return name


def build_method(
    name: str,
    model: nn.Module,
    segmenter: Callable[[Tensor], Tensor] | None,
    *,
    layer: str | None,
    default_layer: str | None,
    n_steps: int,
    inputs: Tensor,
    seed: int,
) -> MethodSetup:
    """The NAS* attribution of method ``name`` with ``segmenter`` (a stand-in grid when
    ``None``: only its wrapped Captum method is used then)."""
    from captum_nas import attr as na
    from captum_nas.segmentation import GridSegmenter

    seg_fn = segmenter if segmenter is not None else GridSegmenter(1)
    kwargs: dict[str, Any] = {}
    classes: dict[str, Any] = {
        "ig": na.NASIntegratedGradients,
        "saliency": na.NASSaliency,
        "lrp": na.NASLRP,
        "deeplift": na.NASDeepLift,
        "gradientshap": na.NASGradientShap,
        "inputxgradient": na.NASInputXGradient,
        "guidedbackprop": na.NASGuidedBackprop,
        "deconvolution": na.NASDeconvolution,
        "occlusion": na.NASOcclusion,
        "lime": na.NASLime,
        "kernelshap": na.NASKernelShap,
        "featureablation": na.NASFeatureAblation,
    }
    if name == "gradcam":
        layer_name = _gradcam_layer(model, layer, default_layer)
        return MethodSetup(na.NASGradCam(model, layer_name, segmenter=seg_fn), {}, layer_name)
    wrapper = classes[name](model, segmenter=seg_fn)
    if name == "ig":
        kwargs = {"n_steps": n_steps, "internal_batch_size": 16}
    elif name == "gradientshap":
        gen = torch.Generator().manual_seed(seed)
        kwargs = {
            "baselines": (torch.randn((4, *inputs.shape[1:]), generator=gen) * 0.1).to(inputs),
            "n_samples": n_steps,
        }
    elif name == "occlusion":
        side = max(1, min(inputs.shape[-2:]) // 14)
        kwargs = {
            "sliding_window_shapes": (inputs.shape[1], side, side),
            "strides": (inputs.shape[1], side, side),
            "perturbations_per_eval": 16,
        }
    elif name in ("lime", "kernelshap"):
        kwargs = {"n_samples": max(n_steps, 16), "perturbations_per_eval": 16}
    elif name == "featureablation":
        kwargs = {"perturbations_per_eval": 16}
    return MethodSetup(wrapper, kwargs)


# ----------------------------------------------------------------------------- explain


@dataclass
class Explanation:
    """Everything ``explain`` computes for one image."""

    image: Tensor  # (3, H, W) in [0, 1]
    pixel: Tensor | None  # (1, C, H, W) pixel map (layer maps upsampled)
    pooled: Tensor | None  # (1, C, H, W) pooled map
    segments: Tensor | None  # (1, 1, H, W)
    scores: list[float] | None
    top_k: list[int] | None
    record: dict[str, Any]


def _attribute(
    wrapper: Any,
    extra: dict[str, Any],
    x: Tensor,
    target: int,
    segments: Tensor | None,
    method: str,
) -> tuple[Tensor | None, Tensor | None]:
    """(pixel map, pooled map) of one normalised image batch ``x``."""
    from captum.attr import LayerAttribution

    if method in SEGMENT_METHODS:
        return None, wrapper.attribute(x, target=target, segments=segments, **extra)
    raw = wrapper.attribution.attribute(x, target=target, **{**wrapper.default_kwargs, **extra})
    if isinstance(raw, tuple):
        raw = raw[0]
    raw = raw.detach()
    if raw.dim() != 4:
        raise CLIError(
            f"method {method!r} gave a map of shape {tuple(raw.shape)}, not (N, C, h, w); "
            "pick a --layer whose output is spatial"
        )
    if raw.shape[-2:] != x.shape[-2:]:
        raw = LayerAttribution.interpolate(raw, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    pooled = wrapper.pool(raw, segments) if segments is not None else None
    return raw, pooled


def explain_image(
    image: Tensor,
    model: nn.Module,
    normalizer: Any,
    class_names: tuple[str, ...],
    setup: MethodSetup,
    *,
    method: str,
    segmenter_name: str,
    target: int | None,
    top_k: int,
    device: torch.device,
    seed: int,
) -> Explanation:
    """Predict, segment, attribute and pool one image (3, H, W) in [0, 1]."""
    from captum_nas.visualization import segment_scores, top_k_ids

    start = time.perf_counter()
    x = normalizer(image.to(device))[None]
    with torch.no_grad():
        probs = torch.softmax(model(x).float(), dim=1)[0]
    if probs.shape[0] != len(class_names):
        raise CLIError(f"the model has {probs.shape[0]} outputs but {len(class_names)} class names")
    pred = int(probs.argmax())
    tgt = pred if target is None else target
    wrapper = setup.wrapper
    segments: Tensor | None = None
    t_seg = 0.0
    if segmenter_name != "none":
        t0 = time.perf_counter()
        segments = wrapper.segment(x)
        t_seg = time.perf_counter() - t0
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*did not already require gradients.*")
            pixel, pooled = _attribute(wrapper, setup.kwargs, x, tgt, segments, method)
    except (CLIError, KeyboardInterrupt):
        raise
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CLIError(
            f"method {method!r} failed on this model: {type(err).__name__}: {first}"
        ) from err
    t_attr = time.perf_counter() - t0
    scores: list[float] | None = None
    top: list[int] | None = None
    if pooled is not None and segments is not None:
        pooled = pooled.detach()
        s = segment_scores(pooled, segments)[0]
        scores = [float(v) for v in s.tolist()]
        top = top_k_ids(s, top_k)[0]
    record: dict[str, Any] = {
        "prediction": class_names[pred],
        "prediction_index": pred,
        "probability": float(probs[pred]),
        "target": class_names[tgt],
        "target_index": tgt,
        "target_probability": float(probs[tgt]),
        "method": method,
        "segmenter": segmenter_name,
        "n_segments": len(scores) if scores is not None else None,
        "segment_scores": scores,
        "top_k": top,
        "timing": {
            "segmentation_s": round(t_seg, 4),
            "attribution_s": round(t_attr, 4),
            "total_s": round(time.perf_counter() - start, 4),
        },
    }
    if setup.layer is not None:
        record["layer"] = setup.layer
    return Explanation(image, pixel, pooled, segments, scores, top, record)


def _progress(items: list[str], quiet: bool) -> Iterator[str]:
    if quiet or len(items) < 2:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc="explain", unit="image")


def _emit(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line)  # plain print when no bar is active; keeps an active bar intact


def run(args: argparse.Namespace) -> int:
    """Explain every image and write a figure and a JSON file for each."""
    from captum_nas._validation import check_positive_int
    from captum_nas.cli._loading import load_model, parse_device
    from captum_nas.visualization import explanation_figure

    for opt in ("n_segments", "top_k", "n_steps", "dpi"):
        check_positive_int(getattr(args, opt), f"--{opt.replace('_', '-')}")
    if args.image_size is not None:
        check_positive_int(args.image_size, "--image-size", minimum=8)
    if args.method not in METHODS:
        raise CLIError(f"unknown method {args.method!r}; choose from {', '.join(METHODS)}")
    if args.segmenter not in SEGMENTERS:
        raise CLIError(f"unknown segmenter {args.segmenter!r}; choose from {', '.join(SEGMENTERS)}")
    if args.method in SEGMENT_METHODS and args.segmenter == "none":
        raise CLIError(
            f"method {args.method!r} works on segments; pick a --segmenter other than 'none'"
        )
    device = parse_device(args.device)
    images = collect_images(list(args.images))
    loaded = load_model(args.model, weights=args.weights, random_weights=args.random_weights)
    model = loaded.model.to(device).eval()
    target = resolve_target(args.target, loaded.class_names)
    size = args.image_size or loaded.input_size
    segmenter = build_segmenter(
        args.segmenter, model, args.n_segments, loaded.normalizer.inverse, args.seed
    )
    probe = torch.zeros(1, 3, size, size, device=device)
    setup = build_method(
        args.method,
        model,
        segmenter,
        layer=args.layer,
        default_layer=loaded.gradcam_layer,
        n_steps=args.n_steps,
        inputs=probe,
        seed=args.seed,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for spec in _progress(images, args.quiet):
        image = read_image(spec, size)
        result = explain_image(
            image,
            model,
            loaded.normalizer,
            loaded.class_names,
            setup,
            method=args.method,
            segmenter_name=args.segmenter,
            target=target,
            top_k=args.top_k,
            device=device,
            seed=args.seed,
        )
        rec = result.record
        stem = _output_stem(spec, used)
        png, js = args.out / f"{stem}.png", args.out / f"{stem}.json"
        title = (
            f"{loaded.name}: {rec['prediction']} ({rec['probability']:.1%})  |  "
            f"{args.method} on {rec['target']}, segmenter {args.segmenter}"
        )
        fig = explanation_figure(
            result.image.cpu(),
            result.pixel.cpu() if result.pixel is not None else None,
            result.pooled.cpu() if result.pooled is not None else None,
            result.segments.cpu() if result.segments is not None else None,
            top_k=args.top_k,
            title=title,
            dpi=args.dpi,
            sign="absolute_value" if args.method in ("saliency", "gradcam") else "all",
        )
        fig.savefig(png)
        rec = {"image": spec, "model": loaded.name, **rec, "figure": str(png)}
        js.write_text(json.dumps(rec, indent=2))
        seg_text = (
            f"{rec['n_segments']} {args.segmenter} segments, top-{args.top_k} {rec['top_k']}"
            if rec["n_segments"] is not None
            else "no segments"
        )
        _emit(
            f"{spec}: {rec['prediction']} ({rec['probability']:.1%}); {args.method} for "
            f"{rec['target']!r}, {seg_text}; {rec['timing']['total_s']:.2f}s -> {png} "
            f"(+ {js.name})"
        )
    return 0
