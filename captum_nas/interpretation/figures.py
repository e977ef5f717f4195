"""The interpretation view: what each relevant feature of a class looks at.

For every relevant feature of a class (the paper's interpretation step), the images of
a pool where that feature responds most (largest share of its layer's energy) are
back-projected through that one feature, and their visualisations (the image weighted
by the min-max normalised back-projection) are averaged. One row per class, one column
per feature (largest lasso weight first), plus the best single example under each
average.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import Tensor

from captum_nas._validation import check_image_batch, check_positive_int, describe
from captum_nas.interpretation.attribution import RelevantFeatures
from captum_nas.interpretation.selector import RelevantFeature


@dataclass(frozen=True)
class FeatureView:
    """Average visualisation of one relevant feature.

    Attributes:
        feature: the feature (layer, channel, weight).
        target: its class.
        indices: pool images used (strongest response first).
        heat: (1, H, W) mean min-max normalised back-projection over those images.
        average: (3, H, W) mean of ``image * heat`` over those images, in [0, 1].
        best: (3, H, W) ``image * heat`` of the strongest image.
    """

    feature: RelevantFeature
    target: int
    indices: Tensor
    heat: Tensor
    average: Tensor
    best: Tensor


def _minmax(t: Tensor) -> Tensor:
    flat = t.flatten(1)
    lo = flat.min(1).values.view(-1, *([1] * (t.dim() - 1)))
    hi = flat.max(1).values.view(-1, *([1] * (t.dim() - 1)))
    return (t - lo) / (hi - lo).clamp_min(torch.finfo(t.dtype).tiny)


def feature_views(
    explainer: RelevantFeatures,
    images: Tensor,
    *,
    classes: Sequence[int] | None = None,
    max_features: int = 4,
    top_k: int = 8,
    display: Tensor | Callable[[Tensor], Tensor] | None = None,
) -> list[list[FeatureView]]:
    """Average visualisations of the relevant features of each class.

    Args:
        explainer: a :class:`RelevantFeatures` (model + fitted selector).
        images: the pool (N, C, H, W), as the model expects them.
        classes: classes to show (default: all of the selector's).
        max_features: features per class (largest weight first).
        top_k: images averaged per feature.
        display: images in [0, 1] for the pictures (N, 3, H, W), or a function mapping
            ``images`` to them; default: each image min-max scaled.

    Returns:
        One list of :class:`FeatureView` per class (empty for a class without
        relevant features).
    """
    check_image_batch(images, "images")
    max_features = check_positive_int(max_features, "max_features")
    top_k = check_positive_int(top_k, "top_k")
    sel = explainer.selector
    ids = (
        list(range(sel.n_classes))
        if classes is None
        else [sel.check_class(c, "classes") for c in classes]
    )
    if display is None:
        shown = _minmax(images.detach().float())
    elif callable(display) and not isinstance(display, Tensor):
        shown = display(images.detach()).float().clamp(0, 1)
    elif isinstance(display, Tensor) and display.shape[0] == images.shape[0]:
        shown = display.detach().float().clamp(0, 1)
    else:
        raise ValueError(
            f"`display` must match `images` (N={images.shape[0]}), got {describe(display)}"
        )
    feats, _ = explainer._features_and_logits(images, ())
    k = min(top_k, images.shape[0])
    out: list[list[FeatureView]] = []
    for c in ids:
        views = []
        for feat in sel.relevant(c)[:max_features]:
            order = feats[:, feat.index].topk(k).indices
            fid = torch.full((k,), feat.index, dtype=torch.long, device=images.device)
            heat = _minmax(explainer.backproject(images[order], fid).abs().sum(1, keepdim=True))
            vis = shown[order].to(heat) * heat
            views.append(
                FeatureView(
                    feature=feat,
                    target=c,
                    indices=order.cpu(),
                    heat=heat.mean(0).cpu(),
                    average=_minmax(vis.mean(0, keepdim=True))[0].cpu(),
                    best=vis[0].cpu(),
                )
            )
        out.append(views)
    return out


def interpretation_figure(
    explainer: RelevantFeatures,
    images: Tensor,
    *,
    classes: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    max_features: int = 4,
    top_k: int = 8,
    display: Tensor | Callable[[Tensor], Tensor] | None = None,
    panel_size: float = 1.6,
    dpi: int = 80,
) -> Figure:
    """The interpretation grid: per class, the average visualisation of each relevant
    feature (top row) and its strongest single image (bottom row).

    Args:
        explainer: a :class:`RelevantFeatures`.
        images: the pool of images (N, C, H, W).
        classes: classes to show (default: all).
        class_names: names for the row labels.
        max_features: columns (features per class).
        top_k: images averaged per feature.
        display: see :func:`feature_views`.
        panel_size: inches per panel.
        dpi: resolution.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from captum_nas.interpretation import ChannelEnergy, RelevantFeatureSelector
        >>> energy = ChannelEnergy(model, ["layer1", "layer2"])
        >>> x, y = torch.rand(10, 3, 32, 32), torch.arange(5).repeat(2)
        >>> selector = RelevantFeatureSelector(max_per_class=5).fit(
        ...     energy(x), y, layout=energy.layout
        ... )
        >>> explainer = RelevantFeatures(model, selector)
        >>> fig = interpretation_figure(explainer, x, classes=[0, 3], max_features=2, top_k=2)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     fig.savefig(Path(tmp) / "interpretation.png")
    """
    views = feature_views(
        explainer, images, classes=classes, max_features=max_features, top_k=top_k, display=display
    )
    sel = explainer.selector
    ids = list(range(sel.n_classes)) if classes is None else list(classes)
    n_cols = max(1, max((len(v) for v in views), default=1))
    fig = Figure(figsize=(panel_size * n_cols, panel_size * 2 * len(ids)), dpi=dpi)
    axes = fig.subplots(2 * len(ids), n_cols, squeeze=False)
    for row, (c, class_views) in enumerate(zip(ids, views)):
        name = class_names[c] if class_names is not None else f"class {c}"
        for col in range(n_cols):
            top, bottom = axes[2 * row, col], axes[2 * row + 1, col]
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
            if col >= len(class_views):
                top.set_visible(False)
                bottom.set_visible(False)
                if col == 0:
                    top.set_visible(True)
                    top.set_title(f"{name}: no relevant feature", fontsize=7)
                continue
            v = class_views[col]
            top.imshow(v.average.permute(1, 2, 0).numpy())
            top.set_title(
                f"{name}\n{v.feature.layer}:{v.feature.channel} w={v.feature.weight:.2f}",
                fontsize=7,
            )
            bottom.imshow(v.best.permute(1, 2, 0).numpy())
            bottom.set_title(f"best of {len(v.indices)} (avg above)", fontsize=6)
    fig.tight_layout()
    return fig
