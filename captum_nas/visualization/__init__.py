"""Figures for region explanations, composable with ``captum.attr.visualization``.

Two modules: :mod:`~captum_nas.visualization.overlays` (tensor work on batches:
:func:`to_hwc` for Captum's ``visualize_image_attr``, segment boundaries, top-k segment
masks and the LIME-style "only these segments" image) and
:mod:`~captum_nas.visualization.figures` (matplotlib figures built with the object API,
no pyplot state). Every name is importable from ``captum_nas.visualization``.

Example:
    >>> from matplotlib.figure import Figure
    >>> from captum.attr import visualization as viz
    >>> image, attr = torch.rand(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    >>> fig = Figure(figsize=(3, 3))
    >>> ax = fig.add_subplot()
    >>> _ = viz.visualize_image_attr(to_hwc(attr[0]), to_hwc(image[0]), "blended_heat_map",
    ...                              plt_fig_axis=(fig, ax), use_pyplot=False)
"""

from captum_nas.visualization.figures import (
    ATTR_METHODS,
    SIGNS,
    explanation_figure,
    figure_to_array,
    plot_attribution,
    plot_grid,
)
from captum_nas.visualization.overlays import (
    mark_boundaries,
    segment_boundaries,
    segment_scores,
    show_segments,
    to_hwc,
    top_k_ids,
    top_k_segments,
)

__all__ = [
    "ATTR_METHODS",
    "SIGNS",
    "explanation_figure",
    "figure_to_array",
    "mark_boundaries",
    "plot_attribution",
    "plot_grid",
    "segment_boundaries",
    "segment_scores",
    "show_segments",
    "to_hwc",
    "top_k_ids",
    "top_k_segments",
]
