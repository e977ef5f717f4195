"""Tests for the matplotlib figures of ``captum_nas.visualization.figures``."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from captum_nas.visualization import figures as fg

# 4x4 image split in four 2x2 quadrants: ids 0 1 / 2 3
QUADRANTS = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])[None, None]


def test_plot_attribution_composes_with_captum_axes() -> None:
    fig = Figure(figsize=(2, 2), dpi=40)
    ax = fig.add_subplot()
    attr = torch.zeros(1, 3, 8, 8)
    attr[..., :4, :] = 1.0
    fg.plot_attribution(fig, ax, attr, torch.rand(3, 8, 8), method="blended_heat_map", title="t")
    assert ax.get_title() == "t"
    fg.plot_attribution(fig, ax, torch.zeros(1, 8, 8))  # all-zero map does not crash
    with pytest.raises(ValueError, match="image"):
        fg.plot_attribution(fig, ax, attr, method="blended_heat_map")
    with pytest.raises(ValueError, match="sign"):
        fg.plot_attribution(fig, ax, attr, sign="both")


def test_explanation_figure_panels_and_render() -> None:
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(3, 16, 16, generator=gen)
    seg = torch.arange(4).repeat_interleave(4).reshape(1, 1, 4, 4)
    seg = torch.nn.functional.interpolate(seg.float(), size=(16, 16)).long()
    pixel = torch.randn(1, 3, 16, 16, generator=gen)
    pooled = torch.randn(1, 4).repeat_interleave(1, 0)[0][seg].expand(1, 3, 16, 16)
    fig = fg.explanation_figure(img, pixel, pooled, seg, top_k=2, title="cat (90%)", dpi=40)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    assert fig.axes[3].get_title() == "top-2 segments"
    assert fig._suptitle is not None and fig._suptitle.get_text() == "cat (90%)"
    rgba = fg.figure_to_array(fig)
    assert rgba.ndim == 3 and rgba.shape[2] == 4
    # no segments: image and pixel map only
    assert len(fg.explanation_figure(img, pixel, None, None, dpi=40).axes) == 2
    with pytest.raises(ValueError, match="segments"):
        fg.explanation_figure(img, pixel, pooled, None)
    with pytest.raises(ValueError, match="top_k"):
        fg.explanation_figure(img, pixel, pooled, seg, top_k=0)


def test_plot_grid_layout_and_checks() -> None:
    imgs = torch.rand(2, 3, 8, 8)
    maps = {
        ("ig", "nas"): torch.rand(2, 3, 8, 8),
        ("ig", "slic"): torch.rand(2, 3, 8, 8),
        ("gradcam", "nas"): torch.rand(2, 1, 8, 8),
    }
    fig = fg.plot_grid(imgs, maps, segments={"nas": QUADRANTS.repeat(1, 1, 2, 2)}, dpi=30)
    axes = fig.axes
    assert len(axes) == 2 * 2 * 3  # rows: 2 images x 2 methods; columns: image + 2 segmenters
    assert axes[1].get_title() == "ig / nas"
    assert not axes[5].get_visible()  # (gradcam, slic) is missing
    # every row of every image is labelled, the second method's rows too
    assert [axes[r * 3].get_title() for r in range(4)] == [
        "image 0: ig",
        "image 0: gradcam",
        "image 1: ig",
        "image 1: gradcam",
    ]
    assert [axes[r * 3 + 1].get_title() for r in range(4)] == ["ig / nas", "gradcam / nas"] * 2
    with pytest.raises(ValueError, match="maps"):
        fg.plot_grid(imgs, {})
    with pytest.raises(ValueError, match="shape"):
        fg.plot_grid(imgs, {("ig", "nas"): torch.rand(1, 3, 8, 8)})
    with pytest.raises(ValueError, match="pairs"):
        fg.plot_grid(imgs, {"ig": torch.rand(2, 3, 8, 8)})  # type: ignore[dict-item]
