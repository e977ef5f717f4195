"""What a NAS* class costs beside the method it wraps, NAS beside SLIC, pooling beside a
copy, and NAS's peak memory on a large batch: ratios measured in one run.

Sections (``--sections``, default all):

* ``methods``: ``NASGradCam`` / Captum ``LayerGradCam`` and ``NASSaliency`` / Captum
  ``Saliency`` (target <= 1.3), batch ``--n`` x ``--size`` px, EfficientNet-Lite0
  (pretrained, offline) and torchvision ResNet-18 (random weights), K = ``--k``; the same
  NAS* classes with ``share_forward = False`` (NAS's own forward) beside them.
* ``nas``: NAS's work after the forward (activations captured once) / scikit-image SLIC
  (a loop over the images, as in ``bench_segmentation.py``; K = ``--k``) on the same
  batch (target <= 0.25), and the whole NAS call with its own forward / SLIC.
* ``pool``: ``segment_pool`` / ``x.clone()`` of the same (16, 3, 224, 224) map, per
  reduction, over the batch's NAS segments (target <= 3 for mean and sum), and beside
  them the floor: PyTorch's CPU kernels alone on the same map and ids (``aminmax`` of
  the ids, ``scatter_add`` with one slot or 8 lanes per segment, building the lane ids,
  counting pixels over them, ``bincount``, ``gather``).
* ``memory``: extra peak resident memory of one NAS call on ``--memory-n`` x
  ``--memory-size`` px (default 64 x 448), the default ``memory_budget`` (chunked) vs
  ``memory_budget=None`` (one chunk, what every call did before), each in a fresh
  process (target: at most half).

Every timing is the median of ``--repeats`` interleaved rounds (one warm-up round
first): all the calls compared in a row run once per round, one after the other, so
load from other jobs falls on both sides alike. The load average is printed at the start
and the end. On a shared machine, ``OMP_NUM_THREADS=1 ... --clock cpu`` times this
process's CPU time instead of the wall clock. With ``--device cuda`` the models, maps
and NAS run on the GPU (every timing synchronised, wall clock; SLIC stays scikit-image's
CPU loop, as users run it) and the memory row is the peak of
``torch.cuda.max_memory_allocated``. Run:
``.venv/bin/python benchmarks/bench_round2.py [--repeats 5] [--clock cpu] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from _harness import sync
from bench_segmentation import _slic_loop, photos

from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER, efficientnet_lite0

ROWS: list[tuple[str, float, str, bool | None]] = []
#: the clock of every timing: wall time, or with ``--clock cpu`` this process's CPU time
#: (with one torch thread, robust to other jobs sharing the cores)
CLOCK = {"fn": time.perf_counter}
#: the device of the models, maps and NAS (``--device``)
DEVICE = {"dev": torch.device("cpu")}


def _on() -> str:
    """`` on cuda`` for rows measured on a GPU, else nothing."""
    dev = DEVICE["dev"]
    return "" if dev.type == "cpu" else f" on {dev}"


def _row(name: str, ratio: float, target: str, holds: bool | None) -> None:
    ROWS.append((name, ratio, target, holds))
    print(f"  {name}: {ratio:.2f}", file=sys.stderr)


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of every call over ``repeats`` interleaved rounds after a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            clock = CLOCK["fn"]
            sync(DEVICE["dev"])
            start = clock()
            fn()
            sync(DEVICE["dev"])
            if round_:
                times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _models() -> dict[str, tuple[torch.nn.Module, str]]:
    import torchvision

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None).eval().to(DEVICE["dev"])
    lite = efficientnet_lite0().to(DEVICE["dev"])
    from captum_nas.attr.registry import default_gradcam_layer

    return {
        "EfficientNet-Lite0": (lite, default_gradcam_layer(lite, "efficientnet-lite0")),
        "ResNet-18": (resnet, "layer4"),
    }


def section_methods(x: torch.Tensor, k: int, repeats: int) -> None:
    for model_name, (model, layer_name) in _models().items():
        _methods_rows(model_name, model, layer_name, x, k, repeats)


def _methods_rows(
    model_name: str, model: torch.nn.Module, layer_name: str, x: torch.Tensor, k: int, repeats: int
) -> None:
    from captum.attr import LayerGradCam, Saliency

    from captum_nas._model_state import resolve_layer
    from captum_nas.attr import NASGradCam, NASSaliency

    layer = resolve_layer(model, layer_name, "layer")
    options: dict[str, Any] = {
        "n_segments": k,
        "nas_options": {"to_image": EFFICIENTNET_LITE_NORMALIZER.inverse},
    }
    nas_cam, own_cam = NASGradCam(model, layer, **options), NASGradCam(model, layer, **options)
    nas_sal, own_sal = NASSaliency(model, **options), NASSaliency(model, **options)
    own_cam.share_forward = own_sal.share_forward = False
    cam, sal = LayerGradCam(model, layer), Saliency(model)
    med = interleaved(
        {
            "LayerGradCam": lambda: cam.attribute(x, target=0, relu_attributions=True),
            "NASGradCam": lambda: nas_cam.attribute(x, target=0),
            "NASGradCam own forward": lambda: own_cam.attribute(x, target=0),
            "Saliency": lambda: sal.attribute(x, target=0),
            "NASSaliency": lambda: nas_sal.attribute(x, target=0),
            "NASSaliency own forward": lambda: own_sal.attribute(x, target=0),
        },
        repeats,
    )
    size = f"{x.shape[0]} x {x.shape[-1]} px, {model_name}, K={k}{_on()}"
    for ours, peer in (("NASGradCam", "LayerGradCam"), ("NASSaliency", "Saliency")):
        ratio = med[ours] / med[peer]
        _row(f"{ours} / {peer}, {size}", ratio, "<= 1.3", ratio <= 1.3)
        own = med[f"{ours} own forward"] / med[peer]
        _row(f"{ours} with NAS's own forward / {peer}, {size}", own, "(before)", None)


def section_nas(x: torch.Tensor, k: int, repeats: int) -> torch.Tensor:
    from captum_nas.segmentation import NASSegmenter

    model = efficientnet_lite0().to(x.device)
    nas = NASSegmenter(model, n_segments=k, to_image=EFFICIENTNET_LITE_NORMALIZER.inverse)
    images = EFFICIENTNET_LITE_NORMALIZER.inverse(x).clamp(0, 1).cpu()
    arrays = [img.permute(1, 2, 0).contiguous().numpy() for img in images]
    acts = nas._activations(x, nas.layers_for(x))
    med = interleaved(
        {
            "SLIC": lambda: _slic_loop(arrays),
            "NAS after forward": lambda: nas.segment(x, activations=acts),
            "NAS whole": lambda: nas(x),
        },
        repeats,
    )
    size = f"{x.shape[0]} x {x.shape[-1]} px, Lite0, K={k}{_on()}"
    print(
        "  " + ", ".join(f"{name} {seconds * 1e3:.0f} ms" for name, seconds in med.items()),
        file=sys.stderr,
    )
    after = med["NAS after forward"] / med["SLIC"]
    _row(f"NAS work after the forward / SLIC, {size}", after, "<= 0.25", after <= 0.25)
    whole = med["NAS whole"] / med["SLIC"]
    _row(f"NAS with its own forward / SLIC, {size}", whole, "(reported)", None)
    return nas(x)


def section_pool(segments: torch.Tensor, repeats: int) -> None:
    from captum_nas._types import REDUCTIONS
    from captum_nas.pooling import segment_pool

    n, _, h, w = segments.shape
    dev = segments.device
    values = torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(0)).to(dev)
    fns: dict[str, Callable[[], Any]] = {"clone": values.clone}
    for reduce in ("mean", "sum", "abs-mean", "l2", "max", "min"):
        fns[reduce] = partial(segment_pool, values, segments, reduce=reduce)
    # the floor: PyTorch's CPU kernels alone, on the same map and ids (inputs made once)
    k = int(segments.max()) + 1
    p = h * w
    flat = values.reshape(n, 3, p)
    own = segments.reshape(n, 1, p)
    lane_ids = own * 8 + torch.arange(p, device=dev) % 8
    rows = (own + torch.arange(n * 3, device=dev).reshape(n, 3, 1) * k).reshape(-1)
    table = torch.randn(n, 3, k, device=dev)
    fns["aminmax of the ids"] = partial(torch.aminmax, segments)
    fns["scatter_add of the map, one slot per segment"] = lambda: flat.new_zeros(
        n, 3, k
    ).scatter_add_(2, own.expand(n, 3, p), flat)
    fns["scatter_add of the map, 8 lanes per segment"] = lambda: flat.new_zeros(
        n, 3, 8 * k
    ).scatter_add_(2, lane_ids.expand(n, 3, p), flat)
    fns["lane ids (id * 8 + i % 8)"] = partial(
        torch.add, torch.arange(p, device=dev) % 8, own, alpha=8
    )
    fns["pixel counts: scatter_add of ones over the lane ids"] = lambda: flat.new_zeros(
        n, 1, 8 * k
    ).scatter_add_(2, lane_ids, torch.ones(1, 1, p, device=dev).expand(n, 1, p))
    fns["bincount of the map (image x channel x id)"] = partial(
        torch.bincount, rows, weights=flat.reshape(-1), minlength=n * 3 * k
    )
    fns["gather of the map"] = lambda: torch.gather(table, 2, own.expand(n, 3, p))
    med = interleaved(fns, repeats)
    print(f"  clone of the map: {med['clone'] * 1e3:.2f} ms", file=sys.stderr)
    for name in fns:
        if name == "clone":
            continue
        ratio = med[name] / med["clone"]
        if name in ("mean", "sum"):
            target, holds = "<= 3", ratio <= 3
        else:
            target, holds = "(reported)", None
        label = f"segment_pool {name}" if name in REDUCTIONS else name
        _row(f"{label} / clone, {n} x 3 x {h} x {w}{_on()}", ratio, target, holds)


def _peak_child(n: int, size: int, budget: str, device: str) -> None:
    """Child process: print the extra peak memory (MiB) of one NAS call: resident memory
    on the CPU, ``torch.cuda.max_memory_allocated`` on a GPU."""
    from _harness import peak_memory_mb

    from captum_nas.images import SAMPLE_IMAGES, sample_image
    from captum_nas.segmentation import NASSegmenter

    base = [sample_image(name, size) for name in SAMPLE_IMAGES]
    x = EFFICIENTNET_LITE_NORMALIZER(torch.stack([base[i % len(base)] for i in range(n)]))
    x = x.to(device)
    options: dict[str, Any] = {} if budget == "default" else {"memory_budget": None}
    nas = NASSegmenter(efficientnet_lite0().to(device), n_segments=32, **options)
    nas.layers_for(x)  # the one-off layer probe, outside the measured call
    print(peak_memory_mb(lambda: nas(x), device=device))


def section_memory(n: int, size: int) -> None:
    peaks = {}
    for budget in ("none", "default"):
        out = subprocess.run(
            [sys.executable, __file__, "--_peak", f"{n},{size},{budget},{DEVICE['dev']}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        peaks[budget] = float(out[-1])
        print(f"  peak {budget}: {peaks[budget]:.0f} MiB", file=sys.stderr)
    ratio = peaks["default"] / peaks["none"]
    _row(
        f"NAS peak memory, default budget / unchunked, {n} x {size} px{_on()} "
        f"({peaks['default']:.0f} vs {peaks['none']:.0f} MiB)",
        ratio,
        "<= 0.5",
        ratio <= 0.5,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the sections and print the table of ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--memory-n", type=int, default=64)
    parser.add_argument("--memory-size", type=int, default=448)
    parser.add_argument("--sections", default="methods,nas,pool,memory")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: time.process_time (use with OMP_NUM_THREADS=1 on a shared machine)",
    )
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or cuda:N: where the models, maps and NAS run"
    )
    parser.add_argument("--_peak", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._peak:
        n, size, budget, device = args._peak.split(",")
        _peak_child(int(n), int(size), budget, device)
        return 0
    try:
        dev = torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available on this machine")
    if dev.type not in ("cpu", "cuda"):
        parser.error(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    if args.clock == "cpu" and dev.type != "cpu":
        parser.error("--clock cpu measures this process's CPU time; use it with --device cpu")
    DEVICE["dev"] = dev
    if args.clock == "cpu":
        CLOCK["fn"] = time.process_time
    sections = args.sections.split(",")
    print(
        f"load average at start: {os.getloadavg()[0]:.1f}; torch threads "
        f"{torch.get_num_threads()}; clock {args.clock}; device {dev}; medians of "
        f"{args.repeats} rounds",
    )
    x = EFFICIENTNET_LITE_NORMALIZER(photos(args.n, args.size)).to(dev)
    if "methods" in sections:
        section_methods(x, args.k, args.repeats)
    segments = None
    if "nas" in sections:
        segments = section_nas(x, args.k, args.repeats)
    if "pool" in sections:
        if segments is None:
            from captum_nas.segmentation import NASSegmenter

            segments = NASSegmenter(efficientnet_lite0().to(dev), n_segments=args.k)(x)
        section_pool(segments, args.repeats)
    if "memory" in sections:
        section_memory(args.memory_n, args.memory_size)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("| row | ratio | target | holds |\n|---|---|---|---|")
    for name, ratio, target, holds in ROWS:
        verdict = "" if holds is None else "yes" if holds else "no"
        print(f"| {name} | {ratio:.2f} | {target} | {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
