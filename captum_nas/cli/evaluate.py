"""``captum-nas evaluate``: methods x segmenters x metrics on a data set with ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from captum_nas.cli import UsageError
from captum_nas.cli._common import (
    add_image_file_arguments,
    add_subparser,
    describe_methods,
    describe_segmenters,
    emit,
    load_from_args,
    method_name,
    method_options,
    name_list,
    positive_int,
    quiet_captum,
    segmenter_name,
    versions,
)
from captum_nas.cli._distributed import add_distributed_arguments, run_in_job
from captum_nas.cli._output import (
    add_output_arguments,
    check_output_folder,
    staged_folder,
    write_atomic,
)

#: the report files ``evaluate`` writes in --out (besides the batches in OUT/shards)
OUTPUT_FILES = (
    "results.md",
    "results.csv",
    "results.json",
    "localization.png",
    "relevance_curves.png",
    "iou_curves.png",
    "settings.json",
)


def _outputs(out: Path) -> list[str]:
    """The files of an earlier run in ``out`` that this run would replace or delete: the
    report and the stored batches (``shards/batch-*.pt``)."""
    shards = sorted(p.relative_to(out).as_posix() for p in (out / "shards").glob("batch-*.pt"))
    return [*OUTPUT_FILES, *shards]


def _describe_datasets() -> str:
    from captum_nas.evaluation.datasets import dataset_names, get_dataset

    lines = []
    for name in dataset_names():
        spec = get_dataset(name)
        lines.append(f"  {name}: {spec.summary} (model: {spec.default_model})")
    return "\n".join(lines)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``evaluate`` subcommand."""
    from captum_nas.evaluation.data import FOLDER_LAYOUT

    description = (
        "Evaluate methods x segmenters on a data set with ground truth: box\n"
        "localisation (MaxBoxAcc), mask metrics (pxAP, pointing, and the\n"
        "--ground-truth metric group), MoRF/LeRF relevance curves. Writes\n"
        "results.md/csv/json, figures and settings.json (every setting of the run,\n"
        "model weights with their SHA-256, package versions) to --out.\n\n"
        "data sets (--dataset NAME, or a folder path):\n" + _describe_datasets() + "\n\n"
        "folder layout:\n" + FOLDER_LAYOUT + "\n\n"
        "methods (case-insensitive):\n" + describe_methods() + "\n\n"
        "segmenters:\n" + describe_segmenters()
    )
    summary = "score explanation methods pooled over segmenters against ground truth"
    seed = "seed of the data, segmenters, sampling"
    p = add_subparser(subparsers, "evaluate", summary, description, model=None, seed=seed)
    p.add_argument("--dataset", default="flowers", help="a data set name or a folder path")
    p.add_argument(
        "--methods",
        type=name_list(method_name),
        default="saliency,ig,gradcam,lrp",
        help="comma-separated methods",
    )
    p.add_argument(
        "--segmenters",
        type=name_list(segmenter_name),
        default="none,grid,slic,nas",
        help="comma-separated segmenters ('none': the unpooled map)",
    )
    p.add_argument(
        "--num-images", "--n", dest="n", type=positive_int, default=200, help="number of images"
    )
    p.add_argument("--n-segments", type=positive_int, default=32, help="K of every segmenter")
    p.add_argument("--batch-size", type=positive_int, default=16, help="images per batch")
    p.add_argument(
        "--layer", default=None, help="layer of the layer methods (gradcam); default: last stage"
    )
    p.add_argument(
        "--selector",
        default=None,
        help="relevant-features: a fitted selector file (default: the shipped one of the "
        "reference models)",
    )
    p.add_argument(
        "--n-steps",
        "--ig-steps",
        dest="n_steps",
        metavar="N",
        type=positive_int,
        default=32,
        help="IG steps / GradientSHAP samples",
    )
    p.add_argument("--no-curves", action="store_true", help="skip MoRF/LeRF relevance curves")
    p.add_argument("--curve-steps", type=positive_int, default=16, help="steps of the curves")
    p.add_argument(
        "--ground-truth",
        choices=("object", "part"),
        default=None,
        help="add the mask metric group (best-threshold IoU, mean IoU over thresholds "
        "and its curve, best F1, continuous IoU, ROC-AUC, object/background coverage) "
        "against this mask",
    )
    p.add_argument(
        "--boxes-csv", default=None, help="boxes CSV of a folder (default ROOT/boxes.csv)"
    )
    add_image_file_arguments(
        p,
        recursive="folder: also read images in subfolders",
        on_error="folder: an unreadable image or one without ground truth: skip it, or stop",
    )
    add_output_arguments(p, default=Path("outputs/evaluate"), help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_distributed_arguments(p, what="the finished batches (OUT/shards)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation and write the report (on rank 0 under torchrun)."""
    return run_in_job(args, _run)


def _settings(args: argparse.Namespace, loaded: Any, size: int) -> dict[str, Any]:
    """Everything that changes the numbers, for the stored batches of ``--resume``."""
    import torch

    keys = (
        "dataset",
        "methods",
        "segmenters",
        "n",
        "n_segments",
        "batch_size",
        "layer",
        "selector",
        "n_steps",
        "no_curves",
        "curve_steps",
        "ground_truth",
        "boxes_csv",
        "recursive",
        "on_error",
        "seed",
        "resize",
    )
    return {
        **{k: getattr(args, k, None) for k in keys},
        "image_size": size,
        "model": loaded.describe(),
        "device_type": torch.device(args.device).type,
    }


def _run(args: argparse.Namespace, job: Any) -> int:
    from captum_nas.attr.registry import build_segmenter
    from captum_nas.evaluation import attribution_fn, to_markdown, write_report
    from captum_nas.evaluation.data import FolderData
    from captum_nas.evaluation.datasets import get_dataset
    from captum_nas.evaluation.distributed import evaluate_distributed
    from captum_nas.evaluation.shards import ShardStore
    from captum_nas.pooling import mean_pooled_map

    if job.rank == 0:  # the other ranks write only into OUT/shards, after this check
        check_output_folder(
            args.out, names=_outputs(args.out), overwrite=args.overwrite, resume=args.resume
        )
    is_folder = Path(args.dataset).is_dir()
    if not is_folder and ("/" in args.dataset or "\\" in args.dataset):
        raise FileNotFoundError(f"data folder not found: {args.dataset}")
    spec = get_dataset("folder" if is_folder else args.dataset)
    if spec.name == "folder" and not is_folder:
        raise UsageError(f"--dataset folder: pass the folder's path, got {args.dataset!r}")
    loaded = load_from_args(args, args.model or spec.default_model)
    model = loaded.model
    size = args.image_size or loaded.input_size
    if is_folder:
        data = FolderData(
            args.dataset,
            loaded.normalizer,
            size=size,
            boxes_csv=args.boxes_csv,
            resize=args.resize,
            recursive=args.recursive,
            on_error=args.on_error,
            n_classes=loaded.n_classes,
        )
        batches = data.batches(args.batch_size, n=args.n)
        total = min(args.n, len(data))
    else:
        if args.boxes_csv is not None:
            raise UsageError(f"--boxes-csv is only read for a folder, not for {spec.name!r}")
        batches = spec.batches(
            n=args.n,
            batch_size=args.batch_size,
            seed=args.seed,
            image_size=size,
            normalizer=loaded.normalizer,
        )
        total = args.n
    from captum_nas.attr.registry import get_method

    layered = [m for m in args.methods if get_method(m).uses_layer]
    if args.selector is not None and not any(
        get_method(m).name.startswith("relevant-features") for m in args.methods
    ):
        raise UsageError("--selector is only read by relevant-features, which is not in --methods")
    if args.layer is not None and not layered:
        raise UsageError(
            f"--layer is not used by any of the methods {', '.join(args.methods)}; "
            "give a method with a layer (e.g. gradcam)"
        )
    fns = {
        m: attribution_fn(
            m,
            model,
            layer=args.layer if m in layered else None,
            model_name=loaded.name,
            **method_options(args),
        )
        for m in args.methods
    }
    segmenters = {
        s: build_segmenter(s, model, args.n_segments, args.seed, to_image=loaded.normalizer.inverse)
        for s in args.segmenters
    }
    store = ShardStore(args.out / "shards", _settings(args, loaded, size))
    with quiet_captum():
        report = evaluate_distributed(
            model,
            batches,
            fns,
            segmenters,
            pool=mean_pooled_map,
            curves=not args.no_curves,
            curve_steps=args.curve_steps,
            ground_truth=args.ground_truth,
            total=total,
            progress=not args.quiet,
            device=args.device,
            job=job,
            store=store,
            resume=args.resume,
        )
    if report is None:  # not rank 0
        return 0
    with staged_folder(args.out) as staging:
        written = write_report(report, staging)
    paths = {key: args.out / path.name for key, path in written.items()}
    paths["settings"] = args.out / "settings.json"
    settings = {
        "dataset": args.dataset,
        "model": loaded.describe(),
        "methods": list(args.methods),
        "segmenters": list(args.segmenters),
        "n_segments": args.n_segments,
        "num_images": args.n,
        "batch_size": args.batch_size,
        "n_steps": args.n_steps,
        "layer": args.layer,
        "curves": not args.no_curves,
        "curve_steps": args.curve_steps,
        "ground_truth": args.ground_truth,
        "image_size": size,
        "resize": args.resize,
        "seed": args.seed,
        "device": str(args.device),
        "skipped": [list(item) for item in data.skipped] if is_folder else [],
        "versions": versions(),
    }
    write_atomic(paths["settings"], lambda tmp: tmp.write_text(json.dumps(settings, indent=2)))
    print(to_markdown(report))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    if is_folder and data.skipped:
        emit(
            f"evaluated {report.n_images} of {total} images; skipped {len(data.skipped)}: "
            + "; ".join(f"{n} ({why})" for n, why in data.skipped),
            err=True,
        )
    return 0
