import pytest
import torch

from captum_nas.segmentation import GridSegmenter, is_contiguous
from captum_nas.segmentation.grid import grid_shape


def test_four_cells_known_answer() -> None:
    out = GridSegmenter(4)(torch.zeros(2, 3, 4, 4))
    expected = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    assert out.shape == (2, 1, 4, 4) and out.dtype == torch.long
    assert torch.equal(out[0, 0], expected) and torch.equal(out[1, 0], expected)


def test_patch_size_with_ragged_border() -> None:
    out = GridSegmenter(patch_size=2)(torch.zeros(1, 1, 3, 5))[0, 0]
    assert out.tolist() == [[0, 0, 1, 1, 2], [0, 0, 1, 1, 2], [3, 3, 4, 4, 5]]


def test_aspect_ratio_followed() -> None:
    assert grid_shape(100, 200, 8) == (2, 4)
    out = GridSegmenter(8)(torch.zeros(1, 3, 100, 200))
    assert int(out.max()) + 1 == 8 and is_contiguous(out)
    # equal-sized cells: 50x50 pixels each
    assert torch.all(torch.bincount(out.flatten()) == 2500)


def test_one_pixel_per_segment() -> None:
    out = GridSegmenter(12)(torch.zeros(1, 3, 3, 4))[0, 0]
    assert out.flatten().tolist() == list(range(12))


def test_errors() -> None:
    with pytest.raises(ValueError, match="n_segments"):
        GridSegmenter(0)
    with pytest.raises(ValueError, match="exceeds"):
        GridSegmenter(50)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="inputs"):
        GridSegmenter(4)(torch.zeros(3, 4, 4))
