"""Former home of the metrics' helpers; kept so that existing imports keep working.

The helpers now live in :mod:`captum_nas.metrics._checks` (maps, masks, thresholds),
:mod:`captum_nas.metrics._boxes` (boxes) and :mod:`captum_nas.segmentation.connectivity`
(connected components of binary masks: ``mask_components``, ``label_mask_components``).
Import from those in new code.
"""

from __future__ import annotations

from captum_nas.metrics._boxes import box_iou, boxes_to_mask, check_boxes
from captum_nas.metrics._checks import (
    CHUNK_PIXELS,
    ceil_div,
    check_maps,
    check_masks,
    check_thresholds,
    chunk_rows,
    default_cam_thresholds,
    minmax_normalize,
)

__all__ = [
    "CHUNK_PIXELS",
    "box_iou",
    "boxes_to_mask",
    "ceil_div",
    "check_boxes",
    "check_maps",
    "check_masks",
    "check_thresholds",
    "chunk_rows",
    "default_cam_thresholds",
    "minmax_normalize",
]
