"""Connected components of binary masks (``segmentation.connectivity.mask_components``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from captum_nas.segmentation.connectivity import label_mask_components, mask_components


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("density", [0.0, 0.3, 0.55, 0.8, 1.0])
def test_labels_match_scipy(connectivity: int, density: float) -> None:
    gen = torch.Generator().manual_seed(int(density * 100) + connectivity)
    binary = torch.rand(6, 23, 31, generator=gen) < density
    labels = label_mask_components(binary, connectivity=connectivity)
    structure = np.ones((3, 3)) if connectivity == 8 else None
    for i in range(binary.shape[0]):
        ref, _ = ndimage.label(binary[i].numpy(), structure=structure)
        # scipy numbers components in raster order of their first pixel, like us
        np.testing.assert_array_equal(labels[i].numpy(), ref - 1)


def test_component_boxes_and_sizes_match_scipy() -> None:
    gen = torch.Generator().manual_seed(3)
    binary = torch.rand(4, 19, 27, generator=gen) < 0.45
    comps = mask_components(binary)
    structure = np.ones((3, 3))
    got: dict[int, list[tuple[tuple[int, ...], int]]] = {}
    for k in range(comps.sizes.numel()):
        got.setdefault(int(comps.mask_index[k]), []).append(
            (tuple(comps.boxes[k].tolist()), int(comps.sizes[k]))
        )
    for i in range(4):
        ref, n = ndimage.label(binary[i].numpy(), structure=structure)
        expected = []
        for j, sl in enumerate(ndimage.find_objects(ref)):
            ys, xs = sl
            size = int((ref == j + 1).sum())
            expected.append(((xs.start, ys.start, xs.stop, ys.stop), size))
        assert got.get(i, []) == expected
        assert n == len(expected)


def test_components_known_shapes() -> None:
    b = torch.zeros(2, 5, 6, dtype=torch.bool)
    b[0, 1:3, 1:5] = True  # a 2x4 rectangle
    b[0, 4, 0] = True  # a lone pixel
    b[1, 0, 0] = True
    b[1, 1, 1] = True  # diagonal neighbour: one component with 8-, two with 4-connectivity
    c8 = mask_components(b, connectivity=8)
    assert c8.mask_index.tolist() == [0, 0, 1]
    assert c8.boxes.tolist() == [[1, 1, 5, 3], [0, 4, 1, 5], [0, 0, 2, 2]]
    assert c8.sizes.tolist() == [8, 1, 2]
    c4 = mask_components(b, connectivity=4)
    assert c4.mask_index.tolist() == [0, 0, 1, 1]
    assert c4.sizes.tolist() == [8, 1, 1, 1]


def test_components_u_shape_merges() -> None:
    # the two arms of a U only meet at the bottom row: needs the union-find to merge
    b = torch.zeros(1, 6, 7, dtype=torch.bool)
    b[0, :, 0] = True
    b[0, :, 6] = True
    b[0, 5, :] = True
    b[0, 0:4, 3] = True  # a separate bar in the middle
    comps = mask_components(b)
    assert comps.sizes.tolist() == [6 + 6 + 5, 4]
    assert comps.boxes.tolist() == [[0, 0, 7, 6], [3, 0, 4, 4]]


def test_components_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="connectivity"):
        mask_components(torch.zeros(1, 2, 2, dtype=torch.bool), connectivity=6)
    with pytest.raises(ValueError, match="bool tensor"):
        mask_components(torch.zeros(1, 2, 2))
