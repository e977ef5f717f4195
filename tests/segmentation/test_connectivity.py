import pytest
import torch

from captum_nas.segmentation import connected_components, merge_small_segments
from captum_nas.segmentation.connectivity import (
    _components_propagation,
    _components_union_find,
    upsample_labels,
)


def test_components_split_equal_labels() -> None:
    lab = torch.tensor([[[0, 1, 0], [0, 1, 0], [2, 2, 0]]])
    cc = connected_components(lab)
    # the two 0-regions are joined below-right only through column 2: one component on
    # the left (col 0, rows 0-1) and one on the right
    assert cc.tolist() == [[[0, 1, 2], [0, 1, 2], [3, 3, 2]]]


def test_components_snake_needs_many_steps() -> None:
    lab = torch.ones(1, 7, 7, dtype=torch.long)
    lab[0, 1, :6] = 0
    lab[0, 3, 1:] = 0
    lab[0, 5, :6] = 0
    cc = connected_components(lab)
    ones = cc[0][lab[0] == 1]
    assert ones.unique().numel() == 1  # a single snake-shaped component
    assert int(cc.max()) == 3  # three bars of zeros plus the snake


def test_components_batch_independent() -> None:
    lab = torch.randint(0, 3, (4, 9, 9))
    batch = connected_components(lab)
    single = torch.cat([connected_components(lab[i : i + 1]) for i in range(4)])
    assert torch.equal(batch, single)


@pytest.mark.parametrize(
    ("n_labels", "shape"), [(2, (3, 13, 11)), (3, (4, 9, 9)), (8, (2, 56, 56)), (40, (1, 7, 30))]
)
def test_components_union_find_equals_propagation(n_labels: int, shape: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(n_labels)
    lab = torch.randint(0, n_labels, shape, generator=gen)
    # the CPU path (scikit-image) and the device path name the components identically
    assert torch.equal(_components_union_find(lab), _components_propagation(lab))
    assert torch.equal(connected_components(lab), _components_propagation(lab))


def test_components_paths_agree_on_hand_cases() -> None:
    lab = torch.tensor([[[0, 1, 0], [0, 1, 0], [2, 2, 0]]])
    expected = [[[0, 1, 2], [0, 1, 2], [3, 3, 2]]]
    assert _components_union_find(lab).tolist() == expected
    assert _components_propagation(lab).tolist() == expected
    empty = torch.zeros(0, 4, 4, dtype=torch.long)
    assert connected_components(empty).shape == (0, 4, 4)


def test_merge_small_into_longest_border() -> None:
    lab = torch.tensor([[[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 2], [3, 0, 2, 2]]])
    out = merge_small_segments(lab, 2)
    # 1 (one pixel, all neighbours 0) and 3 (one pixel, neighbours 0) join 0
    assert out.tolist() == [[[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]]


def test_merge_leaves_large_segments() -> None:
    lab = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1]]])
    assert torch.equal(merge_small_segments(lab, 2), lab)


def test_upsample_nearest_and_bilinear() -> None:
    lab = torch.tensor([[[0, 1], [2, 3]]])
    near = upsample_labels(lab, (4, 4), mode="nearest")
    assert near.tolist() == [[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]]
    bil = upsample_labels(lab, (4, 4), mode="bilinear")
    assert torch.equal(bil, near)  # symmetric quadrants: bilinear argmax agrees
    smooth = upsample_labels(torch.tensor([[[0, 0, 1]]]), (1, 6), mode="bilinear")
    assert smooth.tolist() == [[[0, 0, 0, 0, 1, 1]]]


@pytest.mark.parametrize(
    ("h", "w", "size", "k"),
    [(56, 56, (224, 224), 32), (7, 9, (30, 17), 5), (10, 10, (33, 47), 3), (8, 8, (8, 20), 4)],
)
def test_bilinear_upsample_equals_one_hot_interpolation(
    h: int, w: int, size: tuple[int, int], k: int
) -> None:
    # the reference: argmax over channels of the bilinearly upsampled one-hot encoding
    g = torch.Generator().manual_seed(h * w + k)
    lab = torch.randint(0, k, (3, h, w), generator=g)
    onehot = torch.nn.functional.one_hot(lab, k).permute(0, 3, 1, 2).float()
    up = torch.nn.functional.interpolate(onehot, size=size, mode="bilinear", align_corners=False)
    assert torch.equal(upsample_labels(lab, size, mode="bilinear"), up.argmax(1))
