"""Tests for the shared metric helpers: checks, normalisation, boxes, components."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from captum_nas.metrics._common import (
    boxes_to_mask,
    check_boxes,
    check_maps,
    check_masks,
    check_thresholds,
    connected_components,
    label_components,
    minmax_normalize,
)


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("density", [0.0, 0.3, 0.55, 0.8, 1.0])
def test_labels_match_scipy(connectivity: int, density: float) -> None:
    gen = torch.Generator().manual_seed(int(density * 100) + connectivity)
    binary = torch.rand(6, 23, 31, generator=gen) < density
    labels = label_components(binary, connectivity=connectivity)
    structure = np.ones((3, 3)) if connectivity == 8 else None
    for i in range(binary.shape[0]):
        ref, _ = ndimage.label(binary[i].numpy(), structure=structure)
        # scipy numbers components in raster order of their first pixel, like us
        np.testing.assert_array_equal(labels[i].numpy(), ref - 1)


def test_component_boxes_and_sizes_match_scipy() -> None:
    gen = torch.Generator().manual_seed(3)
    binary = torch.rand(4, 19, 27, generator=gen) < 0.45
    comps = connected_components(binary)
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
    c8 = connected_components(b, connectivity=8)
    assert c8.mask_index.tolist() == [0, 0, 1]
    assert c8.boxes.tolist() == [[1, 1, 5, 3], [0, 4, 1, 5], [0, 0, 2, 2]]
    assert c8.sizes.tolist() == [8, 1, 2]
    c4 = connected_components(b, connectivity=4)
    assert c4.mask_index.tolist() == [0, 0, 1, 1]
    assert c4.sizes.tolist() == [8, 1, 1, 1]


def test_components_u_shape_merges() -> None:
    # the two arms of a U only meet at the bottom row: needs the union-find to merge
    b = torch.zeros(1, 6, 7, dtype=torch.bool)
    b[0, :, 0] = True
    b[0, :, 6] = True
    b[0, 5, :] = True
    b[0, 0:4, 3] = True  # a separate bar in the middle
    comps = connected_components(b)
    assert comps.sizes.tolist() == [6 + 6 + 5, 4]
    assert comps.boxes.tolist() == [[0, 0, 7, 6], [3, 0, 4, 4]]


def test_components_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="connectivity"):
        connected_components(torch.zeros(1, 2, 2, dtype=torch.bool), connectivity=6)
    with pytest.raises(ValueError, match="bool tensor"):
        connected_components(torch.zeros(1, 2, 2))


def test_minmax_constant_map_is_zero_not_nan() -> None:
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[7.0, 7.0], [7.0, 7.0]]])
    out = minmax_normalize(maps)
    assert torch.equal(out[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.equal(out[1], torch.zeros(2, 2))


def test_check_maps_reduces_channels_by_mean() -> None:
    maps = torch.stack([torch.ones(3, 3), 3 * torch.ones(3, 3)]).unsqueeze(0)  # (1, 2, 3, 3)
    assert torch.equal(check_maps(maps), 2 * torch.ones(1, 3, 3))
    assert check_maps(torch.ones(2, 1, 3, 4)).shape == (2, 3, 4)
    assert check_maps(torch.ones(2, 3, 4)).shape == (2, 3, 4)


@pytest.mark.parametrize(
    ("maps", "error", "match"),
    [
        (torch.ones(3, 3), ValueError, "shape"),
        (torch.ones(1, 1, 1, 3, 3), ValueError, "shape"),
        (torch.ones(1, 3, 3, dtype=torch.long), TypeError, "floating"),
        (torch.tensor([[[float("nan")]]]), ValueError, "NaN"),
        ([[1.0]], TypeError, "torch.Tensor"),
    ],
)
def test_check_maps_rejects(maps: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_maps(maps)


def test_check_masks() -> None:
    like = torch.zeros(2, 3, 3)
    ok = torch.zeros(2, 1, 3, 3)
    ok[:, :, 1, 1] = 1
    assert check_masks(ok, "masks", like=like).dtype == torch.bool
    with pytest.raises(ValueError, match="0 and 1"):
        check_masks(ok * 0.5, "masks", like=like)
    with pytest.raises(ValueError, match="does not match"):
        check_masks(ok[:1], "masks", like=like)
    with pytest.raises(ValueError, match="no object pixel"):
        check_masks(torch.zeros(2, 3, 3), "masks", like=like)
    soft = check_masks(ok * 0.5, "masks", like=like, soft=True)
    assert soft.dtype == like.dtype and float(soft.max()) == 0.5


def test_check_boxes_accepts_list_and_tensor() -> None:
    boxes, valid = check_boxes(
        [torch.tensor([[0, 0, 2, 3]]), torch.tensor([[1, 1, 4, 2], [0, 0, 1, 1]])],
        "boxes",
        n=2,
        height=5,
        width=4,
        device=torch.device("cpu"),
    )
    assert boxes.shape == (2, 2, 4)
    assert valid.tolist() == [[True, False], [True, True]]
    t, v = check_boxes(
        torch.tensor([[[0, 0, 4, 5]]]), "boxes", n=1, height=5, width=4, device=torch.device("cpu")
    )
    assert t.shape == (1, 1, 4) and bool(v.all())


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        (torch.tensor([[[2, 0, 2, 3]]]), "invalid"),  # x1 <= x0
        (torch.tensor([[[0, 3, 2, 1]]]), "invalid"),  # y1 <= y0
        (torch.tensor([[[0, 0, 5, 3]]]), "invalid"),  # x1 > width
        (torch.tensor([[[-1, 0, 2, 3]]]), "invalid"),
        (torch.tensor([[[0, 0, 2, float("nan")]]]), "NaN"),
        (torch.tensor([[[0, 0, 2, 3]], [[0, 0, 2, 3]]]), "images"),  # batch mismatch
        (torch.tensor([[[0, 0, 2]]]), "shape"),
        ([torch.tensor([[0, 0, 2, 3]]), torch.tensor([[0, 0, 1, 1]])], "entries"),
    ],
)
def test_check_boxes_rejects(boxes: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_boxes(boxes, "boxes", n=1, height=5, width=4, device=torch.device("cpu"))


def test_boxes_to_mask_x_is_width() -> None:
    boxes = torch.tensor([[[1.0, 0.0, 4.0, 2.0]]], dtype=torch.float64)
    mask = boxes_to_mask(boxes, torch.ones(1, 1, dtype=torch.bool), 3, 5)
    expected = torch.zeros(1, 3, 5, dtype=torch.bool)
    expected[0, 0:2, 1:4] = True
    assert torch.equal(mask, expected)


def test_check_thresholds() -> None:
    like = torch.zeros(1, dtype=torch.float64)
    t, scalar = check_thresholds(0.5, "t", like)
    assert scalar and t.dtype == torch.float64 and t.tolist() == [0.5]
    t, scalar = check_thresholds([0.1, 0.2], "t", like)
    assert not scalar and t.tolist() == [0.1, 0.2]
    with pytest.raises(TypeError):
        check_thresholds("a", "t", like)
    with pytest.raises(ValueError, match="finite"):
        check_thresholds([float("inf")], "t", like)
