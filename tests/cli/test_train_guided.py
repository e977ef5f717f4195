"""``captum-nas train-guided``: trains, checkpoints, resumes, saves a loadable model."""

from __future__ import annotations

from pathlib import Path

import pytest

from captum_nas.cli import main
from captum_nas.guidance.flowers import load_model

ARGS = [
    "train-guided",
    "--n-train",
    "8",
    "--n-labelled",
    "2",
    "--image-size",
    "32",
    "--batch-size",
    "4",
    "--labelled-per-batch",
    "1",
    "--background",
    "0",
    "--no-progress",
]


@pytest.mark.slow
def test_train_resume_and_save(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, out = tmp_path / "train.ckpt", tmp_path / "guided.pt"
    assert main([*ARGS, "--epochs", "1", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    assert ckpt.is_file() and "class_iou" in capsys.readouterr().out
    code = main(
        [
            *ARGS,
            "--epochs",
            "2",
            "--checkpoint",
            str(ckpt),
            "--resume",
            "--out",
            str(out),
            "--memory-saving",
        ]
    )
    assert code == 0
    model, meta = load_model(out)
    assert model.training is False
    assert meta["kind"] == "guided" and len(meta["history"]) == 2
    assert meta["call"].startswith("captum-nas train-guided --n-train 8")
    assert set(meta["test"]) == {"class_iou", "foreground_iou", "miou", "accuracy"}


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "m.pt")
    assert main([*ARGS, "--n-labelled", "20", "--out", out]) == 2
    assert "n_labelled" in capsys.readouterr().err
    assert main([*ARGS, "--resume", "--checkpoint", str(tmp_path / "none.ckpt"), "--out", out]) == 2
