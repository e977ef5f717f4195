"""Segmenters: callables turning (N, C, H, W) images into (N, 1, H, W) segment ids.

The numerical internals of NAS (``pca.pca_reduce``, ``pca.top_eigenpairs``,
``connectivity.upsample_labels``, ``layers.resolve_layers``) are not re-exported here:
they stay importable from their modules but are not part of the stable API.
"""

from captum_nas.segmentation.base import (
    Segmenter,
    is_contiguous,
    n_segments_per_image,
    relabel_contiguous,
)
from captum_nas.segmentation.classic import (
    FelzenszwalbSegmenter,
    QuickshiftSegmenter,
    SLICSegmenter,
    WatershedSegmenter,
)
from captum_nas.segmentation.connectivity import (
    connected_components,
    label_mask_components,
    mask_components,
    merge_small_segments,
)
from captum_nas.segmentation.grid import GridSegmenter
from captum_nas.segmentation.kmeans import KMeansResult, batched_kmeans
from captum_nas.segmentation.layers import auto_layers
from captum_nas.segmentation.nas import NASResult, NASSegmenter

__all__ = [
    "FelzenszwalbSegmenter",
    "GridSegmenter",
    "KMeansResult",
    "NASResult",
    "NASSegmenter",
    "QuickshiftSegmenter",
    "SLICSegmenter",
    "Segmenter",
    "WatershedSegmenter",
    "auto_layers",
    "batched_kmeans",
    "connected_components",
    "is_contiguous",
    "label_mask_components",
    "mask_components",
    "merge_small_segments",
    "n_segments_per_image",
    "relabel_contiguous",
]
