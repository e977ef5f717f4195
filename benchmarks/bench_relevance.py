"""Relevance curves (MoRF over 32 segments) against Quantus IROF, on the same work.

Setup: 16 images of 224x224, a 4x8 grid of 32 segments (the same segments on both
sides: Quantus' superpixel hook is pointed at them instead of SLIC), zeros baseline,
softmax probability of a fixed target, random attributions (the metric's cost does
not depend on them). Quantus runs IROF with a mask perturbation that broadcasts over
channels (its default asserts equal shapes and fails on RGB input in 0.6) and with
``np.trapz`` aliased to ``np.trapezoid`` (removed in NumPy 2). Both sides compute the
same 16 x 33 forward passes; IROF's score is recomputed from our curves
(``K - trapz(p_k / p_0, k = 1..K)``) and both are printed, so the comparison is on
the same numbers.

Rows:
* ``resnet18``: torchvision resnet18 architecture, random weights, eval mode. Both
  sides run the same 528 forward passes in batches of 16 images (Quantus' batch),
  which dominate on a CPU: the ratio is bounded by (forwards + Quantus' numpy
  overhead) / forwards.
* ``tiny CNN``: a small CNN, so the metrics' own overhead (ranking, building the
  perturbed inputs, host round trips) weighs more.

Run: ``.venv/bin/python benchmarks/bench_relevance.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from _harness import comparison_markdown
from _peers import quantus_irof
from torch import nn

from captum_nas.metrics.relevance import relevance_curve
from captum_nas.segmentation.grid import grid_mask

N_IMAGES = 16
SIZE = 224
ROWS, COLS = 4, 8  # 32 segments


def _tiny_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=4, padding=2),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def _resnet18() -> nn.Module:
    from torchvision.models import resnet18

    return resnet18(weights=None)


def _median_time(fn: Callable[[], Any], repeats: int, device: torch.device) -> tuple[float, Any]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _row(
    name: str,
    make_model: Callable[[], nn.Module],
    repeats: int,
    batch_size: int,
    device: torch.device,
) -> dict[str, Any]:
    torch.manual_seed(0)  # same random weights on every run
    model = make_model().eval().to(device)
    gen = torch.Generator().manual_seed(0)
    x_cpu = torch.rand(N_IMAGES, 3, SIZE, SIZE, generator=gen)
    attr_cpu = torch.rand(N_IMAGES, 1, SIZE, SIZE, generator=gen)
    x, attr = x_cpu.to(device), attr_cpu.to(device)
    seg = grid_mask(SIZE, SIZE, ROWS, COLS).expand(N_IMAGES, 1, SIZE, SIZE).contiguous()
    seg = seg.to(device)
    with torch.no_grad():
        target = model(x).argmax(1)

    def ours() -> torch.Tensor:
        res = relevance_curve(
            model,
            x,
            attr,
            target,
            segments=seg,
            order="morf",
            baselines="zeros",
            max_examples_per_batch=batch_size,
        )
        ratio = res.scores[:, 1:] / res.scores[:, :1]
        return (res.n_units.double() - torch.trapezoid(ratio.double(), dim=1)).cpu()

    x_np, a_np, y_np = x_cpu.numpy(), attr_cpu.numpy(), target.cpu().numpy()
    seg_np = seg[:, 0].cpu().numpy()

    def peer() -> np.ndarray:
        return quantus_irof(
            model, x_np, y_np, a_np, seg_np, device=str(device), batch_size=N_IMAGES
        )

    ours_s, ours_scores = _median_time(ours, repeats, device)
    peer_s, peer_scores = _median_time(peer, repeats, device)
    ours_mean = float(ours_scores.mean())
    peer_mean = float(np.mean(peer_scores))
    max_diff = float(np.abs(ours_scores.numpy() - peer_scores).max())
    print(f"[{name}] IROF ours {ours_mean:.6f} | Quantus {peer_mean:.6f} | max diff {max_diff:.1e}")
    return {
        "name": f"MoRF 32 segments, {N_IMAGES}x{SIZE}px, {name} (vs Quantus IROF)",
        "ours_s": ours_s,
        "peer_s": peer_s,
        "ratio": peer_s / ours_s,
        "note": (
            f"IROF ours {ours_mean:.5f} vs Quantus {peer_mean:.5f} (max diff {max_diff:.1e}); "
            f"{N_IMAGES * (ROWS * COLS + 1)} forwards each; batch_size={batch_size}; "
            f"model on {device}; {torch.get_num_threads()} CPU threads"
        ),
    }


def run(repeats: int = 3, *, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Time our relevance curves against Quantus IROF (median of ``repeats`` after a warm-up).

    Returns:
        ``{"module": "relevance", "rows": [...]}``, each row a dict with keys
        ``name``, ``ours_s``, ``peer_s``, ``ratio`` (peer_s / ours_s) and ``note``.
    """
    dev = torch.device(device)
    rows = [
        _row("tiny CNN", _tiny_cnn, repeats, batch_size=N_IMAGES * (ROWS * COLS + 1), device=dev),
        _row("resnet18", _resnet18, repeats, batch_size=N_IMAGES, device=dev),
    ]
    return {"module": "relevance", "rows": rows}


def _markdown(rows: list[dict[str, Any]]) -> str:
    return comparison_markdown(
        rows,
        seconds_digits=3,
        ratio_format="{:.1f}x",
        peer="Quantus",
        ratio="speed-up",
        target=False,
    )


if __name__ == "__main__":
    print(_markdown(run()["rows"]))
