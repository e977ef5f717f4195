"""Tests for writing evaluation reports (``captum_nas.evaluation.report``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from matplotlib.figure import Figure

from captum_nas.evaluation import report as rp
from captum_nas.evaluation.runner import EvaluationReport


def _report(with_curves: bool = True) -> EvaluationReport:
    rows: list[dict[str, float | str]] = [
        {"method": "saliency", "segmenter": "nas", "pxap": 0.5, "boxacc_iou50": 0.25},
        {"method": "saliency", "segmenter": "none", "pxap": 0.125, "boxacc_iou50": 0.75},
    ]
    for row, iou30, iou70 in zip(rows, (0.5, 1.0), (0.0, 0.5)):
        row.update(boxacc_iou30=iou30, boxacc_iou70=iou70)
    curves = {("saliency", "nas"): {"fraction": [0.0, 1.0], "morf": [0.9, 0.1], "lerf": [0.9, 0.8]}}
    return EvaluationReport(
        rows=rows, curves=curves if with_curves else {}, accuracy=0.75, n_images=4
    )


def test_markdown_table_rounds_and_orders_columns() -> None:
    text = rp.to_markdown(_report(), digits=2)
    lines = text.splitlines()
    # metric columns follow METRIC_INFO's order (box accuracy before pxap), only present ones
    cols = "boxacc_iou30 | boxacc_iou50 | boxacc_iou70 | pxap"
    assert lines[0] == f"| method | segmenter | {cols} |"
    assert lines[2] == "| saliency | nas | 0.50 | 0.25 | 0.00 | 0.50 |"
    assert lines[3] == "| saliency | none | 1.00 | 0.75 | 0.50 | 0.12 |"
    assert lines[-1] == "4 images; model top-1 accuracy 0.750."


def test_json_and_csv_hold_the_rows(tmp_path: Path) -> None:
    report = _report()
    data = json.loads(rp.to_json(report))
    assert data["n_images"] == 4 and data["accuracy"] == 0.75
    assert set(data["metrics"]) == {"boxacc_iou30", "boxacc_iou50", "boxacc_iou70", "pxap"}
    assert data["rows"] == report.rows
    assert data["curves"] == [
        {
            "method": "saliency",
            "segmenter": "nas",
            "fraction": [0.0, 1.0],
            "morf": [0.9, 0.1],
            "lerf": [0.9, 0.8],
        }
    ]
    rp.write_csv(report, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["pxap"]) for r in rows] == [0.5, 0.125]
    assert list(rows[0]) == [
        "method",
        "segmenter",
        "boxacc_iou30",
        "boxacc_iou50",
        "boxacc_iou70",
        "pxap",
    ]


def test_figures_have_one_panel_per_key_and_method() -> None:
    report = _report()
    loc = rp.localization_figure(report)
    assert isinstance(loc, Figure) and len(loc.axes) == 3
    # the IoU 0.5 panel has one bar group per segmenter with the row's value
    heights = [p.get_height() for p in loc.axes[1].patches]
    assert heights == [0.25, 0.75]
    cur = rp.curves_figure(report)
    assert len(cur.axes) == 1 and len(cur.axes[0].lines) == 2


def test_write_report_writes_every_file(tmp_path: Path) -> None:
    paths = rp.write_report(_report(), tmp_path / "out")
    assert set(paths) == {"markdown", "csv", "json", "localization", "curves"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    no_curves = rp.write_report(_report(with_curves=False), tmp_path / "out2")
    assert "curves" not in no_curves
