"""``captum-nas train-reference``: train the small reference CNN on the synthetic flowers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``train-reference`` subcommand."""
    from captum_nas.cli._common import add_subparser

    p = add_subparser(
        subparsers,
        "train-reference",
        help="train the reference CNN on the synthetic flowers data",
        description="Train the reference CNN on synthetic flowers and save a checkpoint.",
    )
    p.add_argument(
        "--variant", choices=("single", "double"), default="single", help="flowers variant"
    )
    p.add_argument("--epochs", type=int, default=None, help="default: the library default")
    p.add_argument("--n-train", type=int, default=None, help="training images per epoch")
    p.add_argument("--batch-size", type=int, default=None, help="default: the library default")
    p.add_argument("--lr", type=float, default=None, help="default: the library default")
    p.add_argument("--image-size", type=int, default=None, help="default: the library default")
    p.add_argument("--seed", type=int, default=0, help="seed of data and initialisation")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="checkpoint path (default: the packaged checkpoint of the variant)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train, save the checkpoint and print the test accuracy."""
    from captum_nas.models.training import save_reference, train_reference

    options = {
        key: value
        for key, value in {
            "epochs": args.epochs,
            "n_train": args.n_train,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "image_size": args.image_size,
        }.items()
        if value is not None
    }
    model, history = train_reference(args.variant, seed=args.seed, **options)
    path = save_reference(model, history, args.out)
    summary = {
        "test_accuracy": history.test_accuracy[-1] if history.test_accuracy else None,
        "seconds": round(sum(history.epoch_seconds), 1),
    }
    print(f"saved {path} {json.dumps(summary)}")
    return 0
