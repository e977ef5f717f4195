"""fit_explainer: learns on a toy task, leaves the classifier alone, resumes, rejects bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from captum_nas.explainer import ExplainerNet, fit_explainer, load_explainer, save_explainer
from captum_nas.explainer.training import FlowersBatches


class _ColourClassifier(nn.Module):
    """Logit k = mean of channel k minus the mean of the others (class = brightest channel)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_((torch.eye(3) * 1.5 - 0.5).view(3, 3, 1, 1) * 4)
        self.bn = nn.BatchNorm2d(3)  # its running stats must not move while training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x)).mean((2, 3))


def _data(n_batches: int = 2, n: int = 4, size: int = 16, seed: int = 0) -> list:
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        labels = torch.randint(0, 3, (n,), generator=g)
        images = torch.randn(n, 3, size, size, generator=g) * 0.1
        images[torch.arange(n), labels, 4:12, 4:12] += 2.0  # a square of the class colour
        batches.append((images, labels))
    return batches


def _nets(seed: int = 0) -> tuple[nn.Module, ExplainerNet]:
    torch.manual_seed(seed)
    return _ColourClassifier().eval(), ExplainerNet(3, widths=(4, 4, 4, 4))


def _snapshot(model: nn.Module) -> tuple:
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
    )


def _fit_three_epochs(clf: nn.Module, net: nn.Module, train: Any, **options: Any) -> Any:
    """Three epochs at lr 1e-2 on ``train``, validated on one seeded batch, no early stop."""
    return fit_explainer(
        clf,
        net,
        train,
        _data(1, seed=1),
        epochs=3,
        lr=1e-2,
        patience=None,
        progress=False,
        **options,
    )


def test_training_leaves_the_classifier_alone_and_lowers_the_loss(tmp_path: Path) -> None:
    clf, net = _nets()
    clf.conv.weight.requires_grad_(True)
    before = _snapshot(clf)
    log = _fit_three_epochs(clf, net, _data(), checkpoint=tmp_path / "c.pt")
    after = _snapshot(clf)
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert before[1:] == after[1:]
    assert not clf._forward_hooks and not net.training
    assert [h["epoch"] for h in log.history] == [1.0, 2.0, 3.0]
    assert log.history[-1]["loss"] < log.history[0]["loss"]
    assert {
        "classification",
        "entropy",
        "tv",
        "area",
        "mean_target",
        "mean_nontarget",
        "masked_accuracy",
        "val_masked_accuracy",
        "val_loss",
    } <= set(log.history[0])
    assert (tmp_path / "c.pt").is_file()


class _Interrupt(Exception):
    pass


class _Stopping(list):
    """The training data, raising in the middle of epoch ``stop`` (a killed run)."""

    def __init__(self, batches: list, stop: int) -> None:
        super().__init__(batches)
        self.stop = stop
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i, batch in enumerate(super().__iter__()):
            if self.epoch == self.stop and i == 1:
                raise _Interrupt
            yield batch


def test_interrupted_training_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.pt"
    clf, full = _nets()
    reference = _fit_three_epochs(clf, full, _data())
    clf, net = _nets()
    with pytest.raises(_Interrupt):
        _fit_three_epochs(clf, net, _Stopping(_data(), stop=3), checkpoint=ckpt)
    finished = torch.load(ckpt, weights_only=True)["history"]
    assert [h["epoch"] for h in finished] == [1.0, 2.0]
    clf, resumed_net = _nets(seed=123)  # fresh weights: everything must come from the file
    log = _fit_three_epochs(clf, resumed_net, _data(), checkpoint=ckpt, resume=True)
    assert log.resumed_from == 2
    assert [h["epoch"] for h in log.history] == [1.0, 2.0, 3.0]
    for ours, theirs in zip(log.history, reference.history):
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-5)
        assert ours["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-5)
    for key, value in full.state_dict().items():
        assert torch.allclose(resumed_net.state_dict()[key], value, atol=1e-6), key


def test_bad_input_gives_clear_errors(tmp_path: Path) -> None:
    clf, _ = _nets()
    with pytest.raises(ValueError, match=r"class count mismatch.*3 outputs.*5 masks"):
        fit_explainer(clf, ExplainerNet(5, widths=(4, 4, 4, 4)), _data(), epochs=1, progress=False)

    class _Small(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x)[:, :, ::2, ::2]

    with pytest.raises(ValueError, match=r"masks of shape \(1, 3, 8, 8\)"):
        fit_explainer(clf, _Small(), _data(), epochs=1, progress=False)
    bad = _data()
    bad[1] = (bad[1][0], torch.tensor([0, 1, 7, 2]))
    _, net = _nets()
    before = _snapshot(clf)
    with pytest.raises(
        ValueError, match=r"`train_data` batch 1: `labels` must hold class ids in \[0, 3\)"
    ):
        fit_explainer(clf, net, bad, epochs=1, progress=False)
    assert before[1:] == _snapshot(clf)[1:]  # flags and modes restored after the error
    with pytest.raises(ValueError, match="unknown loss weights"):
        fit_explainer(clf, net, _data(), epochs=1, progress=False, tv=1.0)
    with pytest.raises(FileNotFoundError, match="resume"):
        fit_explainer(
            clf,
            net,
            _data(),
            epochs=1,
            progress=False,
            resume=True,
            checkpoint=tmp_path / "none.pt",
        )


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    _, net = _nets()
    path = save_explainer(net, tmp_path / "e.pt", {"seed": 0})
    loaded = load_explainer(path)
    x = torch.randn(1, 3, 16, 16)
    assert torch.equal(loaded(x), net.eval()(x))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        load_explainer(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_explainer(tmp_path / "missing.pt")


def test_flowers_batches_new_order_each_epoch_same_samples() -> None:
    data = FlowersBatches(6, batch_size=4, image_size=32, seed=0)
    data.set_epoch(1)
    first = torch.cat([y for _, y in data])
    data.set_epoch(2)
    second = torch.cat([y for _, y in data])
    data.set_epoch(1)
    again = torch.cat([y for _, y in data])
    assert len(data) == 2 and torch.equal(first, again)
    assert sorted(first.tolist()) == sorted(second.tolist())
