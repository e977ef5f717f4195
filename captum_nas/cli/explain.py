"""``captum-nas explain``: explain images with a Captum method pooled over superpixels.

For every image it writes ``<name>.png`` (the image with segment boundaries, the pixel
attribution, the pooled attribution and the top-k segments), ``<name>.npz`` (the
segment ids, the per-segment scores, the pixel and pooled maps) and ``<name>.json``
(prediction, target, per-segment scores, top-k ids, timing, and every setting that
changed the result: method options, seed, image size and resize mode, model and
weights with their SHA-256, package versions), and prints one summary line. Without
images it explains scikit-image's ``chelsea`` with EfficientNet-Lite0.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import re
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_nas.cli import UsageError
from captum_nas.cli._common import (
    RESIZE_HELP,
    add_image_file_arguments,
    add_subparser,
    check_layer_option,
    describe_methods,
    describe_segmenters,
    emit,
    int_at_least,
    load_from_args,
    method_name,
    method_options,
    positive_int,
    quiet_captum,
    segmenter_name,
    versions,
)
from captum_nas.cli._distributed import add_distributed_arguments, run_in_job
from captum_nas.cli._output import add_output_arguments, check_output_folder, write_atomic

#: the files ``explain`` writes per image, NAME + each suffix
OUTPUT_SUFFIXES = (".png", ".json", ".npz")

DEFAULT_IMAGE = "sample:chelsea"

__all__ = ["collect_images", "explain_image", "read_image", "resolve_target", "run"]

_ = RESIZE_HELP  # documented in --help through the shared model options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``explain`` subcommand."""
    description = (
        "Explain images with a Captum attribution pooled over superpixels (NAS by\n"
        "default). Without IMAGE, explains scikit-image's 'chelsea' with pretrained\n"
        "EfficientNet-Lite0. Writes NAME.png (figure), NAME.npz (segment ids, segment\n"
        "scores, pixel and pooled maps) and NAME.json (prediction, scores and every\n"
        "setting that changed the result) per image.\n\n"
        "methods (case-insensitive):\n" + describe_methods() + "\n\n"
        "segmenters:\n" + describe_segmenters()
    )
    summary = "explain images: attribution pooled over superpixels, figure + arrays + JSON"
    model, seed = "efficientnet-lite0", "seed of every random step"
    p = add_subparser(subparsers, "explain", summary, description, model=model, seed=seed)
    p.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="image files or folders ('sample:NAME' picks a scikit-image sample; "
        f"default: {DEFAULT_IMAGE})",
    )
    p.add_argument("--method", type=method_name, default="integrated-gradients", help="method")
    p.add_argument("--segmenter", type=segmenter_name, default="nas", help="segmenter")
    p.add_argument("--n-segments", type=positive_int, default=32, help="segments per image")
    p.add_argument(
        "--pooling",
        choices=("magnitude", "contribution"),
        default="magnitude",
        help="segment scores: mean |channel sum| per segment (localising), or signed "
        "per-segment sums that keep the map's total",
    )
    p.add_argument(
        "--target", default=None, help="class index or name to explain (default: the prediction)"
    )
    p.add_argument("--top-k", type=positive_int, default=5, help="segments in the last panel")
    p.add_argument(
        "--layer",
        default=None,
        help="layer of a layer method such as gradcam (dotted module name; default: the "
        "model's last stage); an error for methods without a layer",
    )
    p.add_argument(
        "--selector",
        default=None,
        help="relevant-features: a fitted selector file (default: the one shipped for "
        "--model reference / reference-double)",
    )
    p.add_argument(
        "--n-steps",
        type=positive_int,
        default=32,
        help="IG steps / GradientSHAP, LIME and KernelSHAP samples",
    )
    add_image_file_arguments(
        p,
        recursive="also read images in subfolders of folders",
        on_error="an unreadable image file: report and skip it, or stop",
    )
    add_output_arguments(p, default=Path("outputs"), help="output folder")
    p.add_argument("--dpi", type=int_at_least(10), default=100, help="figure resolution")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_distributed_arguments(p, what="the images already explained (their JSON in --out)")
    p.set_defaults(run=run)


# ----------------------------------------------------------------------------- inputs


