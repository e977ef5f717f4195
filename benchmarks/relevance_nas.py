"""MoRF and LeRF relevance curves of pooled and unpooled maps on the photo composites.

The NAS paper reads superpixel pooling as evidence that the area under the LeRF curve
(least relevant first) is an inconsistent metric. This measures it on the photo
composites (EfficientNet-Lite0): the Integrated Gradients (8 steps) and GradCAM maps
of ``scoreboard_nas.py`` (magnitude of the channel sum, the cached maps),
unpooled and mean-pooled over SLIC and NAS (defaults) at K = 16, are scored by the
same removal: 16 x 16 pixel patches (196 per image, so every map is judged on the same
units), ranked by the map's mean over the patch, removed in ``--steps`` steps to the
zeros baseline (grey after the photos' normalisation), softmax probability of the
target. A seeded random order gives the chance curve. Columns: AUC MoRF (lower is
better), AUC LeRF (higher is better), their gap, and IoU-0.7 box accuracy of the same
map; then Kendall's tau-b between the rankings of the six maps by each criterion.

Run (after ``scoreboard_nas.py --stage maps``)::

    nice -n 5 .venv/bin/python benchmarks/relevance_nas.py --n 16 \\
        --figure docs/figures/photos_relevance_curves.png

It writes ``relevance.md`` and ``relevance.json`` into ``--out``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from _harness import map_cache_parser
from scoreboard_nas import K_PHOTOS, box_acc70, cached_maps
from torch import Tensor
from tqdm.auto import tqdm

from captum_nas.datasets import PHOTOS_NORMALIZER
from captum_nas.datasets.photos import render_photos
from captum_nas.metrics.agreement import segment_agreement
from captum_nas.metrics.relevance import relevance_curve
from captum_nas.pooling import segment_pool
from captum_nas.segmentation import NASSegmenter, SLICSegmenter

METHODS = ("ig", "gradcam")
POOLINGS = ("none", "SLIC", "NAS")
PATCH = 16


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b between two score lists (scipy's handling of ties)."""
    res = segment_agreement(torch.tensor([a]), torch.tensor([b]), top_k=1)
    return float(res.kendall[0])


def _segments(name: str, model: torch.nn.Module, x: Tensor) -> Tensor | None:
    inv = PHOTOS_NORMALIZER.inverse
    if name == "none":
        return None
    seg = (
        SLICSegmenter(K_PHOTOS, to_image=inv)
        if name == "SLIC"
        else NASSegmenter(model, n_segments=K_PHOTOS, to_image=inv)
    )
    return torch.cat([seg(x[i : i + 16]) for i in range(0, len(x), 16)])


