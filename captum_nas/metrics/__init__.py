"""Evaluation metrics for explanations and segmenters, torch-native and batched.

* :mod:`~captum_nas.metrics.localization`: MaxBoxAcc (V1, V2), PxAP, Top-1 Loc.
* :mod:`~captum_nas.metrics.relevance`: MoRF / LeRF / random relevance curves over
  pixels, patches or segments, AUC, AOPC and the LeRF - MoRF gap.
* :mod:`~captum_nas.metrics.pointing`: pointing game, energy pointing game, relevance
  mass and rank accuracy.
* :mod:`~captum_nas.metrics.masks`: thresholded IoU / F1 (points and curves),
  continuous IoU, ROC-AUC.
* :mod:`~captum_nas.metrics.semantic`: semi-supervised semantic mass over segments.
* :mod:`~captum_nas.metrics.agreement`: agreement of two explanations over segments
  (Spearman, Kendall, top-k overlap).

Every metric's docstring says whether higher or lower is better and which parameters
it is sensitive to.
"""

from captum_nas.metrics.agreement import SegmentAgreement, segment_agreement
from captum_nas.metrics.localization import (
    MaxBoxAccResult,
    PxAPResult,
    Top1LocResult,
    box_ious_over_thresholds,
    max_box_acc,
    max_box_acc_v1_v2,
    pxap,
    top1_loc,
)
from captum_nas.metrics.masks import continuous_iou, mask_f1, mask_iou, roc_auc
from captum_nas.metrics.pointing import (
    energy_pointing_game,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
)
from captum_nas.metrics.relevance import (
    RelevanceCurveResult,
    RelevanceGapResult,
    gaussian_blur,
    relevance_curve,
    relevance_gap,
)
from captum_nas.metrics.semantic import SemanticMassResult, semantic_mass

__all__ = [
    "MaxBoxAccResult",
    "PxAPResult",
    "RelevanceCurveResult",
    "RelevanceGapResult",
    "SegmentAgreement",
    "SemanticMassResult",
    "Top1LocResult",
    "box_ious_over_thresholds",
    "continuous_iou",
    "energy_pointing_game",
    "gaussian_blur",
    "mask_f1",
    "mask_iou",
    "max_box_acc",
    "max_box_acc_v1_v2",
    "pointing_game",
    "pxap",
    "relevance_curve",
    "relevance_gap",
    "relevance_mass_accuracy",
    "relevance_rank_accuracy",
    "roc_auc",
    "segment_agreement",
    "semantic_mass",
    "top1_loc",
]
