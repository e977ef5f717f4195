"""``captum-nas train-reference``: a tiny run whose checkpoint the other commands load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from captum_nas.cli import main
from captum_nas.models.loading import load_model


@pytest.mark.slow
def test_train_then_load_as_reference_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "ref.pt"
    argv = ["train-reference", "--epochs", "1", "--n-train", "16", "--batch-size", "8"]
    argv += ["--image-size", "32", "--seed", "1", "--out", str(ckpt)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"saved {ckpt}")
    summary = json.loads(out.split(str(ckpt), 1)[1])
    assert set(summary) == {"test_accuracy", "seconds"}
    saved = torch.load(ckpt, weights_only=True)
    loaded = load_model("reference", weights=ckpt)
    assert loaded.input_size == 32 and loaded.weights_sha256 is not None
    state = loaded.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved["state_dict"].items())
