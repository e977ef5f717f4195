"""``captum-nas train-explainer``: train an Explainer (Stalder et al.) for a flowers classifier."""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

from captum_nas.cli import UsageError

#: options passed on to ``train_flowers_explainer`` under their own names
TRAINING_OPTIONS = ("n_train", "n_val", "batch_size", "epochs", "lr", "patience", "seed")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``train-explainer`` subcommand."""
    from captum_nas.cli._common import add_subparser, positive_int
    from captum_nas.cli._output import add_output_arguments

    p = add_subparser(
        subparsers,
        "train-explainer",
        "train an Explainer network (one mask per class) for a flowers classifier",
        "Train an Explainer (Stalder et al., NeurIPS 2022) against a frozen classifier "
        "on the synthetic flowers, with validation, early stopping, a checkpoint after "
        "every epoch and --resume.",
        seed="seed of the data and the initialisation",
    )
    p.add_argument("--model", default="reference", help="reference or reference-double")
    for option, default, what in (
        ("--epochs", 12, "epochs"),
        ("--n-train", 512, "training images per epoch"),
        ("--n-val", 128, "validation images (test split)"),
        ("--batch-size", 8, "images per step"),
        ("--patience", 3, "early-stopping patience (epochs)"),
        ("--image-size", 64, "training image side; the Explainer resizes any input to it"),
    ):
        p.add_argument(option, type=positive_int, default=default, help=what)
    p.add_argument("--lr", type=float, default=1e-2)
    from captum_nas.explainer.losses import DEFAULT_WEIGHTS

    for name, weight in DEFAULT_WEIGHTS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=weight)
    add_output_arguments(
        p, default=Path("outputs/explainer.pt"), help="where to save the trained Explainer"
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="training checkpoint written after every epoch (default: OUT with .train.pt)",
    )
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(args: argparse.Namespace) -> int:
    """Train, save the Explainer with its metadata and print a summary."""
    import torch

    from captum_nas.cli._output import check_output_file, write_atomic
    from captum_nas.explainer.losses import DEFAULT_WEIGHTS
    from captum_nas.explainer.training import save_explainer, train_flowers_explainer
    from captum_nas.models.loading import load_model
    from captum_nas.models.reference import reference_checkpoint_path

    variants = {"reference": "single", "reference-double": "double"}
    if args.model not in variants:
        raise UsageError(
            f"--model must be one of {sorted(variants)} (flowers classifiers), got {args.model!r}"
        )
    loaded = load_model(args.model)
    variant = variants[args.model]
    out = Path(args.out)
    ckpt = Path(args.checkpoint or out.with_suffix(".train.pt"))
    if args.resume and not ckpt.is_file():
        raise UsageError(f"--resume: no training checkpoint at {ckpt}")
    for path, option in ((out, "--out"), (ckpt, "--checkpoint")):  # --resume continues them
        check_output_file(path, option, overwrite=args.overwrite or args.resume)
    weights = {key: getattr(args, key) for key in DEFAULT_WEIGHTS}
    classifier_file = reference_checkpoint_path(variant)
    metadata = {
        "command": "captum-nas " + shlex.join(["train-explainer", *sys.argv[2:]])
        if len(sys.argv) > 1 and sys.argv[1] == "train-explainer"
        else "captum-nas train-explainer (called from Python)",
        "classifier": {
            "model": args.model,
            "file": classifier_file.name,
            "sha256": _sha256(classifier_file) if classifier_file.is_file() else None,
        },
    }
    explainer, _, meta = train_flowers_explainer(
        loaded.model,
        variant,
        **{key: getattr(args, key) for key in TRAINING_OPTIONS},
        image_size=args.image_size,
        checkpoint=ckpt,
        resume=args.resume,
        progress=not args.no_progress,
        metadata=metadata,
        **weights,
    )
    meta["class_names"] = list(loaded.class_names)
    path = write_atomic(out, lambda tmp: save_explainer(explainer, tmp, meta))
    summary = {
        "epochs_run": meta["epochs_run"],
        "best_epoch": meta["best_epoch"],
        "best_val_loss": round(float(meta["best_val_loss"]), 4),
        "val_masked_accuracy": meta["val_masked_accuracy"],
        "seconds": round(float(meta["train_seconds"]), 1),
        "threads": torch.get_num_threads(),
    }
    print(f"saved {path} {json.dumps(summary)}")
    return 0
