"""``captum-nas train-explainer``: a tiny run, resume, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from captum_nas.cli import main
from captum_nas.explainer import explainer_checkpoint_info, load_explainer

TINY = [
    "--n-train",
    "8",
    "--n-val",
    "8",
    "--batch-size",
    "8",
    "--image-size",
    "32",
    "--no-progress",
]


@pytest.mark.slow
def test_tiny_run_writes_a_loadable_explainer_and_resumes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "e.pt"
    assert main(["train-explainer", "--epochs", "1", "--out", str(out), *TINY]) == 0
    assert "saved" in capsys.readouterr().out
    info = explainer_checkpoint_info(out)
    assert info["epochs_run"] == 1 and info["config"]["image_size"] == 32
    assert info["network"]["input_size"] == 32 and info["classifier"]["model"] == "reference"
    assert len(info["classifier"]["sha256"]) == 64
    net = load_explainer(out)
    assert net(torch.zeros(1, 3, 128, 128)).shape == (1, 6, 128, 128)
    # resume from the training checkpoint written next to --out: one more epoch only
    assert (tmp_path / "e.train.pt").is_file()
    args = ["train-explainer", "--epochs", "2", "--out", str(out), "--resume", *TINY]
    assert main(args) == 0
    info = explainer_checkpoint_info(out)
    assert info["epochs_run"] == 2
    assert [h["epoch"] for h in info["history"]] == [1.0, 2.0]


def test_bad_arguments_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["train-explainer", "--model", "resnet18", "--out", str(tmp_path / "e.pt")]) == 2
    assert "--model must be one of" in capsys.readouterr().err
    args = ["train-explainer", "--resume", "--out", str(tmp_path / "e.pt"), *TINY]
    assert main(args) == 2
    assert "no training checkpoint" in capsys.readouterr().err
    assert main(["train-explainer", "--epochs", "0", "--out", str(tmp_path / "e.pt")]) == 2
