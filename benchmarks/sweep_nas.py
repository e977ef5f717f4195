"""Sweep NAS options on the synthetic flowers and score each as a pooling segmenter.

The reference model (``captum_nas.models.reference_model``) explains test-split flowers
with Saliency, Integrated Gradients and GradCAM; every map is mean-pooled over each
segmenter's segments and scored with the evaluation runner (MaxBoxAcc at IoU
0.3/0.5/0.7, PxAP, IoU with the class-deciding part, pointing game, MoRF/LeRF areas).
Each NAS configuration changes one option of the defaults, so a row shows what that
option alone does; the unpooled map, a grid and SLIC at the same K are the baselines.

Run (a GPU makes the relevance curves cheap; without ``--curves`` it runs on a CPU in
minutes)::

    .venv/bin/python benchmarks/sweep_nas.py --n 200 --device cuda --curves \
        --out benchmarks/results/sweep

It prints one markdown table per method and writes ``sweep.md`` and ``sweep.json``.

``--data seams`` runs the second measurement instead: 40 real photos made of two halves
of different scikit-image samples (left/right and top/bottom, all ordered pairs of five
photos), segmented by NAS on pretrained EfficientNet-Lite0 with K=2; the score is the
fraction of pixels on the correct side of the seam (``seams.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from captum_nas.attr.registry import build_segmenter
from captum_nas.datasets import FLOWERS_NORMALIZER, seam_composites
from captum_nas.evaluation import attribution_fn, evaluate, flowers_batches
from captum_nas.models import reference_model
from captum_nas.pooling import segment_pool
from captum_nas.segmentation import NASSegmenter

K = 32
#: One option changed from the defaults per configuration.
NAS_CONFIGS: dict[str, dict[str, Any]] = {
    "nas (defaults)": {},
    "nas K=8": {"n_segments": 8},
    "nas K=16": {"n_segments": 16},
    "nas K=64": {"n_segments": 64},
    "nas spatial 0": {"spatial_weight": 0.0},
    "nas spatial 1": {"spatial_weight": 1.0},
    "nas zscore": {"normalize": "zscore"},
    "nas no norm": {"normalize": "none"},
    "nas no PCA": {"pca_dims": None},
    "nas equal weights": {"layer_weights": "equal"},
    "nas equal weights, spatial 0": {"layer_weights": "equal", "spatial_weight": 0.0},
    "nas layer3+layer4": {"layers": ["layer3", "layer4"]},
    "nas layer4 only": {"layers": ["layer4"]},
    "nas connectivity": {"connectivity": True},
    "nas hierarchical": {"mode": "hierarchical"},
}
COLUMNS = (
    "boxacc_iou30",
    "boxacc_iou50",
    "boxacc_iou70",
    "maxboxacc_v2",
    "pxap",
    "part_iou",
    "part_mass",
    "pointing",
    "auc_morf",
    "auc_lerf",
    "gap",
)


def main(argv: list[str] | None = None) -> int:
    """Run the sweep; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="test images")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--methods", default="saliency,ig,gradcam")
    parser.add_argument("--curves", action="store_true", help="also MoRF/LeRF curves")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sweep"))
    parser.add_argument("--data", choices=("flowers", "seams"), default="flowers")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.data == "seams":
        return seam_sweep(device, args.out)

    model = reference_model("single").to(device)
    segmenters: dict[str, Any] = {
        "none": None,
        "grid": build_segmenter("grid", model, K, args.seed),
        "slic": build_segmenter("slic", model, K, args.seed, to_image=FLOWERS_NORMALIZER.inverse),
    }
    for name, options in NAS_CONFIGS.items():
        segmenters[name] = NASSegmenter(model, **{"n_segments": K, "seed": args.seed, **options})
    methods = {
        m: attribution_fn(m, model, n_steps=16, seed=args.seed, model_name="reference")
        for m in args.methods.split(",")
    }
    start = time.perf_counter()
    report = evaluate(
        model,
        flowers_batches("single", n=args.n, batch_size=args.batch_size, seed=args.seed),
        methods,
        segmenters,
        pool=lambda maps, seg: segment_pool(maps, seg).map,
        curves=args.curves,
        device=device,
        total=args.n,
    )
    seconds = time.perf_counter() - start
    text = _markdown(report.rows, list(methods))
    header = (
        f"NAS sweep: {report.n_images} flowers-single test images (seed {args.seed}), "
        f"reference model (top-1 {report.accuracy:.3f}), K={K} unless named, mean pooling; "
        f"device {device}; {seconds:.0f} s.\n"
    )
    print(header + "\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.md").write_text(header + "\n" + text + "\n")
    (args.out / "sweep.json").write_text(json.dumps(report.rows, indent=2) + "\n")
    print(f"wrote {args.out}/sweep.md and sweep.json", file=sys.stderr)
    return 0


def seam_sweep(device: torch.device, out: Path) -> int:
    """Seam accuracy of each NAS configuration (K=2) on the 40 two-photo images."""
    from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER, efficientnet_lite0

    model = efficientnet_lite0().to(device)
    images, truths = seam_composites()
    x = EFFICIENTNET_LITE_NORMALIZER(images).to(device)
    lines = [
        "| configuration | mean | median | images >= 0.9 |",
        "|---|---|---|---|",
    ]
    for name, options in NAS_CONFIGS.items():
        if "n_segments" in options or "layers" in options:
            continue  # K is fixed at 2; layer names are the flowers model's
        seg = NASSegmenter(model, **{**options, "n_segments": 2})(x)[:, 0].cpu()
        same = (seg == truths).float().mean((-2, -1))
        acc = torch.maximum(same, 1 - same)
        lines.append(
            f"| {name} | {acc.mean():.3f} | {acc.median():.3f} | "
            f"{int((acc >= 0.9).sum())} / {len(acc)} |"
        )
    text = (
        "NAS on EfficientNet-Lite0, K=2, 40 images made of two halves of different "
        f"photos; fraction of pixels on the correct side of the seam; device {device}.\n\n"
        + "\n".join(lines)
    )
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seams.md").write_text(text + "\n")
    return 0


def _markdown(rows: list[dict[str, Any]], methods: list[str]) -> str:
    present = [c for c in COLUMNS if any(c in r for r in rows)]
    out = []
    for method in methods:
        out.append(f"**{method}**\n")
        out.append("| segmenter | " + " | ".join(present) + " |")
        out.append("|---|" + "---|" * len(present))
        for r in rows:
            if r["method"] != method:
                continue
            cells = [f"{float(r[c]):.3f}" if c in r else "-" for c in present]
            out.append(f"| {r['segmenter']} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
