import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from captum_nas.segmentation.refine import (
    cluster_distances,
    cluster_means,
    color_features,
    refine_labels,
    rgb_to_lab,
)


def test_rgb_to_lab_matches_skimage() -> None:
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, 5, 7, generator=gen)
    img[0, :, 0, 0] = 0.0  # black and white corners
    img[0, :, 0, 1] = 1.0
    ours = rgb_to_lab(img)
    for i in range(2):
        ref = rgb2lab(img[i].permute(1, 2, 0).double().numpy())
        np.testing.assert_allclose(ours[i].permute(1, 2, 0).numpy(), ref, atol=1e-2)
    assert torch.allclose(color_features(img), ours / 100)


def test_cluster_means_brute_force() -> None:
    gen = torch.Generator().manual_seed(2)
    pts = torch.randn(2, 8, 3, generator=gen, dtype=torch.float64)
    labels = torch.tensor([[0, 0, 1, 1, 1, 0, 1, 0], [2] * 8])
    means, counts = cluster_means(pts, labels, 3)
    for i in range(2):
        for k in range(3):
            sel = pts[i][labels[i] == k]
            assert counts[i, k] == len(sel)
            expected = sel.mean(0) if len(sel) else torch.zeros(3, dtype=torch.float64)
            assert torch.allclose(means[i, k], expected)


def test_cluster_distances_brute_force() -> None:
    gen = torch.Generator().manual_seed(1)
    pts = torch.randn(2, 10, 4, generator=gen)
    labels = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 0, 1, 2], [0] * 5 + [1] * 5])
    dist = cluster_distances(pts, labels, 3)
    for i in range(2):
        for k in range(3):
            members = pts[i][labels[i] == k]
            if len(members) == 0:
                assert bool((dist[i, k] > 1e30).all())  # an absent id is never chosen
                continue
            expect = ((pts[i] - members.mean(0)) ** 2).sum(-1)
            assert torch.allclose(dist[i, k], expect, atol=1e-5)


def _two_cells() -> tuple[torch.Tensor, torch.Tensor]:
    # a 1x2 grid: cell 0 is cluster 0's centre, cell 1 cluster 1's
    return torch.tensor([[[0, 1]]]), torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])


def test_without_colour_the_border_is_the_interpolated_midpoint() -> None:
    labels, dist = _two_cells()
    out = refine_labels(labels, dist, torch.zeros(1, 3, 1, 8), color_weight=1.0, iterations=2)
    assert out.tolist() == [[[0, 0, 0, 0, 1, 1, 1, 1]]]


def test_the_border_moves_to_the_colour_edge() -> None:
    # black pixels 0-2, white pixels 3-7: the border follows the image, not the grid
    labels, dist = _two_cells()
    colors = torch.zeros(1, 3, 1, 8)
    colors[..., 3:] = 1.0
    out = refine_labels(labels, dist, colors, color_weight=3.0, iterations=3)
    assert out.tolist() == [[[0, 0, 0, 1, 1, 1, 1, 1]]]
    # with 0 iterations the colour is ignored
    plain = refine_labels(labels, dist, colors, color_weight=3.0, iterations=0)
    assert plain.tolist() == [[[0, 0, 0, 0, 1, 1, 1, 1]]]


def test_labels_only_come_from_neighbouring_cells() -> None:
    # a pixel may only take a label of its bilinear source cells, however near in colour
    labels = torch.tensor([[[0, 1, 2]]])
    dist = torch.tensor([[[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]])
    colors = torch.zeros(1, 3, 1, 9)
    colors[..., 6:] = 1.0
    out = refine_labels(labels, dist, colors, color_weight=10.0, iterations=3)
    assert set(out[0, 0, :3].tolist()) <= {0, 1}
    assert out[0, 0, 0] == 0 and out[0, 0, -1] == 2


@pytest.mark.parametrize("n", [1, 3])
def test_refine_shapes(n: int) -> None:
    gen = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 4, (n, 6, 5), generator=gen)
    pts = torch.randn(n, 30, 3, generator=gen)
    dist = cluster_distances(pts, labels.reshape(n, -1), 4)
    out = refine_labels(labels, dist, torch.rand(n, 3, 24, 20, generator=gen), color_weight=0.5)
    assert out.shape == (n, 24, 20) and out.dtype == torch.long
    assert set(out.unique().tolist()) <= set(labels.unique().tolist())


@pytest.mark.parametrize("seed", range(4))
def test_refine_labels_equals_the_all_pixel_reference(seed: int) -> None:
    """Costing only border pixels gives the labels of costing every pixel, bit for bit."""
    from tests.segmentation.reference_nas import reference_refine_labels

    gen = torch.Generator().manual_seed(seed)
    n, h, w, k = 3, 6 + seed, 9, 5
    labels = torch.randint(0, k, (n, h, w), generator=gen)
    labels[0] = 2  # one image without any border
    dist = torch.rand(n, k, h * w, generator=gen)
    if seed % 2:  # integer distances and two grey levels: many exact ties
        dist = torch.randint(0, 3, (n, k, h * w), generator=gen).float()
    colors = torch.rand(n, 3, 4 * h + seed, 37, generator=gen)
    if seed % 2:
        colors = (colors > 0.5).float()
    for iterations in (0, 1, 3):
        for weight in (0.0, 0.5, 3.0):
            ours = refine_labels(labels, dist, colors, color_weight=weight, iterations=iterations)
            ref = reference_refine_labels(
                labels, dist, colors, color_weight=weight, iterations=iterations
            )
            assert torch.equal(ours, ref), (iterations, weight)


def test_rgb_to_lab_equals_the_reference_to_rounding() -> None:
    from tests.segmentation.reference_nas import reference_rgb_to_lab

    gen = torch.Generator().manual_seed(4)
    img = torch.rand(3, 3, 31, 17, generator=gen) * 1.2 - 0.1  # outside [0, 1] too
    img[:, :, 0] = torch.linspace(0.0, 0.05, 17)  # both sides of the sRGB knee
    img[0, :, 1] = 0.0  # black: the linear branch of f
    # the powers as exp/log: a few float32 ulps of L's range [0, 100], no more
    ref = reference_rgb_to_lab(img)
    torch.testing.assert_close(rgb_to_lab(img), ref, rtol=0.0, atol=1e-4)
    torch.testing.assert_close(color_features(img), ref / 100, rtol=0.0, atol=1e-6)
