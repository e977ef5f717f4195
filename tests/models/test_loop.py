"""Tests of the shared training loop: resume, early stopping, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from captum_nas.models.loop import CHECKPOINT_FORMAT, atomic_save, fit


class _Interrupt(Exception):
    pass


def _problem(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(32, 1, generator=g)
    torch.manual_seed(seed)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, opt, x, y


def _epoch_fn(model, opt, x, y, fail_at=None):
    def train_epoch(epoch: int) -> dict[str, float]:
        if epoch == fail_at:
            raise _Interrupt
        # random minibatch order: resume must restore the random state too
        order = torch.randperm(x.shape[0])
        total = 0.0
        for idx in order.split(8):
            opt.zero_grad()
            loss = ((model(x[idx]) - y[idx]) ** 2).mean()
            loss.backward()
            opt.step()
            total += loss.detach().item()
        return {"loss": total / 4}

    return train_epoch


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path: Path) -> None:
    model, opt, x, y = _problem()
    fit({"m": model}, opt, _epoch_fn(model, opt, x, y), epochs=5, progress=False)
    expected = model.weight.detach().clone()

    model, opt, x, y = _problem()
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Interrupt):
        fit(
            {"m": model},
            opt,
            _epoch_fn(model, opt, x, y, fail_at=3),
            epochs=5,
            checkpoint=ckpt,
            progress=False,
        )
    saved = torch.load(ckpt, weights_only=True)
    assert saved["format"] == CHECKPOINT_FORMAT
    assert [h["epoch"] for h in saved["history"]] == [1.0, 2.0]

    model2, opt2, _, _ = _problem(seed=1)  # different init: everything comes from the file
    log = fit(
        {"m": model2},
        opt2,
        _epoch_fn(model2, opt2, x, y),
        epochs=5,
        checkpoint=ckpt,
        resume=True,
        progress=False,
    )
    assert log.resumed_from == 2
    assert [h["epoch"] for h in log.history] == [1.0, 2.0, 3.0, 4.0, 5.0]
    torch.testing.assert_close(model2.weight.detach(), expected, rtol=0, atol=1e-6)


def test_early_stopping_restores_the_best_weights() -> None:
    model = nn.Linear(1, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    losses = iter([3.0, 1.0, 2.0, 2.5, 0.5])
    weights: list[float] = []

    def train_epoch(epoch: int) -> dict[str, float]:
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        weights.append(float(epoch))
        return {"loss": 0.0}

    log = fit(
        {"m": model},
        opt,
        train_epoch,
        lambda: next(losses),
        epochs=5,
        patience=2,
        progress=False,
    )
    # epoch 2 is best; epochs 3 and 4 do not improve -> stop before epoch 5
    assert log.stopped_early
    assert log.best_epoch == 2 and log.best_val_loss == 1.0
    assert weights == [1.0, 2.0, 3.0, 4.0]
    assert model.weight.item() == 2.0


def test_min_delta_counts_small_gains_as_no_improvement() -> None:
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    losses = iter([1.0, 0.99, 0.98, 0.97])
    log = fit(
        {"m": model},
        opt,
        lambda e: {"loss": 0.0},
        lambda: next(losses),
        epochs=4,
        patience=2,
        min_delta=0.05,
        progress=False,
    )
    assert log.stopped_early and len(log.history) == 3 and log.best_epoch == 1


def test_without_validation_keeps_last_weights() -> None:
    model = nn.Linear(1, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)

    def train_epoch(epoch: int) -> dict[str, float]:
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        return {"loss": float(epoch)}

    log = fit({"m": model}, opt, train_epoch, epochs=3, progress=False)
    assert model.weight.item() == 3.0 and log.best_epoch == 3 and math.isnan(log.best_val_loss)
    assert [h["loss"] for h in log.history] == [1.0, 2.0, 3.0]


def test_scheduler_state_survives_resume(tmp_path: Path) -> None:
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    ckpt = tmp_path / "c.pt"

    def step(opt: torch.optim.Optimizer) -> dict[str, float]:
        opt.step()
        return {"loss": 0.0}

    fit({"m": model}, opt, lambda e: step(opt), epochs=2, scheduler=sched,
        checkpoint=ckpt, progress=False)  # fmt: skip
    opt2 = torch.optim.SGD(model.parameters(), lr=1.0)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    fit({"m": model}, opt2, lambda e: step(opt2), epochs=3, scheduler=sched2,
        checkpoint=ckpt, resume=True, progress=False)  # fmt: skip
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.125)


def test_atomic_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = atomic_save({"a": torch.arange(3)}, tmp_path / "x.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]
    assert torch.load(path, weights_only=True)["a"].tolist() == [0, 1, 2]


def test_atomic_save_keeps_the_old_file_when_saving_fails(tmp_path: Path) -> None:
    path = atomic_save({"a": 1}, tmp_path / "x.pt")

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        atomic_save({"a": Unpicklable()}, path)
    assert torch.load(path, weights_only=True) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"modules": {}}, TypeError, "`modules`"),
        ({"modules": {"m": 3}}, TypeError, "`modules`"),
        ({"optimizer": "sgd"}, TypeError, "`optimizer`"),
        ({"epochs": 0}, ValueError, "`epochs`"),
        ({"patience": 0}, ValueError, "`patience`"),
        ({"min_delta": -1.0}, ValueError, "`min_delta`"),
        ({"resume": True}, FileNotFoundError, "`resume`"),
        ({"checkpoint": "/nonexistent-dir/x.pt"}, FileNotFoundError, "`checkpoint`"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, match) -> None:
    model = nn.Linear(1, 1)
    args = {
        "modules": {"m": model},
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
        "train_epoch": lambda e: {"loss": 0.0},
        "epochs": 2,
        "progress": False,
    }
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fit(**args)


def test_resume_refuses_a_checkpoint_of_other_modules(tmp_path: Path) -> None:
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ckpt = tmp_path / "c.pt"
    fit({"a": model}, opt, lambda e: {"loss": 0.0}, epochs=1, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="holds modules"):
        fit({"b": model}, opt, lambda e: {"loss": 0.0}, epochs=2, checkpoint=ckpt,
            resume=True, progress=False)  # fmt: skip
    atomic_save({"not": "ours"}, ckpt)
    with pytest.raises(ValueError, match="not a training checkpoint"):
        fit({"a": model}, opt, lambda e: {"loss": 0.0}, epochs=2, checkpoint=ckpt,
            resume=True, progress=False)  # fmt: skip