def collect_images(specs: list[str], *, recursive: bool = False) -> list[str]:
    """Expand image arguments: files as they are, folders to the images inside (sorted).

    ``sample:NAME`` names a bundled scikit-image sample. Folders list files with an
    image suffix (in subfolders too when ``recursive``); whether a file is a readable
    image is found when it is read.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: an unknown sample, or a folder without image files.
    """
    from captum_nas._types import IMAGE_SUFFIXES
    from captum_nas.evaluation.data import find_images
    from captum_nas.images import SAMPLE_IMAGES

    out: list[str] = []
    for spec in specs or [DEFAULT_IMAGE]:
        if spec.startswith("sample:"):
            name = spec.split(":", 1)[1]
            if name not in SAMPLE_IMAGES:
                raise ValueError(
                    f"unknown sample image {name!r}; choose from {', '.join(SAMPLE_IMAGES)}"
                )
            out.append(spec)
            continue
        path = Path(spec)
        if path.is_dir():
            found = find_images(path, recursive=recursive)
            if not found:
                where = " or its subfolders" if recursive else ""
                raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}{where}")
            out += [str(p) for p in found]
        elif path.is_file():
            out.append(str(path))
        else:
            raise FileNotFoundError(f"image not found: {path}")
    return out


def read_image(spec: str, size: int, resize: str = "crop") -> Tensor:
    """A (3, size, size) image in [0, 1] from a path or ``sample:NAME``, resized by
    ``resize`` (``"crop"`` or ``"stretch"``, as in ``evaluate``)."""
    from captum_nas.evaluation.data import prepare_image
    from captum_nas.images import load_image, sample_image

    if spec.startswith("sample:"):
        image = sample_image(spec.split(":", 1)[1], None)
    else:
        image = load_image(spec, None)
    return prepare_image(image, size, resize)


