"""Guided LRP heatmaps as segmentations, with few pixel labels (flowers, one command).

For each number of pixel-labelled training images (default 10, 50 and all 512), on
300 test flowers (64x64, "single" variant; the object is the petals, the part that
decides the class), segmentation by the argmax of the background score and the class
scores of:

* (a) ``reference``: the unguided reference classifier's LRP heatmaps, background
  score chosen on the same pixel-labelled training images;
* (b) ``guided``: the reference fine-tuned with classification + heatmap
  segmentation loss (``captum-nas train-guided``), same background score;
* (c) ``segnet``: a small U-Net-style encoder-decoder trained on the same pixel
  labels only (its "classification": the class with most predicted pixels).

Scores: class IoU (pixels predicted as the true class vs the petals, summed over the
test set), foreground IoU (any class vs background), mIoU over the 7 labels, and
classification accuracy.

By default the shipped checkpoints (``captum_nas/data/guided_flowers_*.pt``) are
evaluated, offline, in about a minute. ``--train`` trains everything again first
(minutes per model on 2 CPU cores) and overwrites them.

Run: ``.venv/bin/python benchmarks/experiment_guided.py [--train] [--figure PATH]``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from _harness import markdown_table

from captum_nas.guidance import flowers
from captum_nas.models.reference import reference_model

BASE = flowers.GuidedRun()
N_TEST = 300


def _name(kind: str, n_labelled: int) -> str:
    return f"{kind}_{n_labelled}"


def train_all(budgets: list[int], base: flowers.GuidedRun, only: str | None = None) -> None:
    """Train the guided classifier and the encoder-decoder for every budget; save them."""
    for n in budgets:
        if only != "segnet":
            _train_guided(n, base)
        if only != "guided":
            _train_segnet(n, base)


def _train_guided(n: int, base: flowers.GuidedRun) -> None:
    run = replace(base, n_labelled=n)
    t0 = time.perf_counter()
    model, log, background = flowers.train_guided(run)
    seconds = time.perf_counter() - t0
    flowers.save_model(
        model,
        flowers.checkpoint_path(_name("guided", n)),
        {
            "kind": "guided",
            "run": asdict(run),
            "background": background,
            "n_classes": 6,
            "widths": list(model.widths),  # type: ignore[union-attr]
            "history": log.history,
            "seconds": seconds,
            "call": run.command(f"guided_flowers_guided_{n}.pt"),
        },
    )


def _train_segnet(n: int, base: flowers.GuidedRun) -> None:
    seg_run = flowers.SegNetRun(n_labelled=n, image_size=base.image_size, seed=base.seed)
    t0 = time.perf_counter()
    net, seg_log = flowers.train_segnet(seg_run)
    flowers.save_model(
        net,
        flowers.checkpoint_path(_name("segnet", n)),
        {
            "kind": "segnet",
            "run": asdict(seg_run),
            "n_labels": net.n_labels,
            "widths": list(net.widths),
            "history": seg_log.history,
            "seconds": time.perf_counter() - t0,
            "call": f"train_segnet({seg_run!r})",
        },
    )


def evaluate_all(budgets: list[int], image_size: int) -> list[dict[str, Any]]:
    """Scores of (a), (b), (c) per budget from the saved checkpoints."""
    test = flowers.flower_set(N_TEST, split="test", image_size=image_size)
    reference = reference_model("single")
    rows = []
    for n in budgets:
        guided, meta = flowers.load_model(flowers.checkpoint_path(_name("guided", n)))
        net, _ = flowers.load_model(flowers.checkpoint_path(_name("segnet", n)))
        bg = float(meta["background"])
        for kind, segment in (
            ("(a) reference LRP", flowers.lrp_segmenter(reference, background=bg)),
            ("(b) guided LRP", flowers.lrp_segmenter(guided, background=bg)),
            ("(c) encoder-decoder", flowers.segnet_segmenter(net)),  # type: ignore[arg-type]
        ):
            scores = flowers.evaluate_segmenter(segment, test)
            rows.append({"pixel_labels": n, "model": kind, **scores, "background": bg})
    return rows


def figure(budget: int, image_size: int, path: Path, n_images: int = 4) -> Path:
    """Test images, their petals, and the three segmentations (one budget)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from captum_nas.datasets import denormalize

    test = flowers.flower_set(n_images, split="test", image_size=image_size)
    guided, meta = flowers.load_model(flowers.checkpoint_path(_name("guided", budget)))
    net, _ = flowers.load_model(flowers.checkpoint_path(_name("segnet", budget)))
    bg = float(meta["background"])
    preds = [
        ("(a) reference LRP", flowers.lrp_segmenter(reference_model("single"), background=bg)),
        ("(b) guided LRP", flowers.lrp_segmenter(guided, background=bg)),
        ("(c) encoder-decoder", flowers.segnet_segmenter(net)),  # type: ignore[arg-type]
    ]
    labels = [p(test.images)[0] for _, p in preds]
    fig, axes = plt.subplots(n_images, 5, figsize=(10, 2.1 * n_images))
    titles = ["image", "petals (truth)", *[name for name, _ in preds]]
    for i in range(n_images):
        panels = [
            denormalize(test.images[i]).permute(1, 2, 0).numpy(),
            test.targets[i].numpy(),
            *[lab[i].numpy() for lab in labels],
        ]
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            if j == 0:
                ax.imshow(panel)
            else:
                ax.imshow(panel, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
    fig.suptitle(f"segmentation by heatmap argmax, {budget} pixel-labelled training images")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def markdown(rows: list[dict[str, Any]]) -> str:
    """The README table."""
    header = ("pixel labels", "model", "class IoU", "foreground IoU", "mIoU", "accuracy")
    keys = ("class_iou", "foreground_iou", "miou", "accuracy")
    return markdown_table(
        header,
        ((str(r["pixel_labels"]), str(r["model"]), *(f"{r[k]:.3f}" for k in keys)) for r in rows),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train and overwrite checkpoints")
    parser.add_argument(
        "--budgets", default=f"10,50,{BASE.n_train}", help="pixel-labelled image counts"
    )
    parser.add_argument(
        "--only", choices=("guided", "segnet"), default=None, help="with --train: one kind"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the rows as JSON")
    parser.add_argument("--figure", type=Path, default=None, help="write the example figure")
    args = parser.parse_args()
    torch.set_num_threads(1)
    budgets = [int(b) for b in args.budgets.split(",")]
    if args.train:
        train_all(budgets, BASE, args.only)
    rows = evaluate_all(budgets, BASE.image_size)
    print(markdown(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.figure is not None:
        print("figure:", figure(budgets[0], BASE.image_size, args.figure))


if __name__ == "__main__":
    main()
