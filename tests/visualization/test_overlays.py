"""Tests for the tensor overlays of ``captum_nas.visualization.overlays``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from captum_nas.visualization import overlays as ov

# 4x4 image split in four 2x2 quadrants: ids 0 1 / 2 3
QUADRANTS = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])[None, None]


def test_to_hwc_layouts() -> None:
    x = torch.arange(24.0).reshape(2, 3, 4)
    out = ov.to_hwc(x)
    assert out.shape == (3, 4, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[1, 2], [6.0, 18.0])
    np.testing.assert_array_equal(ov.to_hwc(x[None]), out)


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (4, 4), (1, 1, 1, 3, 3)])
def test_to_hwc_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="tensor"):
        ov.to_hwc(torch.zeros(shape))


def test_to_hwc_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match="tensor"):
        ov.to_hwc(np.zeros((3, 2, 2)))  # type: ignore[arg-type]


def test_segment_boundaries_hand_computed() -> None:
    edge = ov.segment_boundaries(QUADRANTS)[0, 0].int()
    expected = torch.tensor([[0, 1, 0, 0], [1, 1, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]])
    assert torch.equal(edge, expected)


def test_segment_boundaries_matches_skimage_inner_mode() -> None:
    from skimage.segmentation import find_boundaries

    # hand-computed: a pixel is marked when its right or lower neighbour has another id
    seg = torch.tensor([[0, 0, 1], [0, 0, 1], [2, 2, 2]])
    assert ov.segment_boundaries(seg)[0, 0].int().tolist() == [[0, 1, 0], [1, 1, 1], [0, 0, 0]]
    gen = torch.Generator().manual_seed(0)
    seg = torch.randint(0, 4, (1, 1, 9, 11), generator=gen)
    ours = ov.segment_boundaries(seg)[0, 0].numpy()
    # every boundary pixel we mark is a boundary for scikit-image too, and every pair of
    # 4-neighbours with different ids has a marked pixel
    sk = find_boundaries(seg[0, 0].numpy(), mode="thick")
    assert not np.any(ours & ~sk)
    inner = find_boundaries(seg[0, 0].numpy(), mode="inner")
    assert np.any(ours) and np.all(inner <= (ours | np.roll(ours, 1, 1) | np.roll(ours, 1, 0)))


def test_mark_boundaries_colours_only_boundaries() -> None:
    img = torch.full((3, 4, 4), 0.25)
    out = ov.mark_boundaries(img, QUADRANTS, color=(1.0, 0.0, 0.5))
    edge = ov.segment_boundaries(QUADRANTS)[0, 0]
    assert out.shape == img.shape
    assert torch.equal(out[:, edge], torch.tensor([1.0, 0.0, 0.5])[:, None].expand(3, 7))
    assert torch.equal(out[:, ~edge], img[:, ~edge])


def test_mark_boundaries_batch_and_checks() -> None:
    imgs = torch.zeros(2, 3, 4, 4)
    assert ov.mark_boundaries(imgs, QUADRANTS).shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match="color"):
        ov.mark_boundaries(imgs, QUADRANTS, color=(1.0, 0.0))
    with pytest.raises(ValueError, match="spatial size"):
        ov.mark_boundaries(imgs, torch.zeros(1, 1, 3, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        ov.mark_boundaries(imgs, QUADRANTS.float())


def test_segment_scores_and_top_k_ids() -> None:
    pooled = torch.tensor([[1.0, 1.0, 4.0, 4.0]] * 2 + [[2.0, 2.0, 3.0, 3.0]] * 2)[None, None]
    scores = ov.segment_scores(pooled, QUADRANTS)
    assert torch.allclose(scores, torch.tensor([[1.0, 4.0, 2.0, 3.0]]))
    assert ov.top_k_ids(scores, 2) == [[1, 3]]
    assert ov.top_k_ids(scores, 10) == [[1, 3, 2, 0]]


def test_top_k_ids_skips_nan() -> None:
    s = torch.tensor([[0.1, float("nan"), 0.3], [float("nan"), 2.0, 1.0]])
    assert ov.top_k_ids(s, 3) == [[2, 0], [1, 2]]


@pytest.mark.parametrize("k", [0, -1])
def test_top_k_rejects_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match="k"):
        ov.top_k_ids(torch.zeros(1, 3), k)
    with pytest.raises(ValueError, match="k"):
        ov.top_k_segments(torch.zeros(1, 4), QUADRANTS, k)


def test_top_k_segments_from_scores_and_from_map() -> None:
    scores = torch.tensor([[0.5, -1.0, 2.0, 0.0]])
    mask = ov.top_k_segments(scores, QUADRANTS, 2)[0, 0]
    assert torch.equal(mask, (QUADRANTS[0, 0] == 0) | (QUADRANTS[0, 0] == 2))
    pooled = scores[0][QUADRANTS]  # (1, 1, 4, 4) map holding the scores
    assert torch.equal(ov.top_k_segments(pooled, QUADRANTS, 2)[0, 0], mask)
    with pytest.raises(ValueError, match="columns"):
        ov.top_k_segments(torch.zeros(1, 2), QUADRANTS, 1)


def test_show_segments_fades_the_rest() -> None:
    img = torch.ones(3, 4, 4)
    mask = QUADRANTS == 3
    out = ov.show_segments(img, mask, fade=1.0, background=0.2)
    assert torch.equal(out[:, mask[0, 0]], torch.ones(3, 4))
    assert torch.allclose(out[:, ~mask[0, 0]], torch.full((3, 12), 0.2))
    with pytest.raises(ValueError, match="fade"):
        ov.show_segments(img, mask, fade=1.5)
    with pytest.raises(ValueError, match="mask"):
        ov.show_segments(img, torch.ones(1, 1, 3, 3, dtype=torch.bool))
