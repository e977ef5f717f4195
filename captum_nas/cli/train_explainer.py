"""``captum-nas train-explainer``: train an Explainer (Stalder et al.) for a flowers classifier."""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

from captum_nas.cli import CLIError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``train-explainer`` subcommand."""
    p = subparsers.add_parser(
        "train-explainer",
        help="train an Explainer network (one mask per class) for a flowers classifier",
        description=(
            "Train an Explainer (Stalder et al., NeurIPS 2022) against a frozen classifier "
            "on the synthetic flowers, with validation, early stopping, a checkpoint after "
            "every epoch and --resume."
        ),
    )
    p.add_argument("--model", default="reference", help="reference or reference-double")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--n-train", type=int, default=512, help="training images per epoch")
    p.add_argument("--n-val", type=int, default=128, help="validation images (test split)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--patience", type=int, default=3, help="early-stopping patience (epochs)")
    p.add_argument(
        "--image-size",
        type=int,
        default=64,
        help="training image side; the Explainer resizes any input to it (default 64)",
    )
    p.add_argument("--seed", type=int, default=0)
    for name, default in (
        ("entropy-weight", 1.0),
        ("tv-weight", 1.0),
        ("area-weight", 1.0),
        ("mean-target-weight", 0.1),
        ("mean-nontarget-weight", 0.3),
        ("min-area", 0.05),
        ("max-area", 0.3),
    ):
        p.add_argument(f"--{name}", type=float, default=default)
    p.add_argument("--out", type=Path, default=Path("outputs/explainer.pt"))
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

    from captum_nas._validation import check_positive_int
    from captum_nas.explainer.training import save_explainer, train_flowers_explainer
    from captum_nas.models.loading import load_model
    from captum_nas.models.reference import reference_checkpoint_path

    variants = {"reference": "single", "reference-double": "double"}
    if args.model not in variants:
        raise CLIError(
            f"--model must be one of {sorted(variants)} (flowers classifiers), got {args.model!r}"
        )
    for name in ("epochs", "n_train", "n_val", "batch_size", "patience"):
        check_positive_int(getattr(args, name), f"--{name.replace('_', '-')}")
    loaded = load_model(args.model)
    variant = variants[args.model]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = args.checkpoint or out.with_suffix(".train.pt")
    if args.resume and not Path(ckpt).is_file():
        raise CLIError(f"--resume: no training checkpoint at {ckpt}")
    weights = {
        key: getattr(args, key)
        for key in (
            "entropy_weight",
            "tv_weight",
            "area_weight",
            "mean_target_weight",
            "mean_nontarget_weight",
            "min_area",
            "max_area",
        )
    }
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
        n_train=args.n_train,
        n_val=args.n_val,
        batch_size=args.batch_size,
        epochs=args.epochs,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        image_size=args.image_size,
        checkpoint=ckpt,
        resume=args.resume,
        progress=not args.no_progress,
        metadata=metadata,
        **weights,
    )
    meta["class_names"] = list(loaded.class_names)
    path = save_explainer(explainer, out, meta)
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
