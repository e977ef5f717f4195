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
    parser.add_argument(
        "--compare-legacy",
        action="store_true",
        help="time NAS's work after the forward, legacy options vs the defaults, interleaved",
    )
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    model = _model(args.model).to(dev)
    x = EFFICIENTNET_LITE_NORMALIZER(photos(args.n)).to(dev)
    if args.compare_legacy:
        return compare_legacy(model, x, args.k, args.repeats, dev)
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


def compare_legacy(
    model: torch.nn.Module, x: torch.Tensor, k: int, repeats: int, dev: torch.device
) -> int:
    """Median time of a NAS call without its forward: legacy options vs the defaults.

    The forward is run once per configuration and its activations reused, so only the
    work after it is timed (features incl. the colour term, clustering, upsampling or
    refinement); the two configurations alternate so that load falls on both alike.
    """
    from captum_nas.segmentation.nas import LEGACY_NAS_OPTIONS

    configs = {
        "legacy options": NASSegmenter(
            model, n_segments=k, to_image=EFFICIENTNET_LITE_NORMALIZER.inverse, **LEGACY_NAS_OPTIONS
        ),
        "new defaults": NASSegmenter(
            model, n_segments=k, to_image=EFFICIENTNET_LITE_NORMALIZER.inverse
        ),
    }
    acts = {}
    for name, nas in configs.items():
        acts[name] = nas._activations(x, nas.layers_for(x))
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(repeats + 1):
        for name, nas in configs.items():
            cached = acts[name]
            nas._activations = lambda _x, _m, cached=cached: cached  # type: ignore[method-assign]
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            start = time.perf_counter()
            nas(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t[1:]) for name, t in times.items()}
    print(
        f"NAS work after the forward, {x.shape[0]} x {tuple(x.shape[1:])}, K={k}, device "
        f"{dev}, median of {repeats} interleaved calls"
    )
    print("| configuration | median ms |\n|---|---|")
    for name, t in med.items():
        print(f"| {name} | {t * 1000:.1f} |")
    print(f"ratio new / legacy: {med['new defaults'] / med['legacy options']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
