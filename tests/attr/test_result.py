"""AttributionResult: one call gives the pooled and pixel maps, segments, scores, figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from torch import Tensor

from captum_nas.attr import AttributionResult, NASFeatureAblation, NASIntegratedGradients
from captum_nas.pooling import pool_segments
from captum_nas.segmentation import GridSegmenter
from tests.conftest import TinyCNN, hook_count

matplotlib.use("Agg")

H = W = 12


def _setup() -> tuple[torch.nn.Module, Tensor]:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    return model, torch.randn(2, 3, H, W)


def _result(scores: list[list[float]], segments: Tensor, pooling: str = "contribution") -> Any:
    n = len(scores)
    s = torch.tensor(scores)
    maps = torch.zeros(n, 3, *segments.shape[-2:])
    return AttributionResult(
        map=maps,
        pixel_map=maps,
        segments=segments.expand(n, 1, *segments.shape[-2:]),
        scores=s,
        target=torch.zeros(n, dtype=torch.long),
        delta=None,
        inputs=maps,
        pooling=pooling,
        method="Test",
    )


def test_result_holds_what_one_call_computed() -> None:
    model, x = _setup()
    method = NASIntegratedGradients(model, segmenter=GridSegmenter(4))
    res = method.attribute(
        x, target=[1, 3], n_steps=16, return_result=True, return_convergence_delta=True
    )
    plain, delta = method.attribute(x, target=[1, 3], n_steps=16, return_convergence_delta=True)
    torch.testing.assert_close(res.map, plain)
    torch.testing.assert_close(res.delta, delta)
    pixel = IntegratedGradients(model).attribute(x, target=[1, 3], n_steps=16)
    torch.testing.assert_close(res.pixel_map, pixel)
    seg = GridSegmenter(4)(x)
    assert torch.equal(res.segments, seg)
    torch.testing.assert_close(res.scores, pool_segments(pixel, seg).scores)
    assert res.scores.shape == (2, 4) and (res.scores >= 0).all()
    assert res.target.tolist() == [1, 3] and res.pooling == "magnitude"
    assert res.method == "IntegratedGradients"
    assert not res.map.requires_grad and not res.pixel_map.requires_grad
    assert hook_count(model) == 0


def test_contribution_scores_add_up_to_the_pixel_total() -> None:
    model, x = _setup()
    method = NASIntegratedGradients(model, segmenter=GridSegmenter(4), pooling="contribution")
    res = method.attribute(x, target=0, n_steps=16, return_result=True)
    torch.testing.assert_close(res.scores.sum(1), res.pixel_map.sum((1, 2, 3)))
    torch.testing.assert_close(res.map.sum((1, 2, 3)), res.pixel_map.sum((1, 2, 3)))


def test_result_goes_through_the_same_guards() -> None:
    model, x = _setup()
    method = NASIntegratedGradients(model, segmenter=GridSegmenter(4))
    with pytest.raises(ValueError, match="out of range"):
        method.attribute(x, target=7, n_steps=4, return_result=True)
    with pytest.raises(TypeError, match="return_result"):
        method.attribute(x, target=0, n_steps=4, return_result="yes")
    assert hook_count(model) == 0


def test_segment_level_result_has_the_signed_segment_values() -> None:
    model, x = _setup()
    method = NASFeatureAblation(model, segmenter=GridSegmenter(4))
    res = method.attribute(x, target=2, return_result=True)
    assert res.pooling is None
    seg = GridSegmenter(4)(x)
    # every pixel of segment k holds its value: the scores are those values
    per_pixel = torch.gather(res.scores, 1, seg.flatten(1)).view(2, 1, H, W)
    torch.testing.assert_close(res.map, per_pixel.expand_as(x))
    assert (res.scores < 0).any()  # signed, not magnitudes


# scores of a hand-made result: two images, a 2x2 grid of segments, id 3 absent in image 0
_SEG = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])[None, None]
_SEG0 = _SEG.clone()
_SEG0[..., 2:, 2:] = 2  # image 0 has no segment 3
_SEGS = torch.cat([_SEG0, _SEG])
_SCORES = [[0.5, -2.0, 1.0, float("nan")], [-1.0, 3.0, -0.5, 0.25]]


def test_top_k_hand_computed_positive_only_and_by_magnitude() -> None:
    res = _result(_SCORES, _SEGS)
    assert res.top_k(2).ids == [[2, 0], [1, 3]]
    assert res.top_k(2, positive_only=False).ids == [[1, 2], [1, 0]]
    assert res.top_k(9).ids == [[2, 0], [1, 3]]  # only the positive ones
    mask = res.top_k(1).mask
    assert mask.shape == (2, 1, 4, 4) and mask.dtype == torch.bool
    assert torch.equal(mask[0, 0], _SEGS[0, 0] == 2)
    assert torch.equal(mask[1, 0], _SEGS[1, 0] == 1)
    assert res.segment_ids.tolist() == [[0, 1, 2, -1], [0, 1, 2, 3]]
    with pytest.raises(ValueError, match="k"):
        res.top_k(0)


def test_overlay_is_the_image_blended_with_a_colour_map() -> None:
    from matplotlib import colormaps

    seg = _SEG
    res = AttributionResult(
        map=torch.tensor([[0.0, 0.0, 2.0, 2.0]]).repeat(4, 1).expand(1, 3, 4, 4),
        pixel_map=torch.zeros(1, 3, 4, 4),
        segments=seg,
        scores=torch.tensor([[0.0, 2.0, 0.0, 2.0]]),
        target=None,
        delta=None,
        inputs=torch.zeros(1, 3, 4, 4),
        pooling="magnitude",
        method="Test",
    )
    image = torch.full((3, 4, 4), 0.5)
    assert np.allclose(res.overlay(image=image, alpha=0.0), 0.5)
    heat = res.overlay(image=image, alpha=1.0)
    assert heat.shape == (4, 4, 3) and heat.dtype == np.float32
    jet = colormaps["jet"]
    assert np.allclose(heat[0, 0], jet(0.0)[:3]) and np.allclose(heat[0, 3], jet(1.0)[:3])
    with pytest.raises(ValueError, match="image"):
        res.overlay(image=torch.zeros(3, 5, 5))
    with pytest.raises(ValueError, match="index"):
        res.overlay(3)


def test_segment_numbers_sit_inside_their_segments_even_non_convex_ones() -> None:
    from captum_nas.attr.result import _anchor_points

    seg = torch.zeros(7, 7, dtype=torch.long)
    seg[1:6, 1:6] = 1
    seg[2:5, 2:5] = 0
    seg[3, 3] = 2  # segment 1 is a ring: its centroid (3, 3) lies in segment 2
    ((px, py),) = _anchor_points(seg, [1])
    assert seg[int(py), int(px)] == 1


def test_plot_numbers_the_top_segments_and_save_writes_matching_files(tmp_path: Path) -> None:
    model, x = _setup()
    method = NASIntegratedGradients(model, segmenter=GridSegmenter(4))
    res = method.attribute(x[:1], target=1, n_steps=8, return_result=True)
    fig = res.plot(k=3)
    top = res.top_k(3).ids[0]
    numbered = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert {str(i) for i in top} <= numbered
    paths = res.save(tmp_path / "sub" / "expl.png", k=3)
    assert sorted(p.name for p in paths) == ["expl.json", "expl.npz", "expl.png"]
    arrays = np.load(tmp_path / "sub" / "expl.npz")
    np.testing.assert_allclose(arrays["scores"], res.scores.numpy())
    assert np.array_equal(arrays["segments"], res.segments.numpy())
    summary = json.loads((tmp_path / "sub" / "expl.json").read_text())
    assert summary["pooling"] == "magnitude" and summary["images"][0]["target"] == 1
    ids = [s["id"] for s in summary["images"][0]["segments"]]
    assert ids == [0, 1, 2, 3]
    assert [s["pixels"] for s in summary["images"][0]["segments"]] == [36, 36, 36, 36]
    assert summary["images"][0]["top_5"][:3] == top
    batch = method.attribute(x, target=1, n_steps=8, return_result=True)
    names = sorted(p.name for p in batch.save(tmp_path / "b"))
    assert names == ["b.json", "b.npz", "b_0.png", "b_1.png"]
