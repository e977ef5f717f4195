"""Flowers experiment pieces: guided training (loop, resume), baseline, evaluation, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from captum_nas.guidance.flowers import (
    FlowerSet,
    GuidedRun,
    SegNetRun,
    SmallSegNet,
    evaluate_segmenter,
    flower_set,
    load_model,
    lrp_segmenter,
    save_model,
    segnet_segmenter,
    train_guided,
    train_segnet,
)
from captum_nas.models.reference import FlowerCNN

TINY = GuidedRun(
    n_train=8,
    n_labelled=2,
    image_size=32,
    epochs=1,
    batch_size=4,
    labelled_per_batch=1,
    n_val=4,
    background=0.0,
)


def test_perfect_and_empty_segmenters() -> None:
    data = flower_set(6, split="test", image_size=32)
    one_hot = torch.nn.functional.one_hot(data.labels, 6).float()

    def perfect(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i = [
            int(torch.nonzero((data.images == images[k]).flatten(1).all(1))[0])
            for k in range(len(images))
        ]
        return data.targets[i], one_hot[i]

    scores = evaluate_segmenter(perfect, data, batch_size=4)
    assert scores == {"class_iou": 1.0, "foreground_iou": 1.0, "miou": 1.0, "accuracy": 1.0}

    def nothing(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(images)
        return torch.zeros(n, 32, 32, dtype=torch.long), torch.zeros(n, 6)

    empty = evaluate_segmenter(nothing, data)
    assert empty["class_iou"] == 0.0 and empty["foreground_iou"] == 0.0


def test_guided_training_runs_and_resumes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FlowerCNN(6, widths=(4, 4, 8, 8, 8))
    ckpt = tmp_path / "train.ckpt"
    model, log, bg = train_guided(TINY, model=model, checkpoint=ckpt, progress=False)
    assert bg == 0.0 and len(log.history) == 1 and ckpt.is_file()
    assert {"loss", "classification", "segmentation", "train_accuracy", "val_loss"} <= set(
        log.history[0]
    )
    again = FlowerCNN(6, widths=(4, 4, 8, 8, 8))
    _, resumed, _ = train_guided(
        GuidedRun(**{**TINY.__dict__, "epochs": 2}),
        model=again,
        checkpoint=ckpt,
        resume=True,
        progress=False,
    )
    assert resumed.resumed_from == 1 and len(resumed.history) == 2
    assert resumed.history[0] == log.history[0]


def test_segnet_shapes_training_and_checkpoint_roundtrip(tmp_path: Path) -> None:
    assert SmallSegNet(7)(torch.zeros(2, 3, 32, 32)).shape == (2, 7, 32, 32)
    net, log = train_segnet(
        SegNetRun(n_labelled=2, image_size=32, steps=10, batch_size=2), progress=False
    )
    assert len(log.history) == 10
    path = save_model(
        net, tmp_path / "segnet.pt", {"kind": "segnet", "n_labels": 7, "widths": list(net.widths)}
    )
    loaded, meta = load_model(path)
    assert meta["kind"] == "segnet" and isinstance(loaded, SmallSegNet)
    x = flower_set(2, split="test", image_size=32).images
    pred, scores = segnet_segmenter(loaded)(x)  # type: ignore[arg-type]
    assert pred.shape == (2, 32, 32) and scores.shape == (2, 6)
    # float16 storage: outputs agree with the float32 net to half precision
    torch.testing.assert_close(loaded(x), net(x), rtol=2e-2, atol=2e-2)


def test_guided_checkpoint_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FlowerCNN(6, widths=(4, 4, 8, 8, 8)).eval()
    path = save_model(
        model,
        tmp_path / "g.pt",
        {"kind": "guided", "n_classes": 6, "widths": list(model.widths), "background": 0.0},
    )
    loaded, meta = load_model(path)
    assert isinstance(loaded, FlowerCNN) and meta["background"] == 0.0
    data = flower_set(2, split="test", image_size=32)
    labels, logits = lrp_segmenter(loaded)(data.images)
    assert labels.shape == (2, 32, 32) and logits.shape == (2, 6)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot read .*junk\.pt as a guided-flowers checkpoint"):
        load_model(tmp_path / "junk.pt")
    torch.save({"state_dict": model.state_dict()}, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="not a guided-flowers checkpoint"):
        load_model(tmp_path / "bare.pt")


def test_bad_runs() -> None:
    with pytest.raises(ValueError, match="n_labelled"):
        GuidedRun(n_train=4, n_labelled=5)
    with pytest.raises(ValueError, match="background"):
        GuidedRun(background="auto")
    assert "--memory-saving" in GuidedRun(memory_saving=True).command()
    with pytest.raises(ValueError, match="weight_decay"):
        GuidedRun(weight_decay=-1.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_labelled": 0}, "n_labelled"),
        ({"image_size": 16}, "image_size"),
        ({"image_size": 34}, "divisible by 4"),
        ({"seed": -1}, "seed"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
    ],
)
def test_bad_segnet_runs(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        SegNetRun(**kwargs)  # type: ignore[arg-type]
    assert isinstance(FlowerSet(torch.zeros(1), torch.zeros(1), torch.zeros(1)).__len__(), int)
