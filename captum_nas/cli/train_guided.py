"""``captum-nas train-guided``: explanation-guided training of the flower classifier.

Fine-tunes the reference classifier with classification + LRP-heatmap segmentation
loss (pixel labels for the first ``--n-labelled`` training images only), through the
shared training loop: a progress bar, a checkpoint after every epoch (``--checkpoint``)
and ``--resume`` from it. The final model is written with its metadata to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path


def _background(value: str) -> float | str:
    if value == "tune":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--background must be a number or 'tune', got {value!r}"
        ) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``train-guided`` subcommand."""
    from captum_nas.cli._common import add_subparser, nonnegative_int, positive_int
    from captum_nas.cli._output import add_output_arguments
    from captum_nas.guidance.flowers import GuidedRun

    d = GuidedRun()
    p = add_subparser(
        subparsers,
        "train-guided",
        "explanation-guided training: LRP heatmaps trained as segmentations",
        "Fine-tune the flower classifier so that its LRP heatmaps segment the part that "
        "decides the class, from pixel labels of a few training images (Yu et al., 2024).",
        seed="seed of the batches",
        seed_default=d.seed,
    )
    p.add_argument("--n-train", type=positive_int, default=d.n_train, help="training images")
    p.add_argument(
        "--n-labelled", type=nonnegative_int, default=d.n_labelled, help="images with pixel labels"
    )
    p.add_argument("--image-size", type=positive_int, default=d.image_size, help="image side")
    p.add_argument(
        "--epochs", type=positive_int, default=d.epochs, help="epochs (with resume: in total)"
    )
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="images per step")
    p.add_argument(
        "--labelled-per-batch",
        type=nonnegative_int,
        default=d.labelled_per_batch,
        help="pixel-labelled images in every batch",
    )
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate")
    p.add_argument(
        "--segmentation-weight", type=float, default=d.segmentation_weight, help="heatmap loss"
    )
    p.add_argument(
        "--classification-weight",
        type=float,
        default=d.classification_weight,
        help="classification loss weight",
    )
    p.add_argument(
        "--background",
        type=_background,
        default=d.background,
        help="background score of the heatmap argmax, or 'tune' (chosen on the labelled images)",
    )
    p.add_argument(
        "--memory-saving", action="store_true", help="back-propagate one class heatmap at a time"
    )
    p.add_argument("--n-test", type=positive_int, default=300, help="test images scored at the end")
    p.add_argument("--checkpoint", type=Path, default=None, help="training checkpoint (resume)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    add_output_arguments(p, required=True, help="where to save the trained model")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train, save the model and print the test scores."""
    from captum_nas.cli import UsageError
    from captum_nas.cli._output import check_output_file, write_atomic
    from captum_nas.guidance.flowers import (
        GuidedRun,
        evaluate_segmenter,
        flower_set,
        lrp_segmenter,
        save_model,
        train_guided,
    )

    if args.resume and (args.checkpoint is None or not args.checkpoint.is_file()):
        raise UsageError(f"--resume: no training checkpoint at {args.checkpoint}")
    replace = args.overwrite or args.resume  # --resume continues the run's own files
    out = check_output_file(args.out, overwrite=replace)
    if args.checkpoint is not None:
        check_output_file(args.checkpoint, "--checkpoint", overwrite=replace)
    # every GuidedRun field that has an option (the others keep their defaults)
    guided = GuidedRun(
        **{f.name: getattr(args, f.name) for f in fields(GuidedRun) if f.name in vars(args)}
    )
    model, log, background = train_guided(
        guided, checkpoint=args.checkpoint, resume=args.resume, progress=not args.no_progress
    )
    test = flower_set(args.n_test, split="test", image_size=guided.image_size)
    scores = evaluate_segmenter(lrp_segmenter(model, background=background), test)
    meta = {
        "kind": "guided",
        "run": asdict(guided),
        "background": background,
        "n_classes": int(getattr(model, "n_classes", 6)),
        "widths": [int(w) for w in getattr(model, "widths", ())],
        "history": log.history,
        "test": scores,
        "call": guided.command(str(args.out)),
    }
    path = write_atomic(out, lambda tmp: save_model(model, tmp, meta))
    print(f"saved {path} {json.dumps({k: round(v, 4) for k, v in scores.items()})}")
    return 0
