"""``captum-nas benchmark``: time NAS against SLIC on your model and image size."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``benchmark`` subcommand."""
    p = subparsers.add_parser(
        "benchmark",
        help="time NAS segmentation against scikit-image SLIC",
        description=(
            "Segment a batch of scikit-image sample photos with NAS on the chosen model "
            "and with SLIC at the same K; print the median times and their ratio. The "
            "full side-by-side suite against the peers is `make bench`."
        ),
    )
    p.add_argument("--model", default="efficientnet-lite0")
    p.add_argument("--weights", default=None)
    p.add_argument("--random-weights", action="store_true")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--n-segments", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(run=run)


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batch(size: int, n: int) -> Tensor:
    from captum_nas.images import SAMPLE_IMAGES, sample_image

    imgs = [sample_image(SAMPLE_IMAGES[i % len(SAMPLE_IMAGES)], size) for i in range(n)]
    return torch.stack(imgs)


def run(args: argparse.Namespace) -> int:
    """Time both segmenters and print a small table."""
    from captum_nas._validation import check_positive_int
    from captum_nas.cli._loading import load_model
    from captum_nas.segmentation import NASSegmenter, SLICSegmenter

    for name in ("batch_size", "image_size", "n_segments", "repeats"):
        check_positive_int(getattr(args, name), f"--{name.replace('_', '-')}")
    loaded = load_model(args.model, weights=args.weights, random_weights=args.random_weights)
    x = loaded.normalizer(_batch(args.image_size, args.batch_size))
    nas = NASSegmenter(loaded.model, n_segments=args.n_segments)
    slic = SLICSegmenter(args.n_segments, to_image=loaded.normalizer.inverse)
    t_nas = _median_time(lambda: nas(x), args.repeats)
    t_slic = _median_time(lambda: slic(x), args.repeats)
    print(f"| segmenter | batch {args.batch_size} x {args.image_size}px, K={args.n_segments} |")
    print("|---|---|")
    print(f"| NAS ({args.model}, forward included) | {t_nas:.3f} s |")
    print(f"| SLIC (scikit-image) | {t_slic:.3f} s |")
    print(f"NAS / SLIC time ratio: {t_nas / t_slic:.2f}")
    return 0
