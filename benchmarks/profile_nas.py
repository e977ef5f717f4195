"""Where a NAS call spends its time: forward, features (normalise + PCA + resize), colour,
k-means seeding, Lloyd iterations, refinement, label upsampling; and the arithmetic floor.

Each stage is timed on its own (median of ``--repeats`` after a warm-up, CUDA
synchronised), on the same 16 photos as ``bench_segmentation.py``; the stages add up to
about one ``NASSegmenter`` call. A profile, not a benchmark against a peer: it shows
what to optimise next.

The floor (``--floor``): the multiply-adds k-means and PCA cannot avoid at these sizes
(every Lloyd iteration actually run: one assignment product and one centre update,
2 N P K D flops each; k-means++ seeding: 3 N P D per centre; PCA: the covariance or Gram
product and the subspace iterations of every depth), divided by the rate of a batched
matrix product of the Lloyd assignment's shape measured in the same run; beside it the
measured time of the whole work after the forward.

Run: ``.venv/bin/python benchmarks/profile_nas.py [--device cuda] [--model resnet18]
[--floor] [--compare-legacy [--configs NAME,...]]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from bench_segmentation import photos

from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER, efficientnet_lite0
from captum_nas.segmentation import NASSegmenter, batched_kmeans
from captum_nas.segmentation.connectivity import upsample_labels
from captum_nas.segmentation.kmeans import _kmeans_pp, seeding_candidates
from captum_nas.segmentation.pca import OVERSAMPLE, POWER_ITERATIONS
from captum_nas.segmentation.refine import cluster_distances, refine_labels


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
    parser.add_argument(
        "--configs",
        default="",
        help="with --compare-legacy: also these comma-separated scoreboard_nas.CONFIGS names",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="estimate the arithmetic floor of k-means and PCA and compare",
    )
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    model = _model(args.model).to(dev)
    x = EFFICIENTNET_LITE_NORMALIZER(photos(args.n)).to(dev)
    if args.compare_legacy:
        extra = [c.strip() for c in args.configs.split(",") if c.strip()]
        return compare_legacy(model, x, args.k, args.repeats, dev, extra)
    nas = NASSegmenter(model, n_segments=args.k, to_image=EFFICIENTNET_LITE_NORMALIZER.inverse)
    modules = nas.layers_for(x)
    acts = nas._activations(x, modules)
    grid = nas._grid(acts)
    colors = nas._colors(x)
    emb = nas._embed(acts, grid, colors)
    n, d, gh, gw = emb.shape
    points = emb.reshape(n, d, gh * gw).transpose(1, 2).contiguous()
    kmeans_options = {
        "max_iter": nas.max_iter,
        "seed": nas.seed,
        "tol": nas.tol,
        "seed_points": nas.seed_points,
    }
    km = batched_kmeans(points, args.k, **kmeans_options)
    candidates = seeding_candidates(points, args.k, nas.seed_points)
    labels = km.labels.reshape(n, gh, gw)
    deep_dims = d - 3 if colors is not None else d
    dist = cluster_distances(points, labels.reshape(n, -1), args.k, dims=deep_dims)
    iterations = nas.refine or 0
    gen = torch.Generator()
    assert colors is not None
    stages = {
        "whole call": lambda: nas(x),
        "forward (hooks)": lambda: nas._activations(x, modules),
        "after the forward": lambda: nas.segment(x, activations=acts),
        "colour (CIELAB, full size)": lambda: nas._colors(x),
        "features (norm, PCA, resize, colour cells)": lambda: nas._embed(acts, grid, colors),
        "k-means++ seeding": lambda: _kmeans_pp(candidates, args.k, gen.manual_seed(0)),
        "k-means (seeding + Lloyd)": lambda: batched_kmeans(points, args.k, **kmeans_options),
        "refinement: cluster distances": lambda: cluster_distances(
            points, km.labels, args.k, dims=deep_dims
        ),
        f"refinement: label choice ({iterations} colour iterations)": lambda: refine_labels(
            labels, dist, colors, color_weight=nas.refine_color_weight, iterations=iterations
        ),
        "label upsampling (legacy, no refinement)": lambda: upsample_labels(
            labels, tuple(x.shape[-2:])
        ),
    }
    print(
        f"NAS profile: {args.model}, {args.n} x {tuple(x.shape[1:])}, K={args.k}, "
        f"grid {gh}x{gw}, {d} dims, device {dev}, {torch.get_num_threads()} threads"
    )
    print("| stage | median ms |\n|---|---|")
    measured = {}
    for name, fn in stages.items():
        measured[name] = _time(fn, args.repeats, dev)
        print(f"| {name} | {measured[name] * 1000:.1f} |")
    if args.floor:
        steps = [
            batched_kmeans(points[i : i + 1], args.k, **kmeans_options).n_iter
            for i in range(points.shape[0])
        ]
        floor(points, args.k, steps, candidates.shape[1], acts, nas.pca_dims, measured, dev)
    return 0


def floor(
    points: torch.Tensor,
    k: int,
    steps: list[int],
    n_candidates: int,
    acts: list[torch.Tensor],
    pca_dims: int | None,
    measured: dict[str, float],
    dev: torch.device,
) -> None:
    """Print the flops of k-means and PCA, the measured matmul rate and the floor.

    ``steps`` are the Lloyd iterations of every image (each clustered alone: a batch
    iterates an image only until it stops), ``n_candidates`` the points per image the
    k-means++ seeding draws from.
    """
    n, p, d = points.shape
    kmeans_flops = sum(steps) * 2 * (2 * p * k * d) + k * 3 * n * n_candidates * d
    pca_flops = 0
    for a in acts:
        c, s = a.shape[1], a.shape[2] * a.shape[3]
        if pca_dims is None or c <= pca_dims:
            continue
        m = min(c, s)
        width = pca_dims + OVERSAMPLE
        pca_flops += n * (2 * s * c * m + (POWER_ITERATIONS + 2) * 2 * m * m * width)
        pca_flops += n * 2 * s * c * pca_dims  # the projection
    centres = torch.randn(n, k, d, device=dev)
    rate_s = _time(lambda: torch.bmm(points, centres.transpose(1, 2)), 5, dev)
    rate = 2 * n * p * k * d / rate_s
    floor_s = (kmeans_flops + pca_flops) / rate
    after = measured["after the forward"]
    print(
        f"\nfloor: k-means {kmeans_flops / 1e9:.2f} GFLOP ({sum(steps)} Lloyd iterations over "
        f"{n} images, {min(steps)}-{max(steps)} each), PCA {pca_flops / 1e9:.2f} GFLOP; matmul "
        f"rate of the assignment's shape {rate / 1e9:.1f} GFLOP/s -> floor "
        f"{floor_s * 1000:.0f} ms; measured work after the forward {after * 1000:.0f} ms = "
        f"{after / floor_s:.1f}x the floor"
    )


def _lloyd_iterations(nas: NASSegmenter, x: torch.Tensor, acts: list[torch.Tensor]) -> int:
    """Lloyd iterations of the flat k-means of one call (a second k-means on its points)."""
    grid = nas._grid(acts)
    emb = nas._embed(acts, grid, nas._colors(x))
    n, d = emb.shape[:2]
    points = emb.reshape(n, d, -1).transpose(1, 2).contiguous()
    return batched_kmeans(points, nas.n_segments, max_iter=nas.max_iter, seed=nas.seed).n_iter


def compare_legacy(
    model: torch.nn.Module,
    x: torch.Tensor,
    k: int,
    repeats: int,
    dev: torch.device,
    extra: list[str] | None = None,
) -> int:
    """Median time of a NAS call without its forward: legacy options vs the defaults.

    The forward is run once per configuration and its activations reused, so only the
    work after it is timed (features incl. the colour term, clustering, upsampling or
    refinement) beside scikit-image SLIC at the same K on the same images; the three
    alternate so that load falls on all alike.
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
    if extra:
        from scoreboard_nas import CONFIGS

        for name in extra:
            configs[name] = NASSegmenter(
                model, n_segments=k, to_image=EFFICIENTNET_LITE_NORMALIZER.inverse, **CONFIGS[name]
            )
    acts = {}
    for name, nas in configs.items():
        acts[name] = nas._activations(x, nas.layers_for(x))
    from skimage.segmentation import slic

    images = EFFICIENTNET_LITE_NORMALIZER.inverse(x.cpu()).clamp(0, 1)
    arrays = [img.permute(1, 2, 0).contiguous().numpy() for img in images]
    runs: dict[str, Callable[[], Any]] = {
        name: (lambda nas=nas: nas(x)) for name, nas in configs.items()
    }
    runs["scikit-image SLIC"] = lambda: [slic(a, n_segments=k, start_label=0) for a in arrays]
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    n_iter: dict[str, int] = {}
    for _ in range(repeats + 1):
        for name, run in runs.items():
            if name in configs:
                cached = acts[name]
                configs[name]._activations = lambda _x, _m, c=cached: c  # type: ignore[method-assign]
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    for name, nas in configs.items():
        n_iter[name] = _lloyd_iterations(nas, x, acts[name])
    med = {name: statistics.median(t[1:]) for name, t in times.items()}
    med_cpu = {name: statistics.median(t[1:]) for name, t in cpu.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"NAS work after the forward, {x.shape[0]} x {tuple(x.shape[1:])}, K={k}, device "
        f"{dev}, {torch.get_num_threads()} threads, median of {repeats} interleaved calls "
        f"after a warm-up, load average {load:.2f}"
    )
    print("| configuration | wall ms | CPU ms | Lloyd iterations |\n|---|---|---|---|")
    for name in runs:
        print(
            f"| {name} | {med[name] * 1000:.1f} | {med_cpu[name] * 1000:.1f} | "
            f"{n_iter.get(name, '')} |"
        )
    new, old = "new defaults", "legacy options"
    print(
        f"ratio new / legacy: wall {med[new] / med[old]:.2f}, CPU {med_cpu[new] / med_cpu[old]:.2f}"
    )
    slic_name = "scikit-image SLIC"
    for name in extra or []:
        print(f"{name} / legacy: CPU {med_cpu[name] / med_cpu[old]:.2f}")
    for name in configs:
        print(
            f"{name} / SLIC: wall {med[name] / med[slic_name]:.2f}, "
            f"CPU {med_cpu[name] / med_cpu[slic_name]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
