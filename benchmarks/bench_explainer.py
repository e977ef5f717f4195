"""Cost per image of an Explainer explanation vs Captum IG (50 steps) and vs occlusion.

Same model (the flowers reference CNN), same batch (16 flowers test images, 128 px),
same targets (the labels), in the same run, interleaved (see ``_harness.compare``):

* ``ExplainerAttribution`` (the shipped Explainer: one forward of a small
  encoder-decoder) vs Captum ``IntegratedGradients`` with ``n_steps=50``
  (``internal_batch_size`` = 50 * batch / 4).
* the same vs Captum ``Occlusion`` with 16x16 windows, stride 8 (225 forwards per image,
  ``perturbations_per_eval=64``).

``ratio`` = Explainer / peer (lower is better); the note gives the speed-up and the
time per image. The Explainer's one-off training cost (minutes, see
``explainer_checkpoint_info()["train_seconds"]``) is not counted: it is paid once per
classifier, not per explanation.

Run: ``.venv/bin/python benchmarks/bench_explainer.py [--repeats N] [--quick] [--device cuda]``.
"""

from __future__ import annotations

from typing import Any

import torch
from _harness import compare, comparison_markdown, make_row, run_module
from captum.attr import IntegratedGradients, Occlusion

from captum_nas.datasets import render_flowers
from captum_nas.explainer import ExplainerAttribution, shipped_explainer
from captum_nas.models import reference_model


def run(
    repeats: int = 3, *, quick: bool = False, device: str | torch.device = "cpu"
) -> list[dict[str, Any]]:
    """Rows ``{"name", "ours_s", "peer_s", "ratio", "target", "note", ...}``."""
    dev = torch.device(device)
    n = 4 if quick else 16
    model = reference_model("single").to(dev).eval()
    batch = render_flowers(n, split="test", seed=0, device=dev)
    x, target = batch.images, batch.labels
    explainer = ExplainerAttribution(model, shipped_explainer().to(dev))
    ig = IntegratedGradients(model)
    occlusion = Occlusion(model)

    def ours() -> torch.Tensor:
        return explainer.attribute(x, target=target)

    def run_ig() -> torch.Tensor:
        return ig.attribute(x, target=target, n_steps=50, internal_batch_size=max(1, 50 * n // 4))

    def run_occlusion() -> torch.Tensor:
        return occlusion.attribute(
            x,
            target=target,
            sliding_window_shapes=(3, 16, 16),
            strides=(3, 8, 8),
            perturbations_per_eval=64,
        )

    rows = []
    for name, peer in (
        (f"Explainer vs Captum IG (50 steps), {n} x 128 px, reference CNN", run_ig),
        (f"Explainer vs Captum Occlusion (16 px window, stride 8), {n} x 128 px", run_occlusion),
    ):
        t_ours, t_peer = compare(ours, peer, repeats=repeats, device=dev)
        rows.append(
            make_row(
                name,
                t_ours,
                t_peer,
                target="<= 0.1",
                note=(
                    f"speed-up {t_peer.median_s / t_ours.median_s:.0f}x; "
                    f"{1000 * t_ours.median_s / n:.2f} vs {1000 * t_peer.median_s / n:.1f} "
                    "ms per image"
                ),
            )
        )
    return rows


def _markdown(rows: list[dict[str, Any]]) -> str:
    return comparison_markdown(rows, ratio_format="{:.4f}")


if __name__ == "__main__":
    run_module(__doc__, run, _markdown)
