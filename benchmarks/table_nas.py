"""Methods x segmenters on the flowers and the photo composites: the README's NAS table.

Saliency, Integrated Gradients (8 steps), GradCAM and LRP maps (magnitude of the
channel sum) are pooled by their per-segment mean over each segmenter's segments:
none (unpooled), a grid, SLIC, Quickshift, Felzenszwalb (their scikit-image defaults,
which choose their own number of segments), NAS with the first release's options
("NAS old defaults") and NAS as shipped now ("NAS new defaults"). Grid, SLIC and NAS
use K = 32 on the flowers (reference CNN, 128 px) and K = 16 on the photos
(EfficientNet-Lite0, 224 px). Columns: IoU-0.7 box accuracy (MaxBoxAccV2 boxes) and
PxAP; for the photos also object isolation (best IoU with the object mask reachable by
a union of segments) and the mean number of segments.

The maps are shared with ``scoreboard_nas.py`` (cached in ``--out``). Run::

    nice -n 5 .venv/bin/python benchmarks/scoreboard_nas.py --stage maps
    nice -n 5 .venv/bin/python benchmarks/table_nas.py

It writes ``table.md`` and ``table.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from scoreboard_nas import (
    K_FLOWERS,
    K_PHOTOS,
    TABLE_METHODS,
    best_union_iou,
    box_acc70,
    cached_maps,
)
from tqdm.auto import tqdm

from captum_nas.datasets import FLOWERS_NORMALIZER, PHOTOS_NORMALIZER, render_flowers
from captum_nas.datasets.photos import render_photos
from captum_nas.images import Normalizer
from captum_nas.metrics import pxap
from captum_nas.pooling import segment_pool
from captum_nas.segmentation import (
    FelzenszwalbSegmenter,
    GridSegmenter,
    NASSegmenter,
    QuickshiftSegmenter,
    SLICSegmenter,
)
from captum_nas.segmentation.nas import LEGACY_NAS_OPTIONS

SEGMENTERS = (
    "none",
    "grid",
    "SLIC",
    "Quickshift",
    "Felzenszwalb",
    "NAS old defaults",
    "NAS new defaults",
)
#: Extra rows: SLIC, Quickshift and Felzenszwalb with parameters that give about the
#: set's K segments per image (chosen by segment count alone, on held-out images
#: 1000-1015 of each set; scikit-image's SLIC returns fewer segments than asked).
SAME_K = ("SLIC (same K)", "Quickshift (same K)", "Felzenszwalb (same K)")
#: {K: (SLIC n_segments, Quickshift kernel_size, Felzenszwalb scale)}.
SAME_K_PARAMS = {16: (23, 6.5, 1500.0), 32: (45, 2.8, 120.0)}


def _segmenter(name: str, model: torch.nn.Module, k: int, norm: Normalizer) -> Any:
    inv = norm.inverse
    n_slic, qs_kernel, fz_scale = SAME_K_PARAMS.get(k, (k, 4.0, 100.0))
    return {
        "none": None,
        "grid": GridSegmenter(k),
        "SLIC": SLICSegmenter(k, to_image=inv),
        "Quickshift": QuickshiftSegmenter(to_image=inv),
        "Felzenszwalb": FelzenszwalbSegmenter(to_image=inv),
        "NAS old defaults": NASSegmenter(model, n_segments=k, to_image=inv, **LEGACY_NAS_OPTIONS),
        "NAS new defaults": NASSegmenter(model, n_segments=k, to_image=inv),
        "SLIC (same K)": SLICSegmenter(n_slic, to_image=inv),
        "Quickshift (same K)": QuickshiftSegmenter(kernel_size=qs_kernel, to_image=inv),
        "Felzenszwalb (same K)": FelzenszwalbSegmenter(scale=fz_scale, to_image=inv),
    }[name]


def run_set(
    label: str,
    model: torch.nn.Module,
    x: torch.Tensor,
    maps: dict[str, torch.Tensor],
    boxes: list[torch.Tensor],
    masks: torch.Tensor,
    k: int,
    norm: Normalizer,
    segmenters: list[str],
    cache: Path,
) -> list[dict[str, Any]]:
    """Rows (one per method and segmenter) for one data set.

    Segments of the fixed segmenters are cached (``cache``-prefixed files); those of
    "NAS new defaults" are not, since the defaults may change.
    """
    rows = []
    for name in tqdm(segmenters, desc=label):
        seg_fn = _segmenter(name, model, k, norm)
        path = cache.with_name(f"{cache.stem}_seg_{name.replace(' ', '_')}.pt")
        start = time.perf_counter()
        if seg_fn is not None and name != "NAS new defaults" and path.is_file():
            seg = torch.load(path, weights_only=True)
        elif seg_fn is None:
            seg = None
        else:
            seg = torch.cat([seg_fn(x[i : i + 16]) for i in range(0, len(x), 16)])
            if name != "NAS new defaults":
                torch.save(seg, path)
        seconds = time.perf_counter() - start
        extra: dict[str, Any] = {"seconds": seconds}
        if seg is not None:
            extra["segments"] = float(
                torch.tensor([len(torch.unique(s)) for s in seg]).float().mean()
            )
            extra["isolation"] = float(best_union_iou(seg, masks).mean())
        for method, m in maps.items():
            pooled = m if seg is None else segment_pool(m, seg).map
            rows.append(
                {
                    "set": label,
                    "method": method,
                    "segmenter": name,
                    "boxacc_iou70": box_acc70(pooled, boxes),
                    "pxap": float(pxap(pooled, masks).score),
                    **extra,
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """One table per set: segmenters as rows, method x (IoU-0.7, PxAP) as columns."""
    out = []
    for label in dict.fromkeys(r["set"] for r in rows):
        sub = [r for r in rows if r["set"] == label]
        methods = list(dict.fromkeys(r["method"] for r in sub))
        out.append(f"**{label}** (IoU-0.7 box accuracy / PxAP)\n")
        out.append("| segmenter | " + " | ".join(methods) + " | object isolation | segments |")
        out.append("|---|" + "---|" * (len(methods) + 2))
        for name in dict.fromkeys(r["segmenter"] for r in sub):
            cells = []
            for method in methods:
                r = next(r for r in sub if r["segmenter"] == name and r["method"] == method)
                cells.append(f"{r['boxacc_iou70']:.3f} / {r['pxap']:.3f}")
            first = next(r for r in sub if r["segmenter"] == name)
            iso = f"{first['isolation']:.3f}" if "isolation" in first else "-"
            nseg = f"{first['segments']:.1f}" if "segments" in first else "-"
            out.append(f"| {name} | " + " | ".join(cells) + f" | {iso} | {nseg} |")
        out.append("")
    return "\n".join(out)


def figure(path: Path, indices: tuple[int, ...] = (0, 2, 4, 8, 13)) -> None:
    """Photos with their object outline, and SLIC / NAS old / NAS new segments (K = 16)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries, mark_boundaries

    from captum_nas.models.pretrained import efficientnet_lite0

    lite = efficientnet_lite0()
    pb = render_photos(list(indices), seed=0)
    px = PHOTOS_NORMALIZER(pb.images)
    rows = {
        name: _segmenter(name, lite, K_PHOTOS, PHOTOS_NORMALIZER)(px)
        for name in ("SLIC", "NAS old defaults", "NAS new defaults")
    }
    fig, axes = plt.subplots(
        len(rows) + 1, len(indices), figsize=(2.2 * len(indices), 2.3 * (len(rows) + 1))
    )
    for j in range(len(indices)):
        img = pb.images[j].permute(1, 2, 0).numpy().copy()
        outline = find_boundaries(pb.object_masks[j, 0].numpy(), mode="inner")
        shown = img.copy()
        shown[outline] = (0.0, 1.0, 0.0)
        axes[0, j].imshow(shown)
        axes[0, j].set_title(f"{pb.objects[j][0]} on {pb.backgrounds[j]}", fontsize=8)
        for i, (name, seg) in enumerate(rows.items(), start=1):
            iso = float(best_union_iou(seg[j : j + 1], pb.object_masks[j : j + 1])[0])
            axes[i, j].imshow(mark_boundaries(img, seg[j, 0].numpy(), color=(1, 1, 0)))
            axes[i, j].set_title(f"{name}: isolation {iso:.2f}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}", file=sys.stderr)


