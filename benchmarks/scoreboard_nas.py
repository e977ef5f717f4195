"""Scoreboard of NAS options on three sets at once: flowers, photo composites and seams.

Every configuration of :data:`CONFIGS` segments the same images; each set has its own
columns, so no set decides alone:

* **flowers** (synthetic, exact boxes; reference CNN, K = 32): IoU-0.7 box accuracy
  (MaxBoxAccV2 boxes) of Integrated Gradients and GradCAM maps, magnitude-pooled
  (per-segment mean of |sum over channels|) over the segments;
* **photos** (real object cut-outs on real textures, :mod:`captum_nas.datasets.photos`;
  EfficientNet-Lite0, K = 16): the same two box accuracies, and object isolation (the
  best IoU with the object mask that a union of segments reaches, mean over images);
* **seams** (40 images made of two halves of different photographs, K = 2): mean
  fraction of pixels on the correct side of the seam, a check that NAS still separates
  two different photos.

Baselines in every table: the unpooled map and SLIC at the same K. The pixel maps are
computed once per set and cached in ``--out`` (a rerun only segments). The score column
is the mean of the six numbers (four box accuracies, isolation, seams).

Run (about 10-20 min on a shared 2-core CPU with the defaults)::

    nice -n 5 .venv/bin/python benchmarks/scoreboard_nas.py --n-flowers 48 --n-photos 48 \\
        --out benchmarks/results/scoreboard

It prints a markdown table and writes ``scoreboard.md`` and ``scoreboard.json``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _harness import map_cache_parser
from torch import Tensor
from tqdm.auto import tqdm

from captum_nas.datasets import (
    FLOWERS_NORMALIZER,
    PHOTOS_NORMALIZER,
    render_flowers,
    seam_composites,
)
from captum_nas.datasets.photos import render_photos
from captum_nas.evaluation import attribution_fn
from captum_nas.metrics import max_box_acc_v1_v2
from captum_nas.pooling import segment_pool
from captum_nas.segmentation import NASSegmenter, SLICSegmenter
from captum_nas.segmentation.nas import LEGACY_NAS_OPTIONS

TABLE_METHODS = ("saliency", "ig", "gradcam", "lrp")
K_FLOWERS = 32
K_PHOTOS = 16
#: k-means as the first release ran it (32 PCA dims, to a fixed point, seeds from every
#: point): the first sweep's rows, run before the faster clustering became the default
_EXACT: dict[str, Any] = {"pca_dims": 32, "tol": 0.0, "seed_points": None}
_PREVIOUS: dict[str, Any] = {**_EXACT, "layer_weights": "equal", "color_weight": 1.0, "refine": 2}
_FAST: dict[str, Any] = {**_PREVIOUS, "pca_dims": 16, "tol": 0.01, "seed_points": 1024}
#: the defaults before the refinement went down to one iteration
_TOL02: dict[str, Any] = {**_FAST, "tol": 0.02}
#: NAS configurations (options of NASSegmenter; n_segments is set per set).
CONFIGS: dict[str, dict[str, Any]] = {
    "old defaults": dict(LEGACY_NAS_OPTIONS),
    "equal": {**_EXACT, "layer_weights": "equal", "color_weight": 0.0, "refine": None},
    "equal + colour 0.5": {**_EXACT, "layer_weights": "equal", "color_weight": 0.5, "refine": None},
    "ratio 1.4 + colour 0.5": {**_EXACT, "layer_weights": 1.4, "color_weight": 0.5, "refine": None},
    "equal + colour 0.5 + refine": {
        **_EXACT,
        "layer_weights": "equal",
        "color_weight": 0.5,
        "refine": 2,
    },
    "ratio 1.4 + colour 0.5 + refine": {
        **_EXACT,
        "layer_weights": 1.4,
        "color_weight": 0.5,
        "refine": 2,
    },
    "equal + colour 1.0 + refine": dict(_PREVIOUS),
    "slic-merge (equal)": {
        **_EXACT,
        "layer_weights": "equal",
        "mode": "slic-merge",
        "refine": None,
    },
    # the faster clustering (tol, seed_points, pca_dims) on top of the previous defaults
    "colour 1.0 + refine + tol 0.01": {**_FAST, "pca_dims": 32},
    "colour 1.0 + refine + pca 16 + tol 0.01": dict(_FAST),
    "colour 1.0 + refine + pca 12 + tol 0.01": {**_FAST, "pca_dims": 12},
    "colour 1.0 + refine + pca 8 + tol 0.01": {**_FAST, "pca_dims": 8},
    "colour 1.0 + refine + pca 16 + tol 0.01 + grid 40": {**_FAST, "grid_size": 40},
    "colour 1.0 + refine + pca 16 + tol 0.01 + 15 iterations": {**_FAST, "max_iter": 15},
    "colour 1.0 + refine + pca 16 + tol 0.02": dict(_TOL02),
    "pca 16 + tol 0.02 + colour 1.5": {**_TOL02, "color_weight": 1.5},
    "pca 16 + tol 0.02 + colour 2.0": {**_TOL02, "color_weight": 2.0},
    "pca 16 + tol 0.02 + colour 2.0 + refine colour 1.0": {
        **_TOL02,
        "color_weight": 2.0,
        "refine_color_weight": 1.0,
    },
    "pca 16 + tol 0.02 + seeds from 512 points": {**_TOL02, "seed_points": 512},
    "pca 12 + tol 0.02": {**_TOL02, "pca_dims": 12},
    # one refinement iteration instead of two
    "pca 16 + tol 0.02 + 1 refine iteration (defaults)": {},
    # fewer Lloyd iterations: what the speed targets would cost in quality
    "defaults + at most 6 k-means iterations": {"max_iter": 6},
    "defaults + at most 4 k-means iterations": {"max_iter": 4},
    "defaults + tol 0.05": {"tol": 0.05},
}
COLUMNS = (
    "flowers IG",
    "flowers GradCAM",
    "photos IG",
    "photos GradCAM",
    "photos isolation",
    "seams",
)


def best_union_iou(segments: Tensor, masks: Tensor) -> Tensor:
    """Best IoU with each mask that a union of segments reaches, (N,).

    The optimal union takes the segments in decreasing order of (pixels inside) /
    (pixels outside) and keeps the best prefix (maximising a ratio of two sums over
    subsets is solved by a threshold on the items' ratio).

    Args:
        segments: (N, 1, H, W) integer ids.
        masks: (N, 1, H, W) bool object masks.
    """
    out = []
    for seg, mask in zip(segments[:, 0], masks[:, 0]):
        ids = seg.flatten().long()
        k = int(ids.max()) + 1
        inside = torch.bincount(ids[mask.flatten()], minlength=k).double()
        total = torch.bincount(ids, minlength=k).double()
        outside = total - inside
        order = torch.argsort(inside / (outside + 1e-9), descending=True)
        inter = torch.cumsum(inside[order], 0)
        union = mask.sum().double() + torch.cumsum(outside[order], 0)
        out.append(float((inter / union).max()))
    return torch.tensor(out)


def box_acc70(maps: Tensor, boxes: list[Tensor]) -> float:
    """IoU-0.7 box accuracy (MaxBoxAccV2 boxes, best CAM threshold)."""
    _, v2 = max_box_acc_v1_v2(maps, boxes)
    return float(v2.max_box_acc[2])


def _pool(maps: Tensor, seg: Tensor | None) -> Tensor:
    return maps if seg is None else segment_pool(maps, seg).map


def cached_maps(
    model: torch.nn.Module,
    x: Tensor,
    labels: Tensor,
    methods: tuple[str, ...],
    cache: Path,
    *,
    n_steps: int = 8,
    batch: int = 8,
) -> dict[str, Tensor]:
    """Magnitude maps |sum over channels| (N, 1, H, W) per method, cached per method.

    A cache file holds one method's maps for the first ``len(x)`` images of a set; the
    caller names it so that a set, a size and a step count give one file.
    """
    out: dict[str, Tensor] = {}
    for name in methods:
        path = cache.with_name(f"{cache.stem}_{name}.pt")
        if path.is_file():
            out[name] = torch.load(path, weights_only=True)
            continue
        try:
            fn = attribution_fn(name, model, n_steps=n_steps)
            parts = [
                fn(x[i : i + batch], labels[i : i + batch])
                for i in tqdm(range(0, len(x), batch), desc=f"{path.stem}")
            ]
        except Exception as err:  # e.g. LRP rules missing for a layer type
            print(f"{path.stem}: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        out[name] = torch.cat(parts).detach()
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(out[name], path)
    return out


def _first(maps: dict[str, Tensor], n: int) -> dict[str, Tensor]:
    return {k: v[:n] for k, v in maps.items()}


def _segment(seg: Callable[[Tensor], Tensor], x: Tensor, batch: int = 16) -> Tensor:
    return torch.cat([seg(x[i : i + batch]) for i in range(0, len(x), batch)])


def main(argv: list[str] | None = None) -> int:
    """Run the scoreboard; returns the exit status."""
    parser = map_cache_parser(__doc__)
    parser.add_argument("--n-flowers", type=int, default=64, help="flowers scored")
    parser.add_argument("--n-photos", type=int, default=48, help="photos scored")
    parser.add_argument("--maps-flowers", type=int, default=200, help="flowers in the map cache")
    parser.add_argument(
        "--stage", choices=("maps", "scoreboard"), default="scoreboard", help="maps: only cache"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--offset",
        type=int,
        default=0,
        help="first image index of both sets (e.g. 1000: a held-out slice for choosing options)",
    )
    parser.add_argument("--configs", default="", help="comma-separated subset of CONFIGS")
    args = parser.parse_args(argv)
    from captum_nas.models import reference_model
    from captum_nas.models.pretrained import efficientnet_lite0

    names = [c.strip() for c in args.configs.split(",") if c.strip()] or list(CONFIGS)
    start = time.perf_counter()
    flowers_model = reference_model("single")
    lite = efficientnet_lite0()
    first = args.offset
    fb = render_flowers(
        range(first, first + args.maps_flowers),
        split="test",
        seed=args.seed,
        image_size=128,
        normalize=False,
    )
    fx = FLOWERS_NORMALIZER(fb.images)
    pb = render_photos(range(first, first + args.maps_photos), seed=args.seed)
    px = PHOTOS_NORMALIZER(pb.images)
    methods = ("ig", "gradcam") if args.stage == "scoreboard" else TABLE_METHODS
    at = f"_from{first}" if first else ""
    fcache = args.out / f"flowers{at}_{args.maps_flowers}_steps{args.n_steps}"
    pcache = args.out / f"photos{at}_{args.maps_photos}_steps{args.n_steps}"
    fmaps = _first(
        cached_maps(flowers_model, fx, fb.labels, methods, fcache, n_steps=args.n_steps),
        args.n_flowers,
    )
    pmaps = _first(
        cached_maps(lite, px, pb.labels, methods, pcache, n_steps=args.n_steps), args.n_photos
    )
    if args.stage == "maps":
        return 0
    fx, px = fx[: args.n_flowers], px[: args.n_photos]
    pmasks = pb.object_masks[: args.n_photos]
    fboxes = [b.reshape(1, 4) for b in fb.boxes[: args.n_flowers]]
    pboxes = [b.reshape(1, 4) for b in pb.boxes[: args.n_photos]]
    simg, struth = seam_composites()
    sx = PHOTOS_NORMALIZER(simg)

    rows: list[dict[str, Any]] = []

    def score(name: str, fseg: Tensor | None, pseg: Tensor | None, seams: float) -> None:
        row: dict[str, Any] = {"configuration": name}
        row["flowers IG"] = box_acc70(_pool(fmaps["ig"], fseg), fboxes)
        row["flowers GradCAM"] = box_acc70(_pool(fmaps["gradcam"], fseg), fboxes)
        row["photos IG"] = box_acc70(_pool(pmaps["ig"], pseg), pboxes)
        row["photos GradCAM"] = box_acc70(_pool(pmaps["gradcam"], pseg), pboxes)
        row["photos isolation"] = (
            float(best_union_iou(pseg, pmasks).mean()) if pseg is not None else 0.0
        )
        row["seams"] = seams
        row["score"] = sum(row[c] for c in COLUMNS) / len(COLUMNS)
        rows.append(row)
        print(_line(row), flush=True)

    print(_header(), flush=True)
    score("none (unpooled)", None, None, float("nan"))
    score(
        "SLIC",
        _segment(SLICSegmenter(K_FLOWERS, to_image=FLOWERS_NORMALIZER.inverse), fx),
        _segment(SLICSegmenter(K_PHOTOS, to_image=PHOTOS_NORMALIZER.inverse), px),
        float("nan"),
    )
    for name in names:
        opts = CONFIGS[name]
        fseg = _segment(
            NASSegmenter(
                flowers_model,
                n_segments=K_FLOWERS,
                seed=args.seed,
                to_image=FLOWERS_NORMALIZER.inverse,
                **opts,
            ),
            fx,
        )
        nas = NASSegmenter(
            lite, n_segments=K_PHOTOS, seed=args.seed, to_image=PHOTOS_NORMALIZER.inverse, **opts
        )
        pseg = _segment(nas, px)
        seams = NASSegmenter(
            lite,
            **{**opts, "n_segments": 2, "seed": args.seed, "to_image": PHOTOS_NORMALIZER.inverse},
        )
        sseg = _segment(seams, sx)[:, 0]
        same = (sseg == struth).float().mean((-2, -1))
        score(name, fseg, pseg, float(torch.maximum(same, 1 - same).mean()))
    seconds = time.perf_counter() - start
    header = (
        f"NAS scoreboard: {args.n_flowers} flowers (reference CNN, K={K_FLOWERS}), "
        f"{args.n_photos} photo composites (EfficientNet-Lite0, K={K_PHOTOS}), 40 seam "
        f"images (K=2); IoU-0.7 box accuracy of magnitude-pooled maps; seed {args.seed}, "
        f"images {first}..; "
        f"{seconds:.0f} s on the CPU.\n"
    )
    text = header + "\n" + _header() + "\n" + "\n".join(_line(r) for r in rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scoreboard.md").write_text(text + "\n")
    (args.out / "scoreboard.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}/scoreboard.md and scoreboard.json", file=sys.stderr)
    return 0


def _header() -> str:
    return (
        "| configuration | "
        + " | ".join(COLUMNS)
        + " | score |\n|---|"
        + "---|" * (len(COLUMNS) + 1)
    )


def _line(row: dict[str, Any]) -> str:
    cells = [f"{row[c]:.3f}" if row[c] == row[c] else "-" for c in (*COLUMNS, "score")]
    return f"| {row['configuration']} | " + " | ".join(cells) + " |"


if __name__ == "__main__":
    raise SystemExit(main())
