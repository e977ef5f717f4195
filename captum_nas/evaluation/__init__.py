"""Evaluate explanation methods and segmenters on data with ground truth."""

from captum_nas.evaluation.data import EvalBatch, FolderData, flowers_batches
from captum_nas.evaluation.methods import METHOD_NAMES, attribution_fn, default_gradcam_layer
from captum_nas.evaluation.report import (
    curves_figure,
    localization_figure,
    to_json,
    to_markdown,
    write_csv,
    write_report,
)
from captum_nas.evaluation.runner import METRIC_INFO, EvaluationReport, evaluate

__all__ = [
    "METHOD_NAMES",
    "METRIC_INFO",
    "EvalBatch",
    "EvaluationReport",
    "FolderData",
    "attribution_fn",
    "curves_figure",
    "default_gradcam_layer",
    "evaluate",
    "flowers_batches",
    "localization_figure",
    "to_json",
    "to_markdown",
    "write_csv",
    "write_report",
]
