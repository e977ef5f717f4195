"""Figures for region explanations, composable with ``captum.attr.visualization``.

Tensors are converted to the (H, W, C) numpy arrays Captum's
``visualize_image_attr`` expects with :func:`to_hwc`; segment boundaries, top-k
segment masks and the LIME-style "only these segments" image are torch operations on
batches. The figure builders return ``matplotlib.figure.Figure`` objects made with the
object API (no pyplot state, no display needed), so they work in scripts, tests and
notebooks alike; save them with ``fig.savefig(path)``.

Example:
    >>> from captum.attr.visualization import visualize_image_attr  # doctest: +SKIP
    >>> fig = Figure(figsize=(3, 3))
    >>> ax = fig.add_subplot()
    >>> visualize_image_attr(to_hwc(attr[0]), to_hwc(image[0]), "blended_heat_map",
    ...                      plt_fig_axis=(fig, ax), use_pyplot=False)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from captum_nas._validation import (
    check_choice,
    check_image_batch,
    check_number,
    check_positive_int,
    check_segments,
    check_tensor,
    describe,
)

SIGNS = ("absolute_value", "all", "positive", "negative")
ATTR_METHODS = ("heat_map", "blended_heat_map", "masked_image", "alpha_scaling")


def to_hwc(tensor: Tensor) -> np.ndarray:
    """A (C, H, W) or (1, C, H, W) tensor as an (H, W, C) float numpy array.

    Args:
        tensor: an image or attribution map; a batch must hold exactly one item.

    Returns:
        ``np.ndarray`` of shape (H, W, C), float32 (detached, on the CPU).

    Example:
        >>> to_hwc(torch.zeros(1, 3, 4, 5)).shape
        (4, 5, 3)
    """
    check_tensor(tensor, "tensor")
    t = tensor
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(
                f"`tensor` must be (C, H, W) or (1, C, H, W), got a batch of {t.shape[0]}: "
                f"shape {tuple(t.shape)}; index one image first"
            )
        t = t[0]
    if t.dim() != 3:
        raise ValueError(f"`tensor` must be (C, H, W) or (1, C, H, W), got {tuple(t.shape)}")
    return t.detach().to("cpu", torch.float32).permute(1, 2, 0).contiguous().numpy()


def _as_batch(images: Tensor, name: str) -> Tensor:
    check_tensor(images, name)
    x = images.unsqueeze(0) if images.dim() == 3 else images
    return check_image_batch(x, name)


def _as_segments(segments: Tensor, like: Tensor, name: str = "segments") -> Tensor:
    check_tensor(segments, name)
    seg = segments
    if seg.dim() == 2:
        seg = seg[None, None]
    elif seg.dim() == 3:
        seg = seg[None]
    seg = check_segments(seg, name, like=like).to(like.device)
    return seg.expand(like.shape[0], 1, *like.shape[-2:])


def segment_boundaries(segments: Tensor) -> Tensor:
    """Pixels on a segment boundary: their right or lower neighbour has another id.

    Args:
        segments: integer ids (N, 1, H, W) (or (1, H, W), (H, W)).

    Returns:
        Bool tensor (N, 1, H, W), on the segments' device.

    Example:
        >>> segment_boundaries(torch.tensor([[0, 0, 1]])).int()
        tensor([[[[0, 1, 0]]]], dtype=torch.int32)
    """
    check_tensor(segments, "segments")
    seg = segments
    while seg.dim() < 4:
        seg = seg.unsqueeze(0)
    seg = check_segments(seg)
    edge = torch.zeros(seg.shape, dtype=torch.bool, device=seg.device)
    edge[..., :, :-1] |= seg[..., :, :-1] != seg[..., :, 1:]
    edge[..., :-1, :] |= seg[..., :-1, :] != seg[..., 1:, :]
    return edge


def mark_boundaries(
    images: Tensor, segments: Tensor, *, color: Sequence[float] = (1.0, 1.0, 0.0)
) -> Tensor:
    """Draw segment boundaries on images (like ``skimage.segmentation.mark_boundaries``).

    Args:
        images: images in [0, 1], (C, H, W) or (N, C, H, W).
        segments: integer ids (N, 1, H, W), (1, 1, H, W), (1, H, W) or (H, W).
        color: boundary colour, one value per channel (or one for all).

    Returns:
        The images with boundary pixels set to ``color``, in the input's shape, device
        and dtype.
    """
    x = _as_batch(images, "images")
    seg = _as_segments(segments, x)
    c = x.shape[1]
    col = torch.as_tensor(list(color), dtype=x.dtype, device=x.device).flatten()
    if col.numel() == 1:
        col = col.expand(c)
    if col.numel() != c:
        raise ValueError(f"`color` has {col.numel()} values, the images have {c} channels")
    out = torch.where(segment_boundaries(seg), col.view(1, c, 1, 1), x)
    return out[0] if images.dim() == 3 else out


def segment_scores(attributions: Tensor, segments: Tensor) -> Tensor:
    """Per-segment scores (N, K) of a map: the mean over each segment's pixels and channels.

    Args:
        attributions: a (pooled) map (N, C, H, W) or (C, H, W).
        segments: integer ids matching the map.

    Returns:
        Float tensor (N, K), K = largest id + 1; ids absent from an image are NaN.
    """
    from captum_nas.pooling import segment_pool

    a = _as_batch(attributions, "attributions")
    seg = _as_segments(segments, a)
    return segment_pool(a.float(), seg, channel_reduce="mean").scores


def top_k_ids(scores: Tensor, k: int) -> list[list[int]]:
    """The ids of the ``k`` highest scores of every image, highest first.

    NaN scores (ids absent from the image) are never selected; an image with fewer
    than ``k`` segments gives all of them.

    Args:
        scores: (N, K) or (K,) per-segment scores.
        k: number of segments to keep (>= 1).

    Returns:
        One list of ids per image, sorted by decreasing score.

    Example:
        >>> top_k_ids(torch.tensor([0.1, 0.5, float("nan"), 0.3]), 2)
        [[1, 3]]
    """
    check_tensor(scores, "scores")
    k = check_positive_int(k, "k")
    s = scores.unsqueeze(0) if scores.dim() == 1 else scores
    if s.dim() != 2:
        raise ValueError(f"`scores` must be (N, K) or (K,), got {tuple(scores.shape)}")
    s = s.detach().float()
    valid = ~torch.isnan(s)
    ranked = torch.where(valid, s, torch.full_like(s, float("-inf")))
    order = torch.argsort(ranked, dim=1, descending=True, stable=True)
    n_valid = valid.sum(1).tolist()
    return [order[i, : min(k, int(n_valid[i]))].tolist() for i in range(s.shape[0])]


def top_k_segments(scores: Tensor, segments: Tensor, k: int) -> Tensor:
    """Mask of the ``k`` best-scoring segments of every image.

    Args:
        scores: per-segment scores (N, K) or (K,), or a pooled map (N, C, H, W) whose
            scores are taken with :func:`segment_scores`.
        segments: integer ids (N, 1, H, W) (or (1, 1, H, W) shared by the batch).
        k: number of segments (>= 1).

    Returns:
        Bool tensor (N, 1, H, W), True on the selected segments.

    Example:
        >>> seg = torch.tensor([[[[0, 1], [2, 2]]]])
        >>> top_k_segments(torch.tensor([[0.1, 0.9, 0.5]]), seg, 1).int()
        tensor([[[[0, 1],
                  [0, 0]]]], dtype=torch.int32)
    """
    check_tensor(scores, "scores")
    check_tensor(segments, "segments")
    k = check_positive_int(k, "k")
    if scores.dim() in (3, 4):
        s = segment_scores(scores, segments)
        seg = _as_segments(segments, _as_batch(scores, "scores"))
    else:
        s = scores.unsqueeze(0) if scores.dim() == 1 else scores
        if s.dim() != 2:
            raise ValueError(
                f"`scores` must be (N, K), (K,) or a map (N, C, H, W), got {describe(scores)}"
            )
        seg = check_segments(
            segments if segments.dim() == 4 else segments.reshape(1, 1, *segments.shape[-2:])
        )
        if seg.shape[0] not in (1, s.shape[0]):
            raise ValueError(
                f"`segments` has batch size {seg.shape[0]}, `scores` has {s.shape[0]} images"
            )
        if int(seg.max()) >= s.shape[1]:
            raise ValueError(
                f"`segments` has id {int(seg.max())} but `scores` has only {s.shape[1]} columns"
            )
        seg = seg.expand(s.shape[0], 1, *seg.shape[-2:])
    ids = top_k_ids(s, k)
    selected = torch.zeros(s.shape, dtype=torch.bool, device=seg.device)
    for i, row in enumerate(ids):
        selected[i, row] = True
    return torch.gather(selected, 1, seg.flatten(1)).view(seg.shape)


def show_segments(
    images: Tensor, mask: Tensor, *, fade: float = 0.85, background: float = 0.5
) -> Tensor:
    """LIME-style image: the masked pixels as they are, the rest faded to ``background``.

    Args:
        images: images in [0, 1], (C, H, W) or (N, C, H, W).
        mask: bool mask (N, 1, H, W) or (1, 1, H, W), e.g. from :func:`top_k_segments`.
        fade: how much of the unselected pixels is replaced by ``background`` (1 hides
            them completely).
        background: grey level of the faded area.

    Returns:
        Tensor of the images' shape.
    """
    x = _as_batch(images, "images")
    check_tensor(mask, "mask")
    fade = check_number(fade, "fade", minimum=0.0, maximum=1.0)
    background = check_number(background, "background", minimum=0.0, maximum=1.0)
    m = mask if mask.dim() == 4 else mask.reshape(1, 1, *mask.shape[-2:])
    if m.shape[1] != 1 or m.shape[-2:] != x.shape[-2:] or m.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"`mask` must be (N, 1, H, W) matching the images {tuple(x.shape)}, got "
            f"{tuple(mask.shape)}"
        )
    faded = x * (1.0 - fade) + background * fade
    out = torch.where(m.to(x.device, torch.bool), x, faded)
    return out[0] if images.dim() == 3 else out


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
        >>> fig = plot_grid(images, {("ig", "nas"): a, ("ig", "slic"): b})
        >>> fig.savefig("grid.png")
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
