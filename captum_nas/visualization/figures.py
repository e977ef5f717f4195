"""Matplotlib figures for region explanations, composable with ``captum.attr.visualization``.

The figure builders return ``matplotlib.figure.Figure`` objects made with the object API
(no pyplot state, no display needed), so they work in scripts, tests and notebooks
alike; save them with ``fig.savefig(path)``. The tensor work (boundaries, top-k masks)
lives in :mod:`captum_nas.visualization.overlays`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from captum_nas._validation import check_choice, check_number, check_positive_int, describe
from captum_nas.visualization.overlays import (
    _as_batch,
    _as_segments,
    mark_boundaries,
    show_segments,
    to_hwc,
    top_k_segments,
)

SIGNS = ("absolute_value", "all", "positive", "negative")
ATTR_METHODS = ("heat_map", "blended_heat_map", "masked_image", "alpha_scaling")


def plot_attribution(
    fig: Figure,
    ax: Axes,
    attribution: Tensor,
    image: Tensor | None = None,
    *,
    method: str = "heat_map",
    sign: str = "absolute_value",
    title: str | None = None,
    cmap: str | None = None,
    alpha_overlay: float = 0.5,
    show_colorbar: bool = False,
) -> Axes:
    """Draw one attribution map on ``ax`` with ``captum.attr.visualization``.

    Args:
        fig, ax: where to draw.
        attribution: map (C, H, W) or (1, C, H, W).
        image: the image in [0, 1] (needed for the blended and masked methods).
        method: Captum's ``method`` (``heat_map``, ``blended_heat_map``, ...).
        sign: Captum's ``sign``.
        title: axis title.
        cmap: colour map (Captum's default when ``None``).
        alpha_overlay: opacity of the heat map over the image (blended method).
        show_colorbar: add a colour bar.

    Returns:
        The axis.
    """
    from captum.attr import visualization as captum_viz

    check_choice(method, "method", ATTR_METHODS)
    check_choice(sign, "sign", SIGNS)
    attr = to_hwc(attribution)
    original = to_hwc(image) if image is not None else None
    if method != "heat_map" and original is None:
        raise ValueError(f"`image` is required for method {method!r}")
    if not np.any(attr):
        # Captum cannot normalise an all-zero map: show it as an empty heat map.
        ax.imshow(np.zeros(attr.shape[:2]), cmap=cmap or "Greens", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            captum_viz.visualize_image_attr(
                attr,
                original,
                method=method,
                sign=sign,
                plt_fig_axis=(fig, ax),
                cmap=cmap,
                alpha_overlay=check_number(
                    alpha_overlay, "alpha_overlay", minimum=0.0, maximum=1.0
                ),
                show_colorbar=show_colorbar,
                use_pyplot=False,
            )
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def _show_image(ax: Axes, image: Tensor, title: str | None = None) -> None:
    ax.imshow(np.clip(to_hwc(image), 0.0, 1.0))
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)


def plot_grid(
    images: Tensor,
    maps: Mapping[tuple[str, str], Tensor],
    *,
    segments: Mapping[str, Tensor] | None = None,
    method: str = "blended_heat_map",
    sign: str = "absolute_value",
    panel_size: float = 2.0,
    dpi: int = 80,
) -> Figure:
    """Side-by-side figure: one row per (image, attribution method), one column per segmenter.

    Args:
        images: images in [0, 1], (N, C, H, W) or (C, H, W).
        maps: ``{(method, segmenter): map (N, C', H, W)}``; every pair is one panel.
            Methods and segmenters keep their first-seen order.
        segments: optional ``{segmenter: ids (N, 1, H, W)}``; boundaries are drawn on
            the first column's images of that segmenter.
        method: Captum visualisation method of every panel.
        sign: Captum ``sign``.
        panel_size: inches per panel.
        dpi: figure resolution.

    Returns:
        A ``matplotlib.figure.Figure`` with an "image" column first; every panel is
        titled "method / segmenter".

    Example:
        >>> a, b = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
        >>> fig = plot_grid(images, {("ig", "nas"): a, ("ig", "slic"): b})
        >>> len(fig.axes)  # 2 images x (image + 2 maps)
        6
    """
    x = _as_batch(images, "images")
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(
            f"`maps` must be a non-empty dict {{(method, segmenter): map}}, got {describe(maps)}"
        )
    method_names: list[str] = []
    seg_names: list[str] = []
    for key, value in maps.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"`maps` keys must be (method, segmenter) pairs, got {key!r}")
        m = _as_batch(value, f"maps[{key!r}]")
        if m.shape[0] != x.shape[0] or m.shape[-2:] != x.shape[-2:]:
            raise ValueError(
                f"`maps[{key!r}]` has shape {tuple(m.shape)}, expected {x.shape[0]} maps of "
                f"size {tuple(x.shape[-2:])}"
            )
        if key[0] not in method_names:
            method_names.append(key[0])
        if key[1] not in seg_names:
            seg_names.append(key[1])
    check_positive_int(dpi, "dpi")
    panel_size = check_number(panel_size, "panel_size", minimum=0.0, strict_min=True)
    n_rows = x.shape[0] * len(method_names)
    n_cols = 1 + len(seg_names)
    fig = Figure(figsize=(panel_size * n_cols, panel_size * n_rows), dpi=dpi)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for i in range(x.shape[0]):
        for j, meth in enumerate(method_names):
            row = i * len(method_names) + j
            # every row shows its image, so each method's row reads on its own
            _show_image(
                axes[row, 0], x[i], f"image {i}" if len(method_names) == 1 else f"image {i}: {meth}"
            )
            for c, seg_name in enumerate(seg_names, start=1):
                ax = axes[row, c]
                if (meth, seg_name) not in maps:
                    ax.set_visible(False)
                    continue
                base = x[i]
                if segments is not None and seg_name in segments:
                    base = mark_boundaries(base, _as_segments(segments[seg_name], x)[i])
                plot_attribution(
                    fig,
                    ax,
                    maps[(meth, seg_name)][i],
                    base,
                    method=method,
                    sign=sign,
                    title=f"{meth} / {seg_name}",
                )
    fig.tight_layout()
    return fig


def explanation_figure(
    image: Tensor,
    attribution: Tensor | None,
    pooled: Tensor | None,
    segments: Tensor | None,
    *,
    top_k: int = 5,
    scores: Tensor | None = None,
    title: str | None = None,
    sign: str = "absolute_value",
    panel_size: float = 3.0,
    dpi: int = 80,
    labels: Mapping[str, str] | None = None,
    cmap: str | None = None,
) -> Figure:
    """The figure of ``captum-nas explain``: image with boundaries, pixel map, pooled map, top-k.

    Panels (left to right): the image with segment boundaries; the pixel attribution;
    the pooled (segment) attribution; the ``top_k`` best segments shown LIME-style.
    Panels whose inputs are ``None`` are left out (no segments: image and pixel map
    only; no pixel map, e.g. a segment-level perturbation method: no pixel panel).

    Args:
        image: the image in [0, 1], (C, H, W) or (1, C, H, W).
        attribution: pixel (or upsampled layer) map of the image's size, or ``None``.
        pooled: the pooled map, or ``None``.
        segments: ids (1, 1, H, W) (or (H, W)), or ``None``.
        top_k: segments shown in the last panel.
        scores: per-segment scores (K,) or (1, K) (default: from ``pooled``).
        title: figure title (e.g. the predicted class and probability).
        sign: Captum ``sign`` of the heat maps.
        panel_size: inches per panel.
        dpi: figure resolution.
        labels: panel titles overriding ``{"image", "pixel", "pooled", "top_k"}``.
        cmap: heat-map colour map (default ``"jet"`` for non-negative signs, Captum's
            red-to-green for ``sign="all"``).

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    x = _as_batch(image, "image")
    if x.shape[0] != 1:
        raise ValueError(f"`image` must be one image, got a batch of {x.shape[0]}")
    top_k = check_positive_int(top_k, "top_k")
    check_choice(sign, "sign", SIGNS)
    check_positive_int(dpi, "dpi")
    panel_size = check_number(panel_size, "panel_size", minimum=0.0, strict_min=True)
    if attribution is None and pooled is None:
        raise ValueError("`attribution` and `pooled` cannot both be None")
    seg = _as_segments(segments, x) if segments is not None else None
    if pooled is not None and seg is None:
        raise ValueError("`pooled` needs `segments`")
    names = {
        "image": "image + segments" if seg is not None else "image",
        "pixel": "pixel attribution",
        "pooled": "pooled (segment) attribution",
        "top_k": f"top-{top_k} segments",
    }
    names.update(labels or {})
    if cmap is None and sign != "all":
        cmap = "jet"
    panels: list[str] = ["image"]
    if attribution is not None:
        panels.append("pixel")
    if pooled is not None:
        panels += ["pooled", "top_k"]
    fig = Figure(figsize=(panel_size * len(panels), panel_size + 0.6), dpi=dpi)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "image":
            shown = mark_boundaries(x, seg)[0] if seg is not None else x[0]
            _show_image(ax, shown, names["image"])
        elif panel == "pixel":
            assert attribution is not None
            plot_attribution(
                fig,
                ax,
                _as_batch(attribution, "attribution")[:1],
                x[0],
                method="blended_heat_map",
                sign=sign,
                title=names["pixel"],
                cmap=cmap,
                alpha_overlay=0.6,
            )
        elif panel == "pooled":
            assert pooled is not None and seg is not None
            plot_attribution(
                fig,
                ax,
                _as_batch(pooled, "pooled")[:1],
                mark_boundaries(x, seg)[0],
                method="blended_heat_map",
                sign=sign,
                title=names["pooled"],
                cmap=cmap,
                alpha_overlay=0.6,
            )
        else:
            assert pooled is not None and seg is not None
            s = scores if scores is not None else _as_batch(pooled, "pooled")
            mask = top_k_segments(s, seg, top_k)
            _show_image(ax, mark_boundaries(show_segments(x, mask), seg)[0], names["top_k"])
    if title is not None:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def figure_to_array(fig: Figure) -> np.ndarray[Any, Any]:
    """Render a figure (Agg) to an (H, W, 4) uint8 RGBA array, e.g. to test or embed it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()
