"""Segmenters: callables turning (N, C, H, W) images into (N, 1, H, W) segment ids."""

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
    merge_small_segments,
    upsample_labels,
)
from captum_nas.segmentation.grid import GridSegmenter
from captum_nas.segmentation.kmeans import KMeansResult, batched_kmeans
from captum_nas.segmentation.layers import auto_layers, resolve_layers
from captum_nas.segmentation.nas import NASResult, NASSegmenter
from captum_nas.segmentation.pca import pca_reduce, top_eigenpairs

__all__ = [
    "pca_reduce",
    "top_eigenpairs",
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
    "merge_small_segments",
    "n_segments_per_image",
    "relabel_contiguous",
    "resolve_layers",
    "upsample_labels",
]
