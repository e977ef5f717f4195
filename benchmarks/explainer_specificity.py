"""Class specificity of the shipped Explainer vs GradCAM, IG, Saliency and occlusion.

For each of ``n`` flowers test images (128 px, the reference CNN) every method explains
every one of the 6 classes; the area of a map is its mean value over the pixels (maps
other than the Explainer's are divided by the maximum of the true class's map on the
same image, clamped to [0, 1]). Reported: mean area of the true class's map, of the
wrong classes' maps, and their ratio (lower = more class specific), plus for the
Explainer the fraction of pixels above 0.5. Occlusion uses non-overlapping 16 px
windows here (64 forwards per image and class), IG 32 steps.

Run: ``.venv/bin/python benchmarks/explainer_specificity.py [--n 32] [--out DIR]``
(writes ``specificity.md`` and ``specificity.json`` there, and prints the table);
``--figure PATH`` also draws 6 test images with the Explainer's and GradCAM's maps of
the true class and of a wrong class (the README figure).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerGradCam, Occlusion, Saliency
from torch import Tensor

from captum_nas.datasets import render_flowers
from captum_nas.explainer import ExplainerAttribution, shipped_explainer
from captum_nas.explainer.specificity import class_areas, class_maps
from captum_nas.models import reference_model


def methods(model: torch.nn.Module) -> dict[str, Any]:
    """Name -> ``fn(x, target) -> non-negative (N, 1, H, W)`` map."""
    expl = ExplainerAttribution(model, shipped_explainer())
    cam = LayerGradCam(model, model.layer4)
    ig = IntegratedGradients(model)
    sal = Saliency(model)
    occ = Occlusion(model)

    def gradcam(x: Tensor, t: Tensor) -> Tensor:
        a = cam.attribute(x, target=t, relu_attributions=True)
        return F.interpolate(a, size=x.shape[-2:], mode="bilinear", align_corners=False)

    return {
        "explainer": lambda x, t: expl.attribute(x, target=t)[:, :1],
        "gradcam": gradcam,
        "ig": lambda x, t: ig.attribute(x, target=t, n_steps=32).sum(1, keepdim=True).abs(),
        "saliency": lambda x, t: sal.attribute(x, target=t, abs=True).sum(1, keepdim=True),
        "occlusion": lambda x, t: (
            occ.attribute(
                x,
                target=t,
                sliding_window_shapes=(3, 16, 16),
                strides=(3, 16, 16),
                perturbations_per_eval=64,
            )
            .sum(1, keepdim=True)
            .clamp_min(0)
        ),
    }


def run(n: int = 32, batch_size: int = 16) -> list[dict[str, Any]]:
    """One row per method: true/other areas and their ratio."""
    torch.manual_seed(0)
    model = reference_model("single").eval()
    fns = methods(model)
    maps: dict[str, list[Tensor]] = {name: [] for name in fns}
    labels = []
    for start in range(0, n, batch_size):
        batch = render_flowers(torch.arange(start, min(n, start + batch_size)), split="test")
        labels.append(batch.labels)
        for name, fn in fns.items():
            maps[name].append(class_maps(fn, batch.images, 6))
    y = torch.cat(labels)
    rows = []
    for name, chunks in maps.items():
        m = torch.cat(chunks)
        areas = class_areas(m, y, normalize=name != "explainer")
        row: dict[str, Any] = {
            "method": name,
            "true_area": areas.true_area,
            "other_area": areas.other_area,
            "ratio": areas.ratio,
            "n_images": areas.n_images,
        }
        if name == "explainer":
            hard = class_areas((m > 0.5).float(), y)
            row["true_area_05"] = hard.true_area
            row["other_area_05"] = hard.other_area
        rows.append(row)
    return rows


def figure(path: Path) -> None:
    """Six test images; rows: image, Explainer and GradCAM maps of the true and a wrong class."""
    from matplotlib.figure import Figure

    from captum_nas.datasets import CLASS_NAMES, denormalize

    model = reference_model("single").eval()
    fns = methods(model)
    batch = render_flowers(6, split="test")
    wrong = (batch.labels + 3) % 6
    maps = {
        "Explainer, true class": fns["explainer"](batch.images, batch.labels)[:, 0],
        "Explainer, wrong class": fns["explainer"](batch.images, wrong)[:, 0],
    }
    g_true = fns["gradcam"](batch.images, batch.labels)[:, 0].detach()
    g_wrong = fns["gradcam"](batch.images, wrong)[:, 0].detach()
    scale = g_true.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    maps["GradCAM, true class"] = g_true / scale
    maps["GradCAM, wrong class"] = (g_wrong / scale).clamp(0, 1)
    images = denormalize(batch.images).clamp(0, 1)
    fig = Figure(figsize=(9, 7.8))
    axes = fig.subplots(5, 6)
    for i in range(6):
        axes[0, i].imshow(images[i].permute(1, 2, 0).numpy())
        axes[0, i].set_title(CLASS_NAMES["single"][int(batch.labels[i])], fontsize=8)
        for r, (title, m) in enumerate(maps.items(), start=1):
            axes[r, i].imshow(m[i].numpy(), cmap="magma", vmin=0, vmax=1)
            if i == 0:
                axes[r, i].set_ylabel(title, fontsize=8)
    axes[0, 0].set_ylabel("image", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=72)


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The table."""
    lines = [
        "| method | true-class area | wrong-class area | ratio (lower = more specific) |",
        "|---|---|---|---|",
    ]
    for r in rows:
        extra = ""
        if "true_area_05" in r:
            extra = f" (pixels > 0.5: {r['true_area_05']:.3f} vs {r['other_area_05']:.4f})"
        lines.append(
            f"| {r['method']} | {r['true_area']:.3f} | {r['other_area']:.4f}{extra} | "
            f"{r['ratio']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("outputs/explainer_specificity"))
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()
    if args.figure is not None:
        figure(args.figure)
    result = run(args.n, args.batch_size)
    args.out.mkdir(parents=True, exist_ok=True)
    table = to_markdown(result)
    (args.out / "specificity.md").write_text(table + "\n")
    (args.out / "specificity.json").write_text(json.dumps(result, indent=2))
    print(table)