def resolve_target(target: str | None, class_names: tuple[str, ...]) -> int | None:
    """``--target`` as a class index: an integer, or a class name (case-insensitive)."""
    if target is None:
        return None
    text = target.strip()
    n = len(class_names)
    if re.fullmatch(r"[+-]?[0-9]+", text):
        index = int(text)
        if not 0 <= index < n:
            raise UsageError(f"--target {index} is out of range: the model has {n} classes")
        return index
    lowered = [c.lower() for c in class_names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    if any(c.isdigit() and not c.isascii() for c in text):
        raise UsageError(
            f"--target {text!r} is neither a class name nor a class index written with the "
            f"ASCII digits 0-9 (class indices 0..{n - 1})"
        )
    close = difflib.get_close_matches(text.lower(), lowered, n=3, cutoff=0.6)
    hint = (
        f"; did you mean {', '.join(repr(class_names[lowered.index(c)]) for c in close)}?"
        if close
        else ""
    )
    raise UsageError(f"--target {text!r} is neither a class index nor a class name{hint}")


def _output_stem(spec: str, used: set[str]) -> str:
    stem = spec.split(":", 1)[1] if spec.startswith("sample:") else Path(spec).stem
    candidate, i = stem, 1
    while candidate in used:
        i += 1
        candidate = f"{stem}-{i}"
    used.add(candidate)
    return candidate


# ----------------------------------------------------------------------------- method


@dataclass
class MethodSetup:
    """A method ready to run: the registry spec, its context, the wrapper pooling it.

    Attributes:
        spec: the :class:`~captum_nas.attr.registry.MethodSpec`.
        ctx: the :class:`~captum_nas.attr.registry.BuildContext` it was built with.
        wrapper: a :class:`~captum_nas.attr.SuperpixelAttribution` around the built
            Captum attribution.
        layer: the dotted name of the method's layer, for layer methods.
        pooled: whether a segmenter was chosen (else only the pixel map is reported).
    """

    spec: Any
    ctx: Any
    wrapper: Any
    layer: str | None = None
    pooled: bool = True


def build_method(
    method: str,
    model: nn.Module,
    segmenter: Any,
    *,
    model_name: str | None,
    layer: str | None,
    n_steps: int,
    seed: int,
    pooling: str = "magnitude",
    options: dict[str, Any] | None = None,
) -> MethodSetup:
    """Build ``method`` through the registry and wrap it with ``segmenter``.

    Without a segmenter (``"none"``) the wrapper pools over one segment covering the
    image: only its unpooled map is used then.
    """
    from captum_nas._model_state import layer_name, resolve_layer
    from captum_nas.attr.registry import BuildContext, get_method, superpixel_attribution
    from captum_nas.segmentation import GridSegmenter

    spec = get_method(method)
    module = None
    if layer is not None:
        try:
            module = resolve_layer(model, layer, "--layer")
        except (ValueError, TypeError, AttributeError, KeyError) as err:
            names = [n for n, _ in model.named_children()]
            raise UsageError(
                f"--layer {layer!r} does not exist in the model ({err}); top-level "
                f"modules: {', '.join(names)}"
            ) from None
    ctx = BuildContext(
        model_name=model_name,
        layer=module,
        options={"n_steps": n_steps, **(options or {})},
        seed=seed,
    )
    seg = segmenter if segmenter is not None else GridSegmenter(1)
    options = {} if spec.segment_level else {"pooling": pooling}
    wrapper = superpixel_attribution(spec, model, ctx, seg, **options)
    built_layer = getattr(wrapper.attribution, "layer", None) if spec.uses_layer else None
    name = layer_name(model, built_layer) if isinstance(built_layer, nn.Module) else None
    return MethodSetup(spec, ctx, wrapper, name, pooled=segmenter is not None)


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
    setup: MethodSetup, x: Tensor, target: int, segments: Tensor | None
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """(pixel map, pooled map, segment scores) of one normalised image batch ``x``, from
    one ``attribute(..., return_result=True)`` call (the same checks as the library's)."""
    from captum_nas.attr.registry import method_kwargs

    kwargs = method_kwargs(setup.spec, x, setup.ctx)
    if segments is not None:
        kwargs["feature_mask"] = segments
    result = setup.wrapper.attribute(x, target=target, return_result=True, **kwargs)
    if not setup.pooled:
        return result.pixel_map.detach(), None, None
    pixel = None if setup.spec.segment_level else result.pixel_map.detach()
    return pixel, result.map.detach(), result.scores.detach()


def explain_image(
    image: Tensor,
    model: nn.Module,
    normalizer: Any,
    class_names: tuple[str, ...],
    setup: MethodSetup,
    *,
    segmenter_name: str,
    target: int | None,
    top_k: int,
    device: torch.device,
    seed: int,
) -> Explanation:
    """Predict, segment, attribute and pool one image (3, H, W) in [0, 1]."""
    from captum_nas.attr.registry import seeded
    from captum_nas.visualization import top_k_ids

    start = time.perf_counter()
    x = normalizer(image.to(device))[None]
    with torch.no_grad():
        probs = torch.softmax(model(x).float(), dim=1)[0]
    if probs.shape[0] != len(class_names):
        raise UsageError(
            f"the model has {probs.shape[0]} outputs but {len(class_names)} class names"
        )
    pred = int(probs.argmax())
    tgt = pred if target is None else target
    segments: Tensor | None = None
    t_seg = 0.0
    if setup.pooled:
        t0 = time.perf_counter()
        segments = setup.wrapper.segment(x)
        t_seg = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        with quiet_captum(), seeded(seed):
            pixel, pooled, segment_scores = _attribute(setup, x, tgt, segments)
    except (UsageError, KeyboardInterrupt):
        raise
    except Exception as err:
        from captum_nas.cli import InternalError, is_user_error

        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        hint = "; pick a --layer whose output is spatial" if setup.spec.uses_layer else ""
        message = f"method {setup.spec.name!r} failed on this model: {first}{hint}"
        if is_user_error(err):
            raise UsageError(message) from err
        raise InternalError(f"{type(err).__name__}: {message}") from err
    t_attr = time.perf_counter() - t0
    scores: list[float] | None = None
    top: list[int] | None = None
    if segment_scores is not None:
        s = segment_scores[0]
        scores = [float(v) for v in s.tolist()]
        top = top_k_ids(s, top_k)[0]
    record: dict[str, Any] = {
        "prediction": class_names[pred],
        "prediction_index": pred,
        "probability": float(probs[pred]),
        "target": class_names[tgt],
        "target_index": tgt,
        "target_probability": float(probs[tgt]),
        "method": setup.spec.name,
        "segmenter": segmenter_name,
        "pooling": setup.wrapper.pooling if setup.pooled else None,
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


def _jsonable(value: Any) -> Any:
    """Method options as JSON: tensors by shape and SHA-256 of their bytes."""
    if isinstance(value, Tensor):
        data = value.detach().cpu().contiguous().numpy().tobytes()
        return {"tensor_shape": list(value.shape), "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _settings(args: argparse.Namespace, loaded: Any, setup: MethodSetup, size: int) -> dict:
    """Every setting that changed the result, for the JSON record."""
    from captum_nas.attr.registry import method_kwargs

    probe = torch.zeros(1, 3, size, size)
    options = {k: _jsonable(v) for k, v in method_kwargs(setup.spec, probe, setup.ctx).items()}
    return {
        "method": setup.spec.name,
        "method_options": options,
        "layer": setup.layer,
        "segmenter": args.segmenter,
        "n_segments": args.n_segments,
        "pooling": setup.wrapper.pooling if setup.pooled else None,
        "target": args.target,
        "seed": args.seed,
        "image_size": size,
        "resize": args.resize,
        "model": loaded.describe(),
        "device": str(args.device),
        "versions": versions(),
        **_selector_setting(args, loaded, setup),
    }


def _selector_setting(args: argparse.Namespace, loaded: Any, setup: MethodSetup) -> dict:
    """relevant-features: the selector file read, with its SHA-256."""
    if not setup.spec.name.startswith("relevant-features"):
        return {}
    from captum_nas.interpretation import shipped_selector_path

    path = Path(args.selector) if args.selector else shipped_selector_path(loaded.name)
    return {
        "selector": {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    }


def _save_arrays(path: Path, result: Explanation) -> None:
    arrays: dict[str, np.ndarray] = {}
    if result.segments is not None:
        arrays["segments"] = result.segments[0, 0].cpu().numpy().astype(np.int32)
    if result.scores is not None:
        arrays["scores"] = np.asarray(result.scores, dtype=np.float32)
    if result.pixel is not None:
        arrays["pixel_map"] = result.pixel[0].cpu().float().numpy()
    if result.pooled is not None:
        arrays["map"] = result.pooled[0].cpu().float().numpy()
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """Explain every image and write a figure, arrays and a JSON file for each (under
    torchrun each rank explains its share of the images and writes their files)."""
    return run_in_job(args, _run)


def _finished(js: Path, spec_img: str, settings: dict) -> dict | None:
    """The JSON record of an image explained earlier with the same settings, or None."""
    if not js.is_file():
        return None
    try:
        rec = json.loads(js.read_text())
    except (OSError, ValueError):
        return None
    same = {k: v for k, v in settings.items() if k != "device"}
    stored = rec.get("settings") if isinstance(rec, dict) else None
    if not isinstance(stored, dict) or rec.get("image") != spec_img:
        return None
    return rec if {k: v for k, v in stored.items() if k != "device"} == same else None


def _run(args: argparse.Namespace, job: Any) -> int:
    from captum_nas.attr.registry import build_segmenter, get_method
    from captum_nas.evaluation.distributed import JobProgress, gather_in_order
    from captum_nas.visualization import explanation_figure

    spec = get_method(args.method)
    check_layer_option(spec.name, args.layer)
    if args.selector is not None and not spec.name.startswith("relevant-features"):
        raise UsageError(f"--selector is only read by relevant-features, not by {spec.name!r}")
    if spec.segment_level and args.segmenter == "none":
        raise UsageError(
            f"method {spec.name!r} works on segments; pick a --segmenter other than 'none'"
        )
    images = collect_images(list(args.images), recursive=args.recursive)
    used: set[str] = set()
    stems = [_output_stem(spec_img, used) for spec_img in images]
    if job.rank == 0:  # before any rank writes
        names = [stem + suffix for stem in stems for suffix in OUTPUT_SUFFIXES]
        inputs = {Path(i).resolve() for i in images if not i.startswith("sample:")}
        clash = [n for n in names if (args.out / n).resolve() in inputs]
        if clash:  # not even with --overwrite
            raise UsageError(
                f"--out {args.out}: the output {clash[0]} would replace the input image of "
                "that name; choose another --out"
            )
        check_output_folder(args.out, names=names, overwrite=args.overwrite, resume=args.resume)
    loaded = load_from_args(args)
    model = loaded.model
    target = resolve_target(args.target, loaded.class_names)
    size = args.image_size or loaded.input_size
    segmenter = build_segmenter(
        args.segmenter, model, args.n_segments, args.seed, to_image=loaded.normalizer.inverse
    )
    setup = build_method(
        spec.name,
        model,
        segmenter,
        model_name=loaded.name,
        layer=args.layer,
        pooling=args.pooling,
        **method_options(args),
    )
    settings = _settings(args, loaded, setup, size)
    skipped: list[tuple[str, str]] = []
    done = 0
    live = job.world_size == 1  # one process prints as it goes; rank 0 prints the rest
    outcomes: list[tuple[int, tuple[str, str]]] = []
    bar = JobProgress(job, len(images), enabled=not args.quiet and len(images) > 1, desc="explain")
    for index in job.shard(len(images)):
        job.check_others()
        spec_img, stem = images[index], stems[index]
        png, js, npz = (args.out / f"{stem}{ext}" for ext in OUTPUT_SUFFIXES)
        kept = _finished(js, spec_img, settings) if args.resume else None
        if kept is not None:
            done += 1
            outcomes.append((index, ("ok", f"{spec_img}: kept from an earlier run -> {png}")))
            if live:
                emit(outcomes[-1][1][1])
            bar.advance(1)
            continue
        try:
            image = read_image(spec_img, size, args.resize)
        except (ValueError, OSError) as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            if args.on_error == "fail":
                raise UsageError(f"{reason} (--on-error skip skips unreadable files)") from None
            skipped.append((spec_img, reason))
            if live:
                emit(f"skipped {spec_img}: {skipped[-1][1]}", err=True)
            outcomes.append((index, ("skipped", reason)))
            bar.advance(1)
            continue
        result = explain_image(
            image,
            model,
            loaded.normalizer,
            loaded.class_names,
            setup,
            segmenter_name=args.segmenter,
            target=target,
            top_k=args.top_k,
            device=args.device,
            seed=args.seed,
        )
        rec = result.record
        title = (
            f"{loaded.name}: {rec['prediction']} ({rec['probability']:.1%})  |  "
            f"{spec.name} on {rec['target']}, segmenter {args.segmenter}"
        )
        fig = explanation_figure(
            result.image.cpu(),
            result.pixel.cpu() if result.pixel is not None else None,
            result.pooled.cpu() if result.pooled is not None else None,
            result.segments.cpu() if result.segments is not None else None,
            top_k=args.top_k,
            title=title,
            dpi=args.dpi,
            sign="absolute_value" if spec.nonnegative else "all",
        )
        write_atomic(png, fig.savefig)
        write_atomic(npz, partial(_save_arrays, result=result))
        rec = {
            "image": spec_img,
            "model": loaded.name,
            **rec,
            "figure": str(png),
            "arrays": str(npz),
            "settings": settings,
        }
        # last: the JSON marks the image done
        write_atomic(js, partial(Path.write_text, data=json.dumps(rec, indent=2)))
        done += 1
        seg_text = (
            f"{rec['n_segments']} {args.segmenter} segments, top-{args.top_k} {rec['top_k']}"
            if rec["n_segments"] is not None
            else "no segments"
        )
        line = (
            f"{spec_img}: {rec['prediction']} ({rec['probability']:.1%}); {spec.name} for "
            f"{rec['target']!r}, {seg_text}; {rec['timing']['total_s']:.2f}s -> {png} "
            f"(+ {js.name}, {npz.name})"
        )
        if live:
            emit(line)
        outcomes.append((index, ("ok", line)))
        bar.advance(1)
    job.wait_for_all(bar.show)
    bar.close()
    everything = gather_in_order(job, [(i, (i, *o)) for i, o in outcomes])
    if everything is None:  # not rank 0: its files are written, rank 0 reports
        return 0
    if not live:
        done = sum(kind == "ok" for _, kind, _ in everything)
        skipped = [(images[i], text) for i, kind, text in everything if kind == "skipped"]
        for i, kind, text in everything:
            emit(text if kind == "ok" else f"skipped {images[i]}: {text}", err=kind != "ok")
    if skipped:
        emit(
            f"explained {done} of {len(images)} images; skipped {len(skipped)} unreadable: "
            + ", ".join(s for s, _ in skipped),
            err=True,
        )
    if done == 0:
        raise UsageError(f"no image could be read ({len(skipped)} skipped)")
    return 0
