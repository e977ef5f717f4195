"""Writing an :class:`~captum_nas.evaluation.runner.EvaluationReport`: tables and figures."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_nas.evaluation.runner import METRIC_INFO, EvaluationReport


def _columns(report: EvaluationReport) -> list[str]:
    present = {k for row in report.rows for k in row}
    return ["method", "segmenter"] + [k for k in METRIC_INFO if k in present]


def to_markdown(report: EvaluationReport, *, digits: int = 3) -> str:
    """The report as a markdown table (one row per method and segmenter).

    Example:
        >>> from captum_nas.evaluation.runner import EvaluationReport
        >>> report = EvaluationReport(
        ...     rows=[{"method": "saliency", "segmenter": "nas", "pxap": 0.5}],
        ...     accuracy=1.0, n_images=2)
        >>> print(to_markdown(report))
        | method | segmenter | pxap |
        |---|---|---|
        | saliency | nas | 0.500 |
        <BLANKLINE>
        2 images; model top-1 accuracy 1.000.
    """
    cols = _columns(report)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in report.rows:
        cells = []
        for c in cols:
            v = row.get(c, "")
            cells.append(f"{v:.{digits}f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{report.n_images} images; model top-1 accuracy {report.accuracy:.3f}.")
    return "\n".join(lines)


def to_json(report: EvaluationReport) -> str:
    """The report as JSON: rows, curves, accuracy and the metric descriptions."""
    return json.dumps(
        {
            "n_images": report.n_images,
            "accuracy": report.accuracy,
            "metrics": {k: METRIC_INFO[k] for k in _columns(report)[2:]},
            "rows": report.rows,
            "curves": [{"method": m, "segmenter": s, **c} for (m, s), c in report.curves.items()],
            "ground_truth": report.ground_truth,
            "iou_curves": [
                {"method": m, "segmenter": s, **c} for (m, s), c in report.iou_curves.items()
            ],
        },
        indent=2,
    )


def write_csv(report: EvaluationReport, path: str | Path) -> None:
    """Write the rows as CSV."""
    cols = _columns(report)
    with Path(path).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report.rows)


def localization_figure(report: EvaluationReport) -> Figure:
    """Bar chart: box accuracy at IoU 0.3/0.5/0.7 for each method and segmenter."""
    methods = list(dict.fromkeys(str(r["method"]) for r in report.rows))
    segs = list(dict.fromkeys(str(r["segmenter"]) for r in report.rows))
    keys = [k for k in ("boxacc_iou30", "boxacc_iou50", "boxacc_iou70") if k in METRIC_INFO]
    fig = Figure(figsize=(3.2 * len(keys), 3.0), dpi=100)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        width = 0.8 / max(1, len(segs))
        for j, seg in enumerate(segs):
            vals = [
                float(
                    next(
                        (r[key] for r in report.rows if r["method"] == m and r["segmenter"] == seg),
                        0.0,
                    )
                )
                for m in methods
            ]
            ax.bar([k + j * width for k in range(len(methods))], vals, width, label=seg)
        ax.set_xticks([k + width * (len(segs) - 1) / 2 for k in range(len(methods))])
        ax.set_xticklabels(methods, fontsize=8)
        ax.set_ylim(0, 1)
        iou = int(key.removeprefix("boxacc_iou")) / 100
        ax.set_title(f"box accuracy, IoU {iou:.1f}", fontsize=9)
    fig.axes[0].legend(fontsize=7, title="segmenter", title_fontsize=7)
    fig.tight_layout()
    return fig


def _method_panels(
    curves: Mapping[tuple[str, str], Mapping[str, Any]],
) -> tuple[Figure, list[tuple[Axes, str, list[tuple[str, Mapping[str, Any]]]]]]:
    """A figure with one panel per method of ``curves`` (keyed by (method, segmenter)).

    Returns:
        The figure and, per method in first-seen order, its axes, its name and its
        (segmenter, curve) pairs.
    """
    methods = list(dict.fromkeys(m for m, _ in curves))
    fig = Figure(figsize=(3.2 * max(1, len(methods)), 3.0), dpi=100)
    panels = []
    for i, method in enumerate(methods):
        ax = fig.add_subplot(1, len(methods), i + 1)
        panels.append((ax, method, [(seg, c) for (m, seg), c in curves.items() if m == method]))
    return fig, panels


def curves_figure(report: EvaluationReport) -> Figure:
    """Mean MoRF (solid) and LeRF (dashed) curves, one panel per method."""
    fig, panels = _method_panels(report.curves)
    for ax, method, items in panels:
        for seg, c in items:
            (line,) = ax.plot(c["fraction"], c["morf"], label=f"{seg}")
            ax.plot(c["fraction"], c["lerf"], linestyle="--", color=line.get_color())
        ax.set_title(f"{method}: MoRF (solid), LeRF (dashed)", fontsize=8)
        ax.set_xlabel("fraction removed", fontsize=8)
        ax.set_ylim(0, 1)
    if panels:
        fig.axes[0].set_ylabel("target probability", fontsize=8)
        fig.axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def iou_curves_figure(report: EvaluationReport) -> Figure:
    """Mean IoU with the ground-truth mask over thresholds, one panel per method."""
    fig, panels = _method_panels(report.iou_curves)
    for ax, method, items in panels:
        for seg, c in items:
            ax.plot(c["thresholds"], c["iou"], label=seg)
        ax.set_title(f"{method}: IoU with the {report.ground_truth} mask", fontsize=9)
        ax.set_xlabel("threshold (map min-max normalised)", fontsize=8)
        ax.set_ylabel("mean IoU", fontsize=8)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, title="segmenter", title_fontsize=7)
    fig.tight_layout()
    return fig


def write_report(report: EvaluationReport, out: str | Path) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv``, ``results.json`` and the figures to ``out``.

    Returns:
        Name -> path of every file written.
    """
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / "results.md",
        "csv": out_dir / "results.csv",
        "json": out_dir / "results.json",
        "localization": out_dir / "localization.png",
    }
    paths["markdown"].write_text(to_markdown(report) + "\n")
    write_csv(report, paths["csv"])
    paths["json"].write_text(to_json(report))
    localization_figure(report).savefig(paths["localization"])
    if report.curves:
        paths["curves"] = out_dir / "relevance_curves.png"
        curves_figure(report).savefig(paths["curves"])
    if report.iou_curves:
        paths["iou_curves"] = out_dir / "iou_curves.png"
        iou_curves_figure(report).savefig(paths["iou_curves"])
    return paths
