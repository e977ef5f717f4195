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


def test_crop_is_the_default_and_boxes_and_masks_follow_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "masks").mkdir()
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 255  # the centre square of the 40 x 80 image is white
    _write(tmp_path / "a.png", img)
    mask = np.zeros((40, 80), np.uint8)
    mask[10:20, 40:70] = 255  # x 40..69: after the centre crop (x 20..59) x 20..39
    _write(tmp_path / "masks" / "a.png", mask)
    data = FolderData(tmp_path, NORM, size=20)
    batch = next(data.batches(4))
    # 40 x 80 -> 20 x 40, centre 20 x 20 window at x 10..29: white (the antialiased
    # border columns blend with the black outside the crop)
    inner = batch.images[..., 1:-1]
    assert torch.allclose(inner, torch.ones_like(inner))
    assert bool((batch.images[..., [0, -1]] < 1).all())
    assert batch.boxes[0].tolist() == [[10, 5, 20, 10]]
    assert batch.object_masks is not None and int(batch.object_masks.sum()) == 50
    (tmp_path / "boxes.csv").write_text("filename,x0,y0,x1,y1\na.png,0,0,10,40\n")
    with pytest.raises(ValueError, match="outside the centre crop"):
        next(FolderData(tmp_path, NORM, size=20, on_error="fail").batches(4))


def test_prepare_image_modes() -> None:
    from torchvision.transforms.v2 import functional as TF

    from captum_nas.evaluation.data import prepare_image, resize_geometry
    from captum_nas.images import resize_image

    for shape in ((30, 50), (51, 30), (40, 40)):
        img = torch.rand(3, *shape, generator=torch.Generator().manual_seed(0))
        # crop: torchvision's ImageNet evaluation transform (resize, then centre crop)
        expected = TF.center_crop(TF.resize(img, [16], antialias=True), [16, 16])
        assert torch.allclose(prepare_image(img, 16, "crop"), expected.clamp(0, 1), atol=1e-6)
    assert torch.equal(prepare_image(img, 16, "stretch"), resize_image(img, (16, 16)))
    # 30 x 50 to 15: 15 x 25, window at x 5; 51 x 30 to 16: 27 x 16 (27.2 truncated), y 6
    assert resize_geometry(30, 50, 15, "crop") == (15, 25, 0, 5)
    assert resize_geometry(51, 30, 16, "crop") == (27, 16, 6, 0)
    with pytest.raises(ValueError, match="resize"):
        resize_geometry(30, 50, 15, "pad")


def test_unreadable_files_are_skipped_or_fail_and_subfolders_are_optional(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sub").mkdir()
    for name in ("a.png", "b.png", "sub/c.png"):
        _write(tmp_path / name, np.full((8, 8, 3), 128, np.uint8))
    (tmp_path / "broken.png").write_text("not an image")
    (tmp_path / "boxes.csv").write_text(
        "filename,x0,y0,x1,y1,label\na.png,0,0,4,4,1\nb.png,0,0,8,8,2\nsub/c.png,2,2,6,6,3\n"
    )
    data = FolderData(tmp_path, NORM, size=8, recursive=True)
    batches = list(data.batches(2))
    assert [b.names for b in batches] == [["a.png", "b.png"], ["sub/c.png"]]
    assert [b.labels.tolist() for b in batches] == [[1, 2], [3]]
    assert [name for name, _ in data.skipped] == ["broken.png"]
    assert "cannot read" in data.skipped[0][1]
    assert data.max_label == 3
    with pytest.raises(ValueError, match="cannot read"):
        list(FolderData(tmp_path, NORM, size=8, recursive=True, on_error="fail").batches(2))
    # without recursion the CSV names a file that is not an image of the folder
    with pytest.raises(ValueError, match=r"1 file\(s\) that are not images.*sub/c.png"):
        FolderData(tmp_path, NORM, size=8)


def test_boxes_csv_checks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    csv = tmp_path / "boxes.csv"
    csv.write_text("filename,x0,y0,x1,y1,label\na.png,0,0,4,4,-3\n")
    with pytest.raises(ValueError, match="line 2: label must be a class index"):
        FolderData(tmp_path, NORM)
    csv.write_text("filename,x0,y0,x1,y1,label\na.png,0,0,4,4,1\na.png,1,1,4,4,2\n")
    with pytest.raises(ValueError, match=r"line 3: a\.png has label 2 here and 1"):
        FolderData(tmp_path, NORM)
    csv.write_text("filename,x0,y0,x1,y1\na.png,-1,0,4,4\n")
    with pytest.raises(ValueError, match="negative coordinate"):
        FolderData(tmp_path, NORM)
    csv.write_text("filename,x0,y0,x1,y1\na.png,zero,0,4,4\n")
    with pytest.raises(ValueError, match="line 2"):
        FolderData(tmp_path, NORM)
