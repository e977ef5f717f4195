"""``captum-nas benchmark``: time NAS against SLIC on your model and image size."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

SUMMARY = "time NAS segmentation against scikit-image SLIC"
DESCRIPTION = (
    "Segment a batch of scikit-image sample photos with NAS on the chosen model and with "
    "SLIC at the same K; print the median times and their ratio (writes no file). The "
    "full side-by-side suite against the peers is `make bench`."
)
MODEL = "efficientnet-lite0"  # default --model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``benchmark`` subcommand."""
    from captum_nas.cli._common import add_subparser, positive_int

    seed = "seed of NAS and of random weights"
    p = add_subparser(subparsers, "benchmark", SUMMARY, DESCRIPTION, model=MODEL, seed=seed)
    p.add_argument("--batch-size", type=positive_int, default=16, help="images per batch")
    p.add_argument("--n-segments", type=positive_int, default=32, help="K of both segmenters")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed repeats (median)")
    p.set_defaults(run=run)


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batch(size: int, n: int, resize: str = "crop") -> Tensor:
    from captum_nas.evaluation.data import prepare_image
    from captum_nas.images import SAMPLE_IMAGES, sample_image

    imgs = [
        prepare_image(sample_image(SAMPLE_IMAGES[i % len(SAMPLE_IMAGES)], None), size, resize)
        for i in range(n)
    ]
    return torch.stack(imgs)


def run(args: argparse.Namespace) -> int:
    """Time both segmenters and print a small table."""
    from captum_nas.attr.registry import build_segmenter
    from captum_nas.cli._common import load_from_args

    loaded = load_from_args(args)
    size = args.image_size or loaded.input_size
    x = loaded.normalizer(_batch(size, args.batch_size, args.resize).to(args.device))
    nas = build_segmenter("nas", loaded.model, args.n_segments, args.seed)
    slic = build_segmenter(
        "slic", loaded.model, args.n_segments, args.seed, to_image=loaded.normalizer.inverse
    )
    assert nas is not None and slic is not None
    t_nas = _median_time(lambda: nas(x), args.repeats)
    t_slic = _median_time(lambda: slic(x), args.repeats)
    print(f"| segmenter | batch {args.batch_size} x {size}px, K={args.n_segments} |")
    print("|---|---|")
    print(f"| NAS ({args.model}, forward included) | {t_nas:.3f} s |")
    print(f"| SLIC (scikit-image) | {t_slic:.3f} s |")
    print(f"NAS / SLIC time ratio: {t_nas / t_slic:.2f}")
    return 0