def _score_first(
    label: str,
    model: torch.nn.Module,
    x: torch.Tensor,
    batch: Any,
    n: int,
    k: int,
    normalizer: Normalizer,
    segmenters: list[str],
    cache: Path,
    n_steps: int,
) -> list[dict[str, Any]]:
    """Maps of all rendered images (cached), then the table rows of the first ``n``."""
    maps = cached_maps(model, x, batch.labels, TABLE_METHODS, cache, n_steps=n_steps)
    return run_set(
        label,
        model,
        x[:n],
        {name: m[:n] for name, m in maps.items()},
        [b.reshape(1, 4) for b in batch.boxes[:n]],
        batch.object_masks[:n],
        k,
        normalizer,
        segmenters,
        cache.with_name(f"{cache.name}_first{n}"),
    )


def _score_set(name: str, args: argparse.Namespace, segmenters: list[str]) -> list[dict[str, Any]]:
    """The table rows of data set ``name`` ("photos" or "flowers")."""
    from captum_nas.models import reference_model
    from captum_nas.models.pretrained import efficientnet_lite0

    n_maps = args.maps_photos if name == "photos" else args.maps_flowers
    if name == "photos":
        batch: Any = render_photos(range(n_maps), seed=args.seed)
        model, norm, k, n = efficientnet_lite0(), PHOTOS_NORMALIZER, K_PHOTOS, args.n_photos
        label = f"photos ({n} composites, EfficientNet-Lite0, K={k})"
    else:
        batch = render_flowers(
            range(n_maps), split="test", seed=args.seed, image_size=128, normalize=False
        )
        model, norm, k, n = reference_model("single"), FLOWERS_NORMALIZER, K_FLOWERS, args.n_flowers
        label = f"flowers ({n} test images, reference CNN, K={k})"
    cache = args.out / f"{name}_{n_maps}_steps{args.n_steps}"
    x = norm(batch.images)
    return _score_first(label, model, x, batch, n, k, norm, segmenters, cache, args.n_steps)


def main(argv: list[str] | None = None) -> int:
    """Build the table; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-flowers", type=int, default=200)
    parser.add_argument("--n-photos", type=int, default=120)
    parser.add_argument("--n-steps", type=int, default=8)
    parser.add_argument("--maps-flowers", type=int, default=200, help="flowers in the map cache")
    parser.add_argument("--maps-photos", type=int, default=120, help="photos in the map cache")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default="photos,flowers")
    parser.add_argument("--segmenters", default=",".join(SEGMENTERS + SAME_K))
    parser.add_argument("--figure", type=Path, help="only draw the segments figure to this PNG")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/nas"))
    args = parser.parse_args(argv)
    if args.figure is not None:
        figure(args.figure)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)  # the segment and map caches go there
    rows: list[dict[str, Any]] = []
    sets = args.sets.split(",")
    segs = [s.strip() for s in args.segmenters.split(",") if s.strip()]
    for name in ("photos", "flowers"):
        if name in sets:
            rows += _score_set(name, args, segs)
    text = markdown(rows)
    print(text)
    (args.out / "table.md").write_text(text + "\n")
    (args.out / "table.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}/table.md and table.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
