"""Inputs of the command line: options (device, target, seed, integers), image files and
the boxes CSV of ``evaluate``. Every bad value is refused with one line that names the
option or the file (and line); no image is silently mis-read.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from captum_nas.cli import main
from captum_nas.cli.explain import resolve_target
from captum_nas.evaluation.data import FolderData
from captum_nas.images import IMAGENET_NORMALIZER, load_image, to_float_image

TINY = "tests.conftest:TinyCNN"
EXPLAIN = ["explain", "--model", TINY, "--image-size", "32", "--segmenter", "grid", "--quiet"]

#: subcommand -> arguments that are complete apart from the option under test
WITH_SEED = {
    "explain": EXPLAIN,
    "evaluate": ["evaluate", "--model", TINY, "--quiet"],
    "benchmark": ["benchmark", "--model", TINY],
    "train-reference": ["train-reference"],
    "train-guided": ["train-guided", "--out", "m.pt"],
    "train-explainer": ["train-explainer"],
}
WITH_DEVICE = ("explain", "evaluate", "benchmark")


def _one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize("command", WITH_DEVICE)
def test_device_meta_is_refused(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line([*WITH_SEED[command], "--device", "meta"], capsys)
    assert "argument --device: 'meta' is a device without data" in err


@pytest.mark.parametrize("command", sorted(WITH_SEED))
@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("-1", "must be >= 0, got -1"),
        (str(2**31), "must be <= 2**31 - 1 = 2147483647, got 2147483648"),
        (str(2**64), "must be <= 2**31 - 1"),
        ("\uff11", "expected an integer, got '\uff11' (write numbers with the ASCII digits 0-9)"),
        ("1.5", "expected an integer, got '1.5'"),
    ],
    ids=["negative", "2**31", "2**64", "fullwidth-1", "float"],
)
def test_seed_out_of_range_names_the_option(
    command: str, seed: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line([*WITH_SEED[command], "--seed", seed], capsys)
    assert "argument --seed: " + message in err, err


@pytest.mark.parametrize("method", ["gradient-shap", "lime"])
def test_the_largest_seed_runs(
    method: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # scikit-image's quickshift takes its seed as a C int: 2**31 - 1 is the largest
    argv = [*EXPLAIN, "--segmenter", "quickshift", "--method", method, "--n-segments", "4"]
    argv += ["--n-steps", "4", "--seed", str(2**31 - 1), "--out", str(tmp_path)]
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "chelsea.json").is_file()


@pytest.mark.parametrize(
    "text",
    ["\uff13", "٣", "۳", "²", "1\uff13"],
    ids=["fullwidth", "arabic-indic", "persian", "sup", "mixed"],
)
def test_target_with_non_ascii_digits_is_refused(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line([*EXPLAIN, "--target", text], capsys)
    assert f"--target {text!r} is neither a class name nor a class index" in err
    assert "ASCII digits 0-9" in err


def test_target_ascii_index_and_name_still_work() -> None:
    names = ("cat", "dog", "class 3", "owl")
    assert resolve_target("3", names) == 3 and resolve_target(" +1 ", names) == 1
    assert resolve_target("CLASS 3", names) == 2  # a name with a digit


def test_integer_options_want_ascii_digits(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line([*EXPLAIN, "--n-segments", "٤"], capsys)
    assert "argument --n-segments: expected an integer, got '٤'" in err


# ----------------------------------------------------------------------------- images


def _save(path: Path, image: Image.Image, **kwargs: object) -> Path:
    image.save(path, **kwargs)
    return path


def test_cmyk_jpeg_keeps_its_colours(tmp_path: Path) -> None:
    rgb = (200, 40, 90)
    path = _save(tmp_path / "cmyk.jpg", Image.new("RGB", (16, 16), rgb).convert("CMYK"))
    assert Image.open(path).mode == "CMYK"
    img = load_image(path, size=None)
    expected = torch.tensor(rgb, dtype=torch.float32)[:, None, None] / 255
    assert img.shape == (3, 16, 16)
    assert (img - expected).abs().max() < 4 / 255  # JPEG rounding; inverted would be > 0.5


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("P", None, (0.2, 0.4, 0.6)),  # palette
        ("LA", None, (0.2, 0.2, 0.2)),  # grey + alpha: 2 channels in the file
        ("I;16", 13107, (0.2, 0.2, 0.2)),  # 16-bit grey: 13107 / 65535
        ("F", 0.25, (0.25, 0.25, 0.25)),  # float grey in [0, 1]
    ],
)
def test_other_modes_read_by_pillow_conversions(
    tmp_path: Path, mode: str, value: float | None, expected: tuple[float, ...]
) -> None:
    if mode == "P":
        image = Image.new("RGB", (4, 4), (51, 102, 153)).convert("P")
    elif mode == "LA":
        image = Image.new("LA", (4, 4), (51, 128))
    else:
        image = Image.new(mode, (4, 4), value)
    path = _save(tmp_path / ("x.tif" if mode == "F" else "x.png"), image)
    img = load_image(path, size=None)
    assert torch.allclose(img[:, 0, 0], torch.tensor(expected), atol=1e-3), img[:, 0, 0]


def test_float_image_above_one_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _save(tmp_path / "bright.tif", Image.new("F", (4, 4), 200.0))
    with pytest.raises(ValueError, match=re.escape(f"cannot read {path} as an image: float")):
        load_image(path)
    for bad in (np.full((2, 2), 200.0), np.full((2, 2), -0.5), np.full((2, 2), np.nan)):
        with pytest.raises(ValueError, match="float image values must"):
            to_float_image(bad)
    with pytest.raises(TypeError, match="got dtype int64"):
        to_float_image(np.zeros((2, 2), dtype=np.int64))
    assert to_float_image(np.full((2, 2), 1.0 + 1e-6)).max() == 1.0  # rounding: clamped


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(path: Path) -> Path:
    _save(path, Image.new("RGB", (64, 64), (10, 20, 30)))
    path.write_bytes(path.read_bytes()[:60])
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda d: _written(d / "empty.png", b""),
        lambda d: _written(d / "text.jpg", b"no image"),
        lambda d: _truncated(d / "cut.png"),
        lambda d: _truncated(d / "cut.jpg"),
        lambda d: (
            _save(d / "two.png", Image.new("RGB", (4, 4))).rename(d / "two.webp") or d / "two.webp"
        ),
    ],
    ids=["empty", "text", "truncated-png", "truncated-jpeg", "wrong-suffix"],
)
def test_unreadable_files_are_named(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    if path.suffix == ".webp":  # Pillow reads by content: a PNG named .webp is fine
        assert load_image(path, size=None).shape == (3, 4, 4)
        return
    with pytest.raises(ValueError, match=re.escape(f"cannot read {path} as an image")):
        load_image(path)


def test_explain_names_the_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _truncated(tmp_path / "cut.png")
    argv = [*EXPLAIN, str(bad), "--on-error", "fail", "--out", str(tmp_path / "o")]
    err = _one_line(argv, capsys)
    assert f"cannot read {bad} as an image" in err


# ----------------------------------------------------------------------------- boxes CSV


def _folder(root: Path, rows: str) -> Path:
    root.mkdir()
    for i in range(2):
        _save(root / f"im{i}.png", Image.new("RGB", (24, 24), (i * 90, 60, 30)))
    (root / "boxes.csv").write_text("filename,x0,y0,x1,y1,label\n" + rows)
    return root


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("im1.png,nan,2,20,20,0", "line 3: column x0 must be a finite number, got 'nan'"),
        ("im1.png,2,NaN,20,20,0", "line 3: column y0 must be a finite number, got 'NaN'"),
        ("im1.png,2,2,inf,20,0", "line 3: column x1 must be a finite number, got 'inf'"),
        ("im1.png,2,2,20,,0", "line 3: column y1 must be a number, got ''"),
        ("im1.png,2,2,20,abc,0", "line 3: column y1 must be a number, got 'abc'"),
        ("im1.png,2,2,20,20,5", "line 3: label 5 is out of range: the model has 5 classes"),
        ("im1.png,2,2,20,20,99999999999999999999", "line 3: label 99999999999999999999 is out"),
        ("im1.png,2,2,20,20,-1", "line 3: label must be a class index (digits 0-9) or empty"),
        ("im1.png,2,2,20,20,1.5", "line 3: label must be a class index (digits 0-9) or empty"),
        ("im1.png,2,2,20,20,\uff13", "line 3: label must be a class index (digits 0-9) or empty"),
    ],
    ids=["nan-x0", "nan-y0", "inf", "empty", "text", "label-5", "label-huge", "label-neg",
         "label-float", "label-fullwidth"],
)  # fmt: skip
def test_boxes_csv_rejects_with_file_line_and_value(tmp_path: Path, row: str, message: str) -> None:
    root = _folder(tmp_path / "data", "im0.png,2,2,20,20,1\n" + row + "\n")
    with pytest.raises(ValueError) as info:
        FolderData(root, IMAGENET_NORMALIZER, size=32, n_classes=5)
    assert str(info.value).startswith(f"boxes CSV {root / 'boxes.csv'}, line 3: ")
    assert message in str(info.value), str(info.value)


def test_boxes_csv_labels_in_range_and_empty_are_read(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", "im0.png,2,2,20,20,4\nim1.png,0,0,12,12,\n")
    data = FolderData(root, IMAGENET_NORMALIZER, size=24, n_classes=5)
    batch = next(data.batches(2))
    assert batch.labels.tolist() == [4, -1]
    assert [b.tolist() for b in batch.boxes] == [[[2, 2, 20, 20]], [[0, 0, 12, 12]]]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("im1.png,nan,2,20,20,0", "line 3: column x0 must be a finite number, got 'nan'"),
        ("im1.png,2,2,20,20,9", "line 3: label 9 is out of range: the model has 5 classes"),
    ],
    ids=["nan", "label"],
)
def test_evaluate_boxes_csv_errors_are_one_line(
    tmp_path: Path, row: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _folder(tmp_path / "data", "im0.png,2,2,20,20,1\n" + row + "\n")
    argv = ["evaluate", "--dataset", str(root), "--model", TINY, "--methods", "saliency"]
    argv += ["--segmenters", "none", "--no-curves", "--quiet", "--out", str(tmp_path / "o")]
    err = _one_line(argv, capsys)
    assert f"boxes CSV {root / 'boxes.csv'}, {message}" in err, err
