"""Where a NAS call spends its time: forward, features (normalise + PCA + resize), k-means
seeding, Lloyd iterations, label upsampling.

Each stage is timed on its own (median of ``--repeats`` after a warm-up, CUDA
synchronised), on the same 16 photos as ``bench_segmentation.py``; the stages add up to
about one ``NASSegmenter`` call. A profile, not a benchmark against a peer: it shows
what to optimise next.

Run: ``.venv/bin/python benchmarks/profile_nas.py [--device cuda] [--model resnet18]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from bench_segmentation import photos

from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER, efficientnet_lite0
from captum_nas.segmentation import NASSegmenter, batched_kmeans
from captum_nas.segmentation.connectivity import upsample_labels
from captum_nas.segmentation.kmeans import _kmeans_pp


def _time(fn: Callable[[], Any], repeats: int, device: torch.device) -> float:
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _model(name: str) -> torch.nn.Module:
    if name == "lite0":
        return efficientnet_lite0()
    import torchvision

    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None).eval()


def main(argv: list[str] | None = None) -> int:
    """Print the stage times of one NAS call."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="lite0", help="lite0 or a torchvision name")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    model = _model(args.model).to(dev)
    x = EFFICIENTNET_LITE_NORMALIZER(photos(args.n)).to(dev)
    nas = NASSegmenter(model, n_segments=args.k)
    modules = nas.layers_for(x)
    acts = nas._activations(x, modules)
    grid = nas._grid(acts)
    emb = nas._embed(acts, grid)
    n, d, gh, gw = emb.shape
    points = emb.reshape(n, d, gh * gw).transpose(1, 2).contiguous()
    labels = batched_kmeans(points, args.k).labels.reshape(n, gh, gw)
    gen = torch.Generator()
    stages = {
        "whole call": lambda: nas(x),
        "forward (hooks)": lambda: nas._activations(x, modules),
        "features (norm, PCA, resize)": lambda: nas._embed(acts, grid),
        "k-means++ seeding": lambda: _kmeans_pp(points, args.k, gen.manual_seed(0)),
        "k-means (seeding + Lloyd)": lambda: batched_kmeans(points, args.k),
        "label upsampling": lambda: upsample_labels(labels, tuple(x.shape[-2:])),
    }
    print(
        f"NAS profile: {args.model}, {args.n} x {tuple(x.shape[1:])}, K={args.k}, "
        f"grid {gh}x{gw}, {d} dims, device {dev}, {torch.get_num_threads()} threads"
    )
    print("| stage | median ms |\n|---|---|")
    for name, fn in stages.items():
        print(f"| {name} | {_time(fn, args.repeats, dev) * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
