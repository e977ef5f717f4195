"""Cost of explanation-guided training against plain classifier training, same run.

One training step = forward, loss, backward, AdamW step on a batch of 32 flowers
(64x64) with the reference classifier (``FlowerCNN``, train mode). Rows
(``ratio`` = guided / plain; medians of ``repeats`` interleaved steps after a warm-up):

* ``guided, 8/32 pixel-labelled``: the classification loss on all 32 images plus the
  LRP-heatmap segmentation loss of all 6 classes on the 8 pixel-labelled ones (the
  experiment's setting with few pixel labels).
* ``guided, 32/32 pixel-labelled``: every image pixel-labelled (the "all labels" run).
* ``guided, memory-saving, 8/32``: the same objective, back-propagated one class
  heatmap at a time (same gradients, less memory, one extra decoder pass).

An epoch is a fixed number of such steps, so the per-epoch ratio is the per-step ratio;
``ours_s``/``peer_s`` are given per epoch of 512 images (16 steps). The machine was
shared with other jobs: read the ratios, not the seconds.

Run: ``.venv/bin/python benchmarks/bench_guidance.py [--repeats N] [--quick]``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from _harness import compare, make_row, markdown_table, run_module

from captum_nas.datasets import render_flowers
from captum_nas.guidance import LRPDecoder
from captum_nas.guidance.losses import pixel_labels
from captum_nas.guidance.training import GuidanceConfig, guided_backward
from captum_nas.models.reference import FlowerCNN

STEPS_PER_EPOCH = 16  # 512 images in batches of 32


def run(
    repeats: int = 3, *, quick: bool = False, device: str | torch.device = "cpu"
) -> list[dict[str, Any]]:
    """Rows ``{"name", "ours_s", "peer_s", "ratio", "target", "note", ...}`` (per epoch)."""
    dev = torch.device(device)
    n, size = (16, 64) if quick else (32, 64)
    torch.manual_seed(0)
    model = FlowerCNN(6).to(dev).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = render_flowers(n, split="train", image_size=size, device=dev)
    decoder = LRPDecoder(model)

    def plain() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(batch.images), batch.labels).backward()
        optimizer.step()

    def guided(n_labelled: int, memory_saving: bool) -> Any:
        labelled = torch.arange(n, device=dev) < n_labelled
        targets = pixel_labels(batch.part_masks, batch.labels, labelled=labelled)
        cfg = GuidanceConfig(memory_saving=memory_saving)

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            guided_backward(decoder, batch.images, batch.labels, targets, cfg)
            optimizer.step()

        return step

    rows = []
    quarter = max(1, n // 4)
    for name, k, saving in (
        (f"guided, {quarter}/{n} pixel-labelled", quarter, False),
        (f"guided, {n}/{n} pixel-labelled", n, False),
        (f"guided, memory-saving, {quarter}/{n}", quarter, True),
    ):
        ours, peer = compare(guided(k, saving), plain, repeats=repeats, device=dev)
        ours.times = [t * STEPS_PER_EPOCH for t in ours.times]
        peer.times = [t * STEPS_PER_EPOCH for t in peer.times]
        rows.append(
            make_row(
                name,
                ours,
                peer,
                note=f"per epoch of {STEPS_PER_EPOCH} steps of {n} images {size}x{size}; "
                "peer = plain cross-entropy training",
            )
        )
    return rows


def _markdown(rows: list[dict[str, Any]]) -> str:
    def peak(r: dict[str, Any]) -> str:
        if r["peak_mb"] is None or r["peer_peak_mb"] is None:
            return "n/a"
        return f"{r['peak_mb']:.0f} / {r['peer_peak_mb']:.0f}"

    header = (
        "benchmark",
        "guided (s/epoch)",
        "plain (s/epoch)",
        "ratio",
        "peak MiB (guided / plain)",
    )
    return markdown_table(
        header,
        (
            (
                str(r["name"]),
                f"{r['ours_s']:.2f}",
                f"{r['peer_s']:.2f}",
                f"{r['ratio']:.2f}x",
                peak(r),
            )
            for r in rows
        ),
    )


if __name__ == "__main__":
    run_module(__doc__, run, _markdown)
