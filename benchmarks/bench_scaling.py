"""How NAS cost grows with the work: batch 1, 16, 64 x image size 128, 224, 448.

``NASSegmenter(efficientnet_lite0(), n_segments=32)`` with its defaults (working grid
capped at 56x56, so k-means cost stops growing with the image side past 224 and the
forward and the label upsampling dominate). Each cell: median of ``repeats`` timed
calls after one warm-up, and the peak extra resident memory of one call (see
``_harness``). ``ours_s`` is the time of the cell; ``peer_s`` is the batch-1 time at
the same size times the batch (the cost of a Python loop of single-image calls, as
measured), so ``ratio`` < 1 means batching pays. Cells whose estimated time would push
the whole run past the budget are reported as skipped, with the reason.

Run: ``.venv/bin/python benchmarks/bench_scaling.py [--repeats N] [--quick]``.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from typing import Any

import torch
from _harness import make_row, measure, module_args

from captum_nas.attr.registry import build_segmenter
from captum_nas.images import SAMPLE_IMAGES, sample_image
from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER, efficientnet_lite0

BATCHES = (1, 16, 64)
SIZES = (128, 224, 448)
K = 32
BUDGET_S = 270.0  # whole scaling run, all cells


def _inputs(n: int, size: int) -> torch.Tensor:
    base = [sample_image(name, size) for name in SAMPLE_IMAGES]
    return EFFICIENTNET_LITE_NORMALIZER(torch.stack([base[i % len(base)] for i in range(n)]))


def run(
    repeats: int = 3, *, quick: bool = False, device: str | torch.device = "cpu"
) -> list[dict[str, Any]]:
    """One row per (batch, size) cell; see the module docstring for the columns."""
    dev = torch.device(device)
    model = efficientnet_lite0().to(dev)
    nas = build_segmenter("nas", model, K)
    batches = BATCHES[:2] if quick else BATCHES
    reps = 1 if quick else repeats
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for size in SIZES:
        single_s: float | None = None
        last: tuple[int, float] | None = None  # (batch, seconds) of the last measured cell
        for batch in batches:
            name = f"NAS scaling: batch {batch} x {size}px (Lite0, K={K})"
            spent = time.perf_counter() - start
            # estimate from the last measured cell, linear in the batch; (2 + reps) calls
            estimate = None if last is None else last[1] * batch / last[0] * (2 + reps)
            if estimate is not None and spent + estimate > BUDGET_S:
                rows.append(
                    make_row(
                        name,
                        None,
                        None,
                        note=(
                            f"skipped: estimated {estimate:.0f} s would exceed the "
                            f"{BUDGET_S:.0f} s budget of this table ({spent:.0f} s spent)"
                        ),
                    )
                )
                continue
            x = _inputs(batch, size).to(dev)
            timing = measure(partial(nas, x), repeats=reps, device=dev)
            last = (batch, timing.median_s)
            if batch == 1:
                single_s = timing.median_s
            loop_s = None if single_s is None else single_s * batch
            rows.append(
                make_row(
                    name,
                    timing,
                    loop_s,
                    note=(
                        f"peer = {batch} x batch-1 time; "
                        f"{timing.median_s / batch * 1000:.0f} ms/image"
                    ),
                )
            )
            print(f"  {name}: {timing.median_s:.3f} s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    args = module_args(__doc__)
    for row in run(args.repeats, quick=args.quick, device=args.device):
        print(row)
