import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from captum_nas.segmentation.connectivity import _source_index
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


def test_rgb_to_lab_equals_the_reference_bit_for_bit() -> None:
    from tests.segmentation.reference_nas import reference_rgb_to_lab

    gen = torch.Generator().manual_seed(4)
    img = torch.rand(3, 3, 31, 17, generator=gen) * 1.2 - 0.1  # outside [0, 1] too
    img[:, :, 0] = torch.linspace(0.0, 0.05, 17)  # both sides of the sRGB knee
    img[0, :, 1] = 0.0  # black: the linear branch of f
    assert torch.equal(rgb_to_lab(img), reference_rgb_to_lab(img))
    assert torch.equal(color_features(img), reference_rgb_to_lab(img) / 100)


def _loop_refine(
    labels: torch.Tensor,
    distances: torch.Tensor,
    colors: torch.Tensor,
    color_weight: float,
    iterations: int,
) -> torch.Tensor:
    """``refine_labels`` pixel by pixel with NumPy scalars of the distances' dtype: each
    pixel costs its four source cells' labels in source order (repeats included) and
    keeps the first strictly smallest cost; colour sums run over the pixels in order."""
    n, h, w = labels.shape
    big_h, big_w = colors.shape[-2:]
    dt = distances.numpy().dtype.type
    r0, r1, wy0, wy1 = (t.numpy() for t in _source_index(big_h, h, torch.device("cpu")))
    c0, c1, wx0, wx1 = (t.numpy() for t in _source_index(big_w, w, torch.device("cpu")))
    w2 = dt(float(color_weight) ** 2)
    out = np.zeros((n, big_h, big_w), dtype=np.int64)
    for i in range(n):
        lab, dist = labels[i].numpy(), distances[i].numpy()
        col = colors[i].to(distances.dtype).numpy()
        cands, interp = {}, {}
        for y in range(big_h):
            for x in range(big_w):
                corners = [
                    (r0[y], c0[x], dt(wy0[y] * wx0[x])),
                    (r0[y], c1[x], dt(wy0[y] * wx1[x])),
                    (r1[y], c0[x], dt(wy1[y] * wx0[x])),
                    (r1[y], c1[x], dt(wy1[y] * wx1[x])),
                ]
                cands[y, x] = [int(lab[r, c]) for r, c, _ in corners]
                interp[y, x] = []
                for cand in cands[y, x]:
                    d = dt(0)
                    for r, c, wt in corners:
                        d = d + dist[cand, r * w + c] * wt
                    interp[y, x].append(d)

        def first_min(costs: list, labels: list) -> int:
            best_cost, best = costs[0], labels[0]
            for cost, label in zip(costs[1:], labels[1:]):
                if cost < best_cost:
                    best_cost, best = cost, label
            return best

        cur = {p: first_min(interp[p], cands[p]) for p in cands}
        if color_weight > 0:
            for _ in range(iterations):
                sums = np.zeros((distances.shape[1], col.shape[0]), dtype=dt)
                counts = np.zeros(distances.shape[1], dtype=dt)
                for y, x in cands:  # row-major pixel order
                    counts[cur[y, x]] += dt(1)
                    for ch in range(col.shape[0]):
                        sums[cur[y, x], ch] += col[ch, y, x]
                means = sums / np.maximum(counts, dt(1))[:, None]
                new = {}
                for (y, x), labs in cands.items():
                    costs = []
                    for cand, d in zip(labs, interp[y, x]):
                        cost = d
                        for ch in range(col.shape[0]):
                            diff = col[ch, y, x] - means[cand, ch]
                            cost = cost + (diff * w2) * diff
                        costs.append(cost)
                    new[y, x] = first_min(costs, labs)
                if new == cur:
                    break
                cur = new
        for (y, x), label in cur.items():
            out[i, y, x] = label
    return torch.from_numpy(out)


@pytest.mark.parametrize("seed", range(6))
def test_refine_labels_equals_the_pixel_loop(seed: int) -> None:
    """Bit for bit the per-pixel loop, with blocks of two, three and four labels, repeated
    labels among the four cells, exact ties (integer distances, two grey levels) and,
    for one seed, a NaN distance (never strictly smaller, so never picked over another)."""
    gen = torch.Generator().manual_seed(100 + seed)
    n, h, w, k = 2, 3 + seed % 3, 4, 5
    dtype = torch.float64 if seed == 5 else torch.float32
    labels = torch.randint(0, 4, (n, h, w), generator=gen)  # many junctions of 3-4 labels
    dist = torch.rand(n, k, h * w, generator=gen, dtype=dtype)
    colors = torch.rand(n, 3, 2 * h + 5 * (seed % 2), 3 * w + seed, generator=gen)
    if seed in (1, 3):
        dist = torch.randint(0, 2, (n, k, h * w), generator=gen).to(dtype)
        colors = (colors > 0.5).float()
    if seed == 4:
        dist[0, 1, :] = float("nan")
    for iterations in (0, 1, 3):
        for weight in (0.0, 0.7, 3.0):
            ours = refine_labels(labels, dist, colors, color_weight=weight, iterations=iterations)
            loop = _loop_refine(labels, dist, colors, weight, iterations)
            assert torch.equal(ours, loop), (iterations, weight)


