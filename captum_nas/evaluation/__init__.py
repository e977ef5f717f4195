"""Evaluate explanation methods and segmenters on data with ground truth."""

from captum_nas.evaluation.data import (
    FOLDER_LAYOUT,
    EvalBatch,
    FolderData,
    find_images,
    flowers_batches,
    prepare_image,
)
from captum_nas.evaluation.datasets import (
    DatasetSpec,
    dataset_names,
    get_dataset,
    register_dataset,
)
from captum_nas.evaluation.methods import METHOD_NAMES, attribution_fn, default_gradcam_layer
from captum_nas.evaluation.report import (
    curves_figure,
    iou_curves_figure,
    localization_figure,
    to_json,
    to_markdown,
    write_csv,
    write_report,
)
from captum_nas.evaluation.runner import METRIC_INFO, EvaluationReport, evaluate

__all__ = [
    "FOLDER_LAYOUT",
    "METHOD_NAMES",
    "METRIC_INFO",
    "DatasetSpec",
    "EvalBatch",
    "EvaluationReport",
    "FolderData",
    "attribution_fn",
    "curves_figure",
    "dataset_names",
    "default_gradcam_layer",
    "evaluate",
    "find_images",
    "flowers_batches",
    "get_dataset",
    "iou_curves_figure",
    "localization_figure",
    "prepare_image",
    "register_dataset",
    "to_json",
    "to_markdown",
    "write_csv",
    "write_report",
]
