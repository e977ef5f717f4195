"""``captum-nas evaluate``: methods x segmenters x metrics on a data set with ground truth."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from captum_nas.cli import CLIError

SEGMENTER_NAMES = ("none", "grid", "slic", "quickshift", "felzenszwalb", "watershed", "nas")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate",
        help="score explanation methods pooled over segmenters against ground truth",
        description=(
            "Evaluate methods x segmenters on flowers-single, flowers-double or a folder "
            "(images with masks/ or a boxes CSV). Writes results.md/csv/json and figures."
        ),
    )
    p.add_argument(
        "--dataset",
        default="flowers-single",
        help="flowers-single, flowers-double, or a folder path",
    )
    p.add_argument(
        "--model",
        default="reference",
        help="reference, efficientnet-lite0, a torchvision name, or module:callable",
    )
    p.add_argument("--weights", default=None, help="checkpoint for a torchvision model")
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="allow a torchvision architecture without weights",
    )
    p.add_argument(
        "--methods",
        default="saliency,ig,gradcam,lrp",
        help="comma-separated: saliency, ig, gradcam, lrp, inputxgradient, "
        "deeplift, gradientshap, guidedbackprop, occlusion",
    )
    p.add_argument(
        "--segmenters",
        default="none,grid,slic,nas",
        help=f"comma-separated: {', '.join(SEGMENTER_NAMES)}",
    )
    p.add_argument("--n", type=int, default=200, help="number of images")
    p.add_argument("--n-segments", type=int, default=32, help="K of every segmenter")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--image-size", type=int, default=None, help="image side (default: the model's input size)"
    )
    p.add_argument("--layer", default=None, help="GradCAM layer (default: last stage)")
    p.add_argument("--ig-steps", type=int, default=32)
    p.add_argument("--no-curves", action="store_true", help="skip MoRF/LeRF relevance curves")
    p.add_argument("--curve-steps", type=int, default=16)
    p.add_argument("--boxes-csv", default=None, help="boxes CSV for a folder data set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--out", type=Path, default=Path("outputs/evaluate"))
    p.set_defaults(run=run)


def _split(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise CLIError(f"--{what} is empty")
    unknown = [v for v in names if v not in allowed]
    if unknown:
        raise CLIError(f"unknown {what} {unknown}; choose from {', '.join(allowed)}")
    return names


def build_segmenter(name: str, model: object, k: int, normalizer: object, seed: int) -> object:
    """A segmenter by CLI name (``None`` for ``"none"``)."""
    from captum_nas import segmentation as seg

    to_image = normalizer.inverse  # type: ignore[attr-defined]
    if name == "none":
        return None
    if name == "nas":
        return seg.NASSegmenter(model, n_segments=k, seed=seed)  # type: ignore[arg-type]
    if name == "grid":
        return seg.GridSegmenter(k)
    if name == "slic":
        return seg.SLICSegmenter(k, to_image=to_image)
    if name == "watershed":
        return seg.WatershedSegmenter(k, to_image=to_image)
    if name == "quickshift":
        return seg.QuickshiftSegmenter(to_image=to_image)
    return seg.FelzenszwalbSegmenter(to_image=to_image)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation and write the report."""
    from captum_nas._validation import check_positive_int
    from captum_nas.cli._loading import load_model, parse_device
    from captum_nas.evaluation import (
        METHOD_NAMES,
        FolderData,
        attribution_fn,
        evaluate,
        flowers_batches,
        to_markdown,
        write_report,
    )
    from captum_nas.pooling import segment_pool

    for name in ("n", "n_segments", "batch_size", "ig_steps", "curve_steps"):
        check_positive_int(getattr(args, name), f"--{name.replace('_', '-')}")
    methods = _split(args.methods, METHOD_NAMES, "methods")
    seg_names = _split(args.segmenters, SEGMENTER_NAMES, "segmenters")
    device = parse_device(args.device)
    loaded = load_model(args.model, weights=args.weights, random_weights=args.random_weights)
    model = loaded.model.to(device).eval()
    size = args.image_size or loaded.input_size
    if args.dataset in ("flowers-single", "flowers-double"):
        variant = args.dataset.split("-")[1]
        batches = flowers_batches(
            variant,
            n=args.n,
            batch_size=args.batch_size,
            image_size=size,
            seed=args.seed,
            normalizer=loaded.normalizer,
        )
        total = math.ceil(args.n / args.batch_size)
    else:
        data = FolderData(args.dataset, loaded.normalizer, size=size, boxes_csv=args.boxes_csv)
        batches = data.batches(args.batch_size, n=args.n)
        total = math.ceil(min(args.n, len(data)) / args.batch_size)
    fns = {
        m: attribution_fn(m, model, layer=args.layer, n_steps=args.ig_steps, seed=args.seed)
        for m in methods
    }
    segmenters = {
        s: build_segmenter(s, model, args.n_segments, loaded.normalizer, args.seed)
        for s in seg_names
    }
    report = evaluate(
        model,
        batches,
        fns,
        segmenters,  # type: ignore[arg-type]
        pool=lambda maps, segments: segment_pool(maps, segments).map,
        curves=not args.no_curves,
        curve_steps=args.curve_steps,
        total=total,
        device=device,
    )
    paths = write_report(report, args.out)
    print(to_markdown(report))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
