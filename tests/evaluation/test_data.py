import numpy as np
import pytest
import torch
from skimage import io

from captum_nas.evaluation import FolderData
from captum_nas.images import Normalizer

NORM = Normalizer((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def _write(path, arr) -> None:  # type: ignore[no-untyped-def]
    io.imsave(str(path), arr, check_contrast=False)


def test_masks_give_boxes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    img = np.zeros((40, 80, 3), np.uint8)
    _write(tmp_path / "images" / "a.png", img)
    mask = np.zeros((40, 80), np.uint8)
    mask[10:20, 40:60] = 255  # rows 10..19, cols 40..59
    _write(tmp_path / "masks" / "a.png", mask)
    batch = next(FolderData(tmp_path, NORM, size=40, resize="stretch").batches(4))
    assert batch.images.shape == (1, 3, 40, 40)
    assert torch.allclose(batch.images, torch.full_like(batch.images, -1.0))
    # width halves (80 -> 40), height stays: x 20..29, y 10..19
    assert batch.boxes[0].tolist() == [[20, 10, 30, 20]]
    assert batch.object_masks is not None and int(batch.object_masks.sum()) == 100
    assert batch.labels.tolist() == [-1] and batch.names == ["a.png"]


def test_boxes_csv_scaled_and_several_boxes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path / "b.png", np.zeros((100, 50, 3), np.uint8))
    (tmp_path / "boxes.csv").write_text(
        "filename,x0,y0,x1,y1,label\nb.png,0,0,25,50,7\nb.png,25,50,50,100,7\n"
    )
    batch = next(FolderData(tmp_path, NORM, size=20, resize="stretch").batches(2))
    assert batch.boxes[0].tolist() == [[0, 0, 10, 10], [10, 10, 20, 20]]
    assert batch.labels.tolist() == [7] and batch.object_masks is None


def test_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="not found"):
        FolderData(tmp_path / "missing", NORM)
    with pytest.raises(ValueError, match="no images"):
        FolderData(tmp_path, NORM)
    _write(tmp_path / "c.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="neither a masks/ folder nor a boxes CSV"):
        FolderData(tmp_path, NORM)
    (tmp_path / "boxes.csv").write_text("name,x0,y0,x1,y1\n")
    with pytest.raises(ValueError, match="header"):
        FolderData(tmp_path, NORM)
    (tmp_path / "boxes.csv").write_text("filename,x0,y0,x1,y1\nc.png,5,0,2,4\n")
    with pytest.raises(ValueError, match="x1 > x0"):
        FolderData(tmp_path, NORM)