def test_all_ties_keep_the_top_left_source_label() -> None:
    # equal distances and one colour: every candidate ties, the first (the label of the
    # pixel's top-left source cell, rows (0,0,0,0,0,0,1,1) of a 2-row grid at 8 px) wins
    labels = torch.tensor([[[0, 1], [1, 2]]])
    dist = torch.zeros(1, 3, 4)
    top_left = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
    expected = labels[0][top_left][:, top_left]
    for iterations in (0, 2):
        out = refine_labels(
            labels, dist, torch.ones(1, 3, 8, 8), color_weight=2.0, iterations=iterations
        )
        assert torch.equal(out[0], expected)


def test_colour_layout_does_not_change_the_labels() -> None:
    # channel-by-channel storage (as NAS's colour features come) and contiguous storage
    gen = torch.Generator().manual_seed(7)
    labels = torch.randint(0, 3, (3, 5, 6), generator=gen)
    dist = torch.rand(3, 3, 30, generator=gen)
    planes = torch.rand(3, 3, 20, 24, generator=gen).transpose(0, 1)  # (N, 3, H, W) view
    assert not planes.is_contiguous()
    a = refine_labels(labels, dist, planes, color_weight=2.0, iterations=3)
    b = refine_labels(labels, dist, planes.contiguous(), color_weight=2.0, iterations=3)
    assert torch.equal(a, b)


def test_cluster_distances_equals_the_plain_formula_bit_for_bit() -> None:
    gen = torch.Generator().manual_seed(3)
    pts = torch.randn(3, 40, 7, generator=gen) * 3
    labels = torch.randint(0, 5, (3, 40), generator=gen)
    labels[1] = labels[1].clamp(max=2)  # absent ids in one image
    centres, counts = cluster_means(pts, labels, 5)
    plain = (
        (pts * pts).sum(-1).unsqueeze(1)
        - 2 * centres @ pts.transpose(1, 2)
        + (centres * centres).sum(-1).unsqueeze(-1)
    ).clamp_min(0)
    plain = plain.masked_fill((counts == 0).unsqueeze(-1), torch.finfo(plain.dtype).max / 4)
    assert torch.equal(cluster_distances(pts, labels, 5), plain)


@pytest.mark.parametrize("size", [(6, 7), (4, 5), (9, 3)])
def test_refine_labels_equals_the_pixel_loop_at_any_scale(size: tuple[int, int]) -> None:
    """The same size as the grid (weight-0 neighbours are still candidates), smaller
    (grid rows skipped) and mixed."""
    gen = torch.Generator().manual_seed(sum(size))
    labels = torch.randint(0, 4, (2, 6, 7), generator=gen)
    dist = torch.rand(2, 4, 42, generator=gen)
    colors = torch.rand(2, 3, *size, generator=gen)
    for iterations in (0, 2):
        ours = refine_labels(labels, dist, colors, color_weight=1.5, iterations=iterations)
        assert torch.equal(ours, _loop_refine(labels, dist, colors, 1.5, iterations))


def test_cluster_distances_of_the_first_dims_equal_those_of_the_slice() -> None:
    gen = torch.Generator().manual_seed(5)
    pts = torch.randn(2, 30, 9, generator=gen)
    labels = torch.randint(0, 4, (2, 30), generator=gen)
    sliced = pts[..., :6].contiguous()
    assert torch.equal(
        cluster_distances(pts, labels, 4, dims=6), cluster_distances(sliced, labels, 4)
    )
    assert torch.equal(cluster_distances(pts, labels, 4, dims=9), cluster_distances(pts, labels, 4))


@pytest.mark.parametrize(
    ("dims", "error", "match"),
    [
        (0, ValueError, ">= 1"),
        (-3, ValueError, ">= 1"),
        (10, ValueError, "at most the 9"),
        (2.0, TypeError, "integer"),
        (True, TypeError, "integer"),
    ],
)
def test_cluster_distances_rejects_bad_dims(dims: object, error: type, match: str) -> None:
    pts = torch.zeros(1, 4, 9)
    with pytest.raises(error, match=match):
        cluster_distances(pts, torch.zeros(1, 4, dtype=torch.long), 2, dims=dims)  # type: ignore[arg-type]
