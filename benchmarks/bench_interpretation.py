"""Relevant-feature explanations vs pixel methods: coverage of the class-deciding part.

On the synthetic flowers (single: petals decide; double: petals and leaves decide),
every method's map, unpooled and pooled over NAS, is thresholded at 100 levels after
per-image min-max scaling and scored by IoU against the part mask (the evaluation
runner's ``--ground-truth part`` metric group). Methods: relevant features (Oramas et
al.) back-projected by guided backprop (the registry default), by deconvolution (the
paper's choice), and as upsampled activations of the same channels; GradCAM, guided
backprop, deconvolution and integrated gradients from the registry.

The registered methods alone are one CLI command::

    captum-nas evaluate --dataset flowers --methods \\
        relevant-features,gradcam,guidedbackprop,deconvolution,ig \\
        --segmenters none,nas --ground-truth part --no-curves --n 40

this script adds the two relevant-feature variants (which the registry does not list)
and both data sets, and writes ``docs/figures/interpretation_iou.png``::

    python benchmarks/bench_interpretation.py --n 40 --out outputs/bench_interpretation
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor

from captum_nas.attr.registry import build_segmenter
from captum_nas.evaluation import attribution_fn, evaluate
from captum_nas.evaluation.datasets import get_dataset
from captum_nas.interpretation import RelevantFeatures, shipped_selector_path
from captum_nas.models.loading import load_model
from captum_nas.pooling import mean_pooled_map

REGISTERED = ("relevant-features", "gradcam", "guidedbackprop", "deconvolution", "ig")
VARIANTS = {"rf-deconvolution": "deconvolution", "rf-upsampled-activations": "upsample"}
DATASETS = {"flowers": "reference", "flowers-double": "reference-double"}


def _variant_fn(model: torch.nn.Module, model_name: str, backprojection: str):
    explainer = RelevantFeatures(
        model, shipped_selector_path(model_name), backprojection=backprojection
    )

    def fn(x: Tensor, t: Tensor) -> Tensor:
        return explainer.attribute(x, target=t).sum(1, keepdim=True).abs()

    return fn


def evaluate_methods(n: int, batch_size: int, seed: int, progress: bool) -> dict[str, object]:
    """Evaluate every method on both data sets; rows and IoU curves per data set."""
    out: dict[str, object] = {}
    for dataset, model_name in DATASETS.items():
        loaded = load_model(model_name)
        model = loaded.model
        fns = {m: attribution_fn(m, model, seed=seed, model_name=model_name) for m in REGISTERED}
        for name, bp in VARIANTS.items():
            fns[name] = _variant_fn(model, model_name, bp)
        segmenters = {s: build_segmenter(s, model, 32, seed) for s in ("none", "nas")}
        spec = get_dataset(dataset)
        start = time.perf_counter()
        report = evaluate(
            model,
            spec.batches(
                n=n,
                batch_size=batch_size,
                seed=seed,
                image_size=loaded.input_size,
                normalizer=loaded.normalizer,
            ),
            fns,
            segmenters,
            pool=mean_pooled_map,
            curves=False,
            ground_truth="part",
            progress=progress,
            total=-(-n // batch_size),
        )
        out[dataset] = {
            "n_images": report.n_images,
            "accuracy": report.accuracy,
            "seconds": time.perf_counter() - start,
            "rows": report.rows,
            "curves": {f"{m}/{s}": c for (m, s), c in report.iou_curves.items()},
        }
    return out


def table(results: dict[str, object]) -> str:
    """Markdown: best-threshold IoU and mean IoU over thresholds, per data set."""
    keys = ("gt_iou_best", "gt_iou_mean")
    lines = [
        "| method | pooling | "
        + " | ".join(f"{d} {k}" for d in results for k in ("IoU best", "IoU mean"))
        + " |",
        "|---|---|" + "---|" * (2 * len(results)),
    ]
    first = next(iter(results.values()))
    for i, row in enumerate(first["rows"]):  # type: ignore[index]
        cells = []
        for res in results.values():
            r = res["rows"][i]  # type: ignore[index]
            cells += [f"{r[k]:.3f}" for k in keys]
        seg = "NAS" if row["segmenter"] == "nas" else "none"
        lines.append(f"| {row['method']} | {seg} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(results: dict[str, object]) -> Figure:
    """IoU over thresholds of every method (solid: unpooled, dashed: NAS), per data set."""
    fig = Figure(figsize=(10, 4), dpi=90)
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (dataset, res) in zip(axes, results.items()):
        curves = res["curves"]  # type: ignore[index]
        methods = list(dict.fromkeys(k.split("/")[0] for k in curves))
        for j, m in enumerate(methods):
            for seg, style in (("none", "-"), ("nas", "--")):
                c = curves[f"{m}/{seg}"]
                width = 2.2 if m.startswith(("relevant", "rf-")) else 1.0
                ax.plot(
                    c["thresholds"],
                    c["iou"],
                    style,
                    color=f"C{j}",
                    linewidth=width,
                    label=m if seg == "none" else None,
                )
        ax.set_title(f"{dataset} ({res['n_images']} images): part IoU")  # type: ignore[index]
        ax.set_xlabel("threshold (min-max scaled map)")
        ax.set_ylabel("IoU with the deciding part(s)")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, title="solid: pixel map, dashed: NAS", title_fontsize=7)
    fig.tight_layout()
    return fig


def examples_figure(n: int = 4) -> Figure:
    """Test flowers of both data sets: image, relevant features (guided backprop), the
    same pooled over NAS, and the paper's deconvnet back-projection, with the channels
    used in the titles."""
    from captum_nas.attr import SuperpixelAttribution
    from captum_nas.datasets import CLASS_NAMES, denormalize, render_flowers

    fig = Figure(figsize=(1.6 * 2 * n, 1.7 * 4), dpi=80)
    axes = fig.subplots(4, 2 * n, squeeze=False)
    for d, (variant, model_name) in enumerate(
        (("single", "reference"), ("double", "reference-double"))
    ):
        model = load_model(model_name).model
        batch = render_flowers(torch.arange(n), variant=variant, split="test")
        rf = RelevantFeatures(model, shipped_selector_path(model_name))
        idx, _ = rf.top_features(batch.images)
        rows = [
            denormalize(batch.images),
            rf.attribute(batch.images),
            SuperpixelAttribution(rf, n_segments=32).attribute(batch.images),
            RelevantFeatures(
                model, shipped_selector_path(model_name), backprojection="deconvolution"
            ).attribute(batch.images),
        ]
        labels = ["image", "relevant features", "... NAS-pooled", "... deconvnet (paper)"]
        layout = rf.selector.layout
        assert layout is not None
        for i in range(n):
            col = d * n + i
            for r, maps in enumerate(rows):
                ax = axes[r, col]
                img = maps[i].permute(1, 2, 0).clamp(0, 1) if r == 0 else maps[i].sum(0)
                ax.imshow(img, cmap=None if r == 0 else "magma")
                ax.set_xticks([])
                ax.set_yticks([])
                if col == 0:
                    ax.set_ylabel(labels[r], fontsize=7)
            used = ", ".join(
                f"{layout.locate(int(j))[0][-1]}:{layout.locate(int(j))[1]}" for j in idx[i]
            )
            name = CLASS_NAMES[variant][int(batch.labels[i])]
            axes[0, col].set_title(f"{name}\nlayer {used}", fontsize=6)
    fig.tight_layout()
    return fig


def run(repeats: int = 3, quick: bool = False, device: str = "cpu") -> list[dict[str, object]]:
    """Timing row for ``run_all.py``: RelevantFeatures (one feature forward, three guided
    back-projections) vs Captum's GuidedBackprop on the class logit, same images."""
    import sys

    from captum.attr import GuidedBackprop

    sys.path.insert(0, str(Path(__file__).parent))
    from _harness import compare, make_row

    from captum_nas.datasets import render_flowers

    n = 4 if quick else 16
    loaded = load_model("reference")
    model = loaded.model.to(device)
    batch = render_flowers(torch.arange(n), split="test", device=device)
    x, t = batch.images, batch.labels
    rf = RelevantFeatures(model, shipped_selector_path("reference"))
    gbp = GuidedBackprop(model)
    ours, peer = compare(
        lambda: rf.attribute(x, target=t, top_n=3),
        lambda: gbp.attribute(x.clone().requires_grad_(), target=t),
        repeats=repeats,
        device=device,
    )
    return [
        make_row(
            f"relevant-features top-3 vs guided backprop, {n} flowers 128 px",
            ours,
            peer,
            target="<= 5.0",
            note="3 back-projections + 1 feature forward: expected about 4x",
        )
    ]


def main() -> None:
    """Run, print the table, write JSON, markdown and the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="images per data set")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_interpretation"))
    parser.add_argument("--figure", type=Path, default=Path("docs/figures/interpretation_iou.png"))
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--examples", type=Path, default=None, help="also write a figure of example explanations"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.examples is not None:
        args.examples.parent.mkdir(parents=True, exist_ok=True)
        examples_figure().savefig(args.examples)
        print(f"wrote {args.examples}")
    if args.n <= 0:
        return
    results = evaluate_methods(args.n, args.batch_size, args.seed, not args.quiet)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    md = table(results)
    (args.out / "results.md").write_text(md + "\n")
    print(md)
    for d, res in results.items():
        print(
            f"{d}: {res['n_images']} images, accuracy {res['accuracy']:.3f}, "  # type: ignore[index]
            f"{res['seconds']:.0f} s"
        )  # type: ignore[index]
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    figure(results).savefig(args.figure)
    print(f"wrote {args.out / 'results.md'}, {args.figure}")


if __name__ == "__main__":
    main()
