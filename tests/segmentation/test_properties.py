"""Property-based tests of the segmentation invariants."""

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from captum_nas.segmentation import (
    GridSegmenter,
    NASSegmenter,
    batched_kmeans,
    connected_components,
    is_contiguous,
    merge_small_segments,
    relabel_contiguous,
)
from captum_nas.segmentation.grid import grid_shape
from tests.conftest import TinyCNN

masks = st.builds(
    lambda n, h, w, k, seed: torch.randint(
        0, k, (n, 1, h, w), generator=torch.Generator().manual_seed(seed)
    ),
    st.integers(1, 3),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(1, 30),
    st.integers(0, 2**16),
)


def _same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    fa, fb = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return bool(torch.equal(fa[:, :, None] == fa[:, None, :], fb[:, :, None] == fb[:, None, :]))


@given(masks)
def test_relabel_contiguous_keeps_partition(mask: torch.Tensor) -> None:
    out = relabel_contiguous(mask * 7 + 3)
    assert is_contiguous(out)
    assert _same_partition(out, mask)


@given(masks)
def test_components_refine_labels_and_are_contiguous(mask: torch.Tensor) -> None:
    cc = connected_components(mask[:, 0])
    assert is_contiguous(cc.unsqueeze(1))
    # a component never mixes labels: equal component implies equal label
    f_cc, f_lab = cc.flatten(1), mask.flatten(1)
    same_cc = f_cc[:, :, None] == f_cc[:, None, :]
    same_lab = f_lab[:, :, None] == f_lab[:, None, :]
    assert bool((~same_cc | same_lab).all())


@pytest.mark.slow
@given(masks, st.integers(1, 6))
def test_merge_small_segments_only_coarsens(mask: torch.Tensor, min_size: int) -> None:
    cc = connected_components(mask[:, 0])
    merged = merge_small_segments(cc, min_size)
    assert is_contiguous(merged.unsqueeze(1))
    f_cc, f_m = cc.flatten(1), merged.flatten(1)
    same_cc = f_cc[:, :, None] == f_cc[:, None, :]
    same_m = f_m[:, :, None] == f_m[:, None, :]
    assert bool((~same_cc | same_m).all())  # merged is a coarsening of the components
    assert bool((merged.amax((1, 2)) <= cc.amax((1, 2))).all())


@given(st.integers(1, 40), st.integers(1, 20), st.integers(1, 20))
def test_grid_segments_are_contiguous_and_balanced(k: int, h: int, w: int) -> None:
    assume(k <= h * w)
    seg = GridSegmenter(k)(torch.zeros(1, 3, h, w))
    assert is_contiguous(seg)
    rows, cols = grid_shape(h, w, k)
    sizes = torch.bincount(seg.flatten())
    assert sizes.numel() == rows * cols
    # cell sides are floor or ceil of H/rows and W/cols
    assert int(sizes.max()) <= -(-h // rows) * -(-w // cols)
    assert int(sizes.min()) >= (h // rows) * (w // cols)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 5), st.integers(1, 4), st.integers(0, 100))
def test_kmeans_labels_are_nearest_centre_and_inertia_decreases(n: int, k: int, seed: int) -> None:
    x = torch.randn(n, 30, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    one = batched_kmeans(x, k, seed=seed, max_iter=1)
    full = batched_kmeans(x, k, seed=seed, max_iter=50)
    assert bool((full.inertia <= one.inertia + 1e-9).all())
    nearest = torch.cdist(x, full.centroids).argmin(-1)
    d_assigned = torch.cdist(x, full.centroids).gather(2, full.labels[..., None])
    d_nearest = torch.cdist(x, full.centroids).gather(2, nearest[..., None])
    assert torch.allclose(d_assigned, d_nearest)


@settings(max_examples=10, deadline=None)
@given(st.permutations(list(range(4))))
def test_nas_permuting_the_batch_permutes_the_segments(perm: list[int]) -> None:
    torch.manual_seed(0)
    model: nn.Module = TinyCNN().eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    nas = NASSegmenter(model, n_segments=5)
    assert torch.equal(nas(x)[perm], nas(x[perm]))
