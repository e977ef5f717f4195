"""End-to-end tests of ``captum-nas explain`` through ``captum_nas.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from captum_nas.cli import main
from captum_nas.cli.explain import resolve_target

TINY = "tests.conftest:TinyCNN"
CAT_CLASSES = {"Egyptian cat", "tabby", "tiger cat", "Persian cat", "Siamese cat", "lynx"}


def _check_record(rec: dict, top_k: int) -> None:
    scores = rec["segment_scores"]
    assert rec["n_segments"] == len(scores) > top_k
    assert len(rec["top_k"]) == top_k
    ranked = [scores[i] for i in rec["top_k"]]
    assert ranked == sorted(ranked, reverse=True)
    assert max(s for s in scores if s == s) == ranked[0]
    assert set(rec["timing"]) == {"segmentation_s", "attribution_s", "total_s"}


def test_default_image_saliency_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["explain", "--method", "saliency", "--out", str(tmp_path), "--top-k", "4"])
    assert code == 0
    png, js = tmp_path / "chelsea.png", tmp_path / "chelsea.json"
    assert png.is_file() and js.is_file()
    assert io.imread(png).ndim == 3
    rec = json.loads(js.read_text())
    assert rec["prediction"] in CAT_CLASSES
    assert rec["prediction"] == "Egyptian cat"
    assert rec["target"] == rec["prediction"] and rec["target_index"] == 285
    assert 0.0 < rec["probability"] <= 1.0
    assert (rec["method"], rec["segmenter"], rec["model"]) == (
        "saliency",
        "nas",
        "efficientnet-lite0",
    )
    _check_record(rec, 4)
    assert all(s >= 0 for s in rec["segment_scores"])  # pooled |gradient|
    out = capsys.readouterr().out
    assert "Egyptian cat" in out and str(png) in out


def test_ig_with_target_name_and_grid(tmp_path: Path) -> None:
    code = main(
        [
            "explain",
            "--method",
            "ig",
            "--n-steps",
            "4",
            "--segmenter",
            "grid",
            "--n-segments",
            "16",
            "--target",
            "tabby",
            "--image-size",
            "160",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    rec = json.loads((tmp_path / "chelsea.json").read_text())
    assert rec["target"] == "tabby" and rec["target_index"] == 281
    assert rec["n_segments"] == 16
    _check_record(rec, 5)


def _write_images(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"img{i}.png"
        io.imsave(p, rng.integers(0, 255, (40, 48, 3), dtype=np.uint8), check_contrast=False)
        paths.append(p)
    (folder / "notes.txt").write_text("not an image, skipped in folders")
    return paths


@pytest.mark.parametrize("method", ["gradcam", "lime", "occlusion"])
def test_folder_of_images_with_tiny_model(
    tmp_path: Path, method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_images(tmp_path / "imgs", 2)
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(tmp_path / "imgs"),
            "--model",
            TINY,
            "--method",
            method,
            "--segmenter",
            "grid",
            "--n-segments",
            "9",
            "--image-size",
            "32",
            "--top-k",
            "3",
            "--n-steps",
            "16",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    for stem in ("img0", "img1"):
        rec = json.loads((out / f"{stem}.json").read_text())
        assert rec["prediction"].startswith("class ")
        _check_record(rec, 3)
        assert (out / f"{stem}.png").is_file()
    assert capsys.readouterr().out.count("->") == 2


def test_segmenter_none_uses_plain_captum(tmp_path: Path) -> None:
    code = main(
        [
            "explain",
            "sample:coffee",
            "--model",
            TINY,
            "--method",
            "saliency",
            "--segmenter",
            "none",
            "--image-size",
            "32",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    rec = json.loads((tmp_path / "coffee.json").read_text())
    assert rec["segment_scores"] is None and rec["top_k"] is None and rec["n_segments"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.png"], "not found"),
        (["--model", "no-such-model"], "unknown model"),
        (["--model", "resnet18"], "needs --weights"),
        (["--model", "no_such_module_xyz:f"], "cannot import"),
        (["--method", "magic"], "unknown method"),
        (["--segmenter", "magic"], "unknown segmenter"),
        (["--model", TINY, "--method", "gradcam", "--layer", "layer9"], "layer9"),
        (["--model", TINY, "--target", "99"], "out of range"),
        (["--model", TINY, "--target", "zebra"], "neither a class index"),
        (["--method", "lime", "--segmenter", "none"], "works on segments"),
        (["--top-k", "0"], "top-k"),
        (["--n-segments", "-3"], "n-segments"),
        (["sample:nothing"], "unknown sample"),
    ],
)
def test_bad_input_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["explain", *argv, "--image-size", "32", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("captum-nas explain: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_not_an_image_and_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    assert main(["explain", str(fake), "--model", TINY, "--out", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["explain", str(empty), "--out", str(tmp_path)]) == 2
    assert "no images" in capsys.readouterr().err


def test_resolve_target() -> None:
    names = ("cat", "dog", "Egyptian cat")
    assert resolve_target(None, names) is None
    assert resolve_target("2", names) == 2
    assert resolve_target("egyptian CAT", names) == 2
    with pytest.raises(Exception, match="did you mean 'dog'"):
        resolve_target("dgo", names)