def main(argv: list[str] | None = None) -> int:
    """Measure the curves; returns the exit status."""
    parser = map_cache_parser(__doc__)
    parser.add_argument("--n", type=int, default=16, help="photos (the first n)")
    parser.add_argument("--steps", type=int, default=8, help="removal steps per curve")
    parser.add_argument("--figure", type=Path, help="also draw the mean curves to this PNG")
    args = parser.parse_args(argv)
    from captum_nas.models.pretrained import efficientnet_lite0

    lite = efficientnet_lite0()
    pb = render_photos(range(args.maps_photos), seed=0)
    px = PHOTOS_NORMALIZER(pb.images)
    cache = args.out / f"photos_{args.maps_photos}_steps{args.n_steps}"
    maps = cached_maps(lite, px, pb.labels, METHODS, cache, n_steps=args.n_steps)
    n = args.n
    x, labels = px[:n], pb.labels[:n]
    boxes = [b.reshape(1, 4) for b in pb.boxes[:n]]
    rows: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    common = {"patch_size": PATCH, "n_steps": args.steps, "max_examples_per_batch": 32}
    chance = relevance_curve(lite, x, maps["ig"][:n], labels, order="random", **common)
    for pooling in tqdm(POOLINGS, desc="poolings"):
        seg = _segments(pooling, lite, x)
        for method in METHODS:
            m = maps[method][:n]
            pooled = m if seg is None else segment_pool(m, seg).map
            row: dict[str, Any] = {"method": method, "pooling": pooling}
            for order in ("morf", "lerf"):
                res = relevance_curve(lite, x, pooled, labels, order=order, **common)
                row[f"auc_{order}"] = float(res.auc.mean())
                row[f"auc_{order}_per_image"] = res.auc.tolist()
                curves[f"{method}/{pooling}/{order}"] = (
                    res.fraction_removed.mean(0).tolist(),
                    res.scores.mean(0).tolist(),
                )
            row["gap"] = row["auc_lerf"] - row["auc_morf"]
            row["boxacc_iou70"] = box_acc70(pooled, boxes)
            rows.append(row)
            print(
                f"{method} {pooling}: MoRF {row['auc_morf']:.3f} LeRF {row['auc_lerf']:.3f}",
                file=sys.stderr,
                flush=True,
            )
    summary = {
        "n": n,
        "chance_auc": float(chance.auc.mean()),
        "tau_morf_lerf": kendall_tau([-r["auc_morf"] for r in rows], [r["auc_lerf"] for r in rows]),
        "tau_morf_boxacc": kendall_tau(
            [-r["auc_morf"] for r in rows], [r["boxacc_iou70"] for r in rows]
        ),
        "tau_lerf_boxacc": kendall_tau(
            [r["auc_lerf"] for r in rows], [r["boxacc_iou70"] for r in rows]
        ),
    }
    text = markdown(rows, summary)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "relevance.md").write_text(text + "\n")
    (args.out / "relevance.json").write_text(
        json.dumps({"summary": summary, "rows": rows, "curves": curves}) + "\n"
    )
    if args.figure is not None:
        figure(args.figure, curves, summary)
    return 0


def markdown(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The table and the rank agreements."""
    out = [
        f"**photos ({summary['n']} composites, EfficientNet-Lite0, K={K_PHOTOS}; "
        f"{PATCH}x{PATCH} patches removed to zeros; random order AUC "
        f"{summary['chance_auc']:.3f})**\n",
        "| method | pooling | AUC MoRF (lower) | AUC LeRF (higher) | LeRF - MoRF | IoU-0.7 |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['method']} | {r['pooling']} | {r['auc_morf']:.3f} | {r['auc_lerf']:.3f} | "
            f"{r['gap']:.3f} | {r['boxacc_iou70']:.3f} |"
        )
    out.append("")
    out.append(
        "Kendall's tau over the six maps: MoRF vs LeRF "
        f"{summary['tau_morf_lerf']:.2f}, MoRF vs IoU-0.7 {summary['tau_morf_boxacc']:.2f}, "
        f"LeRF vs IoU-0.7 {summary['tau_lerf_boxacc']:.2f} (1: same order)."
    )
    return "\n".join(out)


def figure(path: Path, curves: dict[str, Any], summary: dict[str, Any]) -> None:
    """Mean MoRF (solid) and LeRF (dashed) curves, one panel per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METHODS), figsize=(4 * len(METHODS), 3.2), sharey=True)
    colours = dict(zip(POOLINGS, ("tab:grey", "tab:blue", "tab:red"), strict=True))
    for ax, method in zip(axes, METHODS, strict=True):
        for pooling in POOLINGS:
            for order, style in (("morf", "-"), ("lerf", "--")):
                fx, fy = curves[f"{method}/{pooling}/{order}"]
                ax.plot(fx, fy, style, color=colours[pooling], label=f"{pooling} {order}")
        ax.set_title(method)
        ax.set_xlabel("fraction of pixels removed")
    axes[0].set_ylabel("softmax of the target")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"photos, n = {summary['n']}: MoRF (solid) and LeRF (dashed)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
