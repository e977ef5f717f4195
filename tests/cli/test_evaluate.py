"""End-to-end tests of ``captum-nas evaluate`` through ``captum_nas.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from captum_nas.cli import main
from captum_nas.models.reference import reference_checkpoint_path

TINY = "tests.conftest:TinyCNN"


def test_flowers_with_the_ground_truth_metric_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", "--methods", "Saliency,IG", "--segmenters", "none,GRID"]
    argv += ["--num-images", "4", "--batch-size", "2", "--n-steps", "4", "--no-curves"]
    argv += ["--ground-truth", "part", "--image-size", "64", "--n-segments", "16"]
    assert main([*argv, "--out", str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["n_images"] == 4 and report["ground_truth"] == "part"
    pairs = {(r["method"], r["segmenter"]) for r in report["rows"]}
    assert pairs == {(m, s) for m in ("saliency", "integrated-gradients") for s in ("none", "grid")}
    for row in report["rows"]:
        assert 0.0 <= row["gt_iou_best"] <= 1.0 and 0.0 <= row["gt_roc_auc"] <= 1.0
        assert row["gt_iou_mean"] <= row["gt_iou_best"]
    assert len(report["iou_curves"]) == 4 and (tmp_path / "iou_curves.png").is_file()
    assert "gt_iou_best" in capsys.readouterr().out
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["model"]["name"] == "reference" and settings["ground_truth"] == "part"
    assert settings["methods"] == ["saliency", "integrated-gradients"]
    assert (settings["seed"], settings["image_size"], settings["n_steps"]) == (0, 64, 4)
    # the same run with the short option name gives the same numbers
    argv[argv.index("--num-images")] = "--n"
    assert main([*argv, "--out", str(tmp_path / "again"), "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert again["rows"] == report["rows"]


def _folder(root: Path, label: int) -> Path:
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        img = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
        io.imsave(root / f"im{i}.png", img, check_contrast=False)
    (root / "bad.png").write_text("no image")
    rows = "".join(f"im{i}.png,2,2,20,20,{label if i == 2 else 0}\n" for i in range(3))
    (root / "boxes.csv").write_text("filename,x0,y0,x1,y1,label\n" + rows)
    return root


def test_folder_skips_bad_files_and_checks_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _folder(tmp_path / "data", label=1)
    argv = ["evaluate", "--dataset", str(data), "--model", TINY, "--methods", "saliency"]
    argv += ["--segmenters", "none", "--no-curves", "--image-size", "32", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert json.loads((tmp_path / "out" / "results.json").read_text())["n_images"] == 3
    assert "evaluated 3 of 4 images; skipped 1: bad.png" in captured.err
    assert main([*argv, "--on-error", "fail", "--out", str(tmp_path / "o2")]) == 2
    assert "bad.png" in capsys.readouterr().err
    wrong = _folder(tmp_path / "wrong", label=9)  # TinyCNN has 5 classes
    assert main([*argv[:2], str(wrong), *argv[3:], "--out", str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err
    assert "label 9 is out of range" in err and "5 classes" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "saliency,magic"], "unknown method 'magic'"),
        (["--methods", "saliency,SALIENCY"], "names repeat"),
        (["--segmenters", "nas,slik"], "did you mean 'slic'"),
        (["--methods", "saliency", "--layer", "layer1"], "--layer is not used by any"),
        (["--dataset", "flowerz"], "did you mean 'flowers'"),
        (["--num-images", "0"], "must be >= 1"),
        (["--ground-truth", "box"], "invalid choice"),
        (["--nproc", "2"], "unrecognized arguments"),  # no abbreviations
    ],
)
def test_bad_options_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["evaluate", "--model", TINY, *argv, "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_flowers_double_is_paired_with_its_own_model(capsys: pytest.CaptureFixture[str]) -> None:
    from captum_nas.evaluation.datasets import get_dataset

    assert get_dataset("flowers-double").default_model == "reference-double"
    if reference_checkpoint_path("double").is_file():
        pytest.skip("the reference-double checkpoint is shipped: covered by the flowers run")
    assert main(["evaluate", "--dataset", "flowers-double", "--num-images", "2"]) == 2
    err = capsys.readouterr().err
    assert "--model reference-double: no checkpoint is shipped" in err
