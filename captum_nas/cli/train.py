"""``captum-nas train-reference``: train the small reference CNN on the synthetic flowers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: where the checkpoint goes without --out (a user path: never the packaged file)
DEFAULT_OUT = Path("outputs")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``train-reference`` subcommand."""
    from captum_nas.cli._common import add_subparser, positive_int
    from captum_nas.cli._output import add_output_arguments

    p = add_subparser(
        subparsers,
        "train-reference",
        "train the reference CNN on the synthetic flowers data",
        "Train the reference CNN on synthetic flowers and save a checkpoint.",
        seed="seed of data and initialisation",
    )
    p.add_argument(
        "--variant", choices=("single", "double"), default="single", help="flowers variant"
    )
    for option, what in (
        ("--epochs", "epochs"),
        ("--n-train", "training images per epoch"),
        ("--batch-size", "images per step"),
        ("--image-size", "image side"),
    ):
        p.add_argument(option, type=positive_int, help=f"{what} (default: the library's)")
    p.add_argument("--lr", type=float, default=None, help="default: the library default")
    add_output_arguments(
        p,
        help=f"checkpoint path (default: {DEFAULT_OUT}/reference_flowers_VARIANT.pt; the "
        "checkpoints shipped in the package are replaced only when named here, with "
        "--overwrite)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train, save the checkpoint and print the test accuracy."""
    from captum_nas.cli._output import check_output_file, write_atomic
    from captum_nas.models.training import save_reference, train_reference

    out = args.out or DEFAULT_OUT / f"reference_flowers_{args.variant}.pt"
    check_output_file(out, overwrite=args.overwrite)
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
    path = write_atomic(out, lambda tmp: save_reference(model, history, tmp))
    summary = {
        "test_accuracy": history.test_accuracy[-1] if history.test_accuracy else None,
        "seconds": round(sum(history.epoch_seconds), 1),
    }
    print(f"saved {path} {json.dumps(summary)}")
    return 0
