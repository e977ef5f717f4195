import pytest
import torch
from torch import nn

from captum_nas.datasets import render_flowers
from captum_nas.models import (
    FlowerCNN,
    TrainingHistory,
    evaluate_accuracy,
    load_reference,
    save_reference,
    train_reference,
)

TINY = {"epochs": 2, "n_train": 12, "batch_size": 6, "image_size": 32, "n_test": 6}


def _train(**kwargs):
    return train_reference("single", progress=False, **{**TINY, **kwargs})


def test_tiny_training_is_deterministic() -> None:
    model_a, hist_a = _train(seed=3)
    model_b, hist_b = _train(seed=3)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert hist_a.loss == hist_b.loss
    model_c, _ = _train(seed=4)
    assert not torch.equal(model_c.fc.weight, model_a.fc.weight)
    # training changed the weights
    torch.manual_seed(3)
    assert not torch.equal(FlowerCNN(6).fc.weight, model_a.fc.weight)


def test_training_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    _train(seed=3, epochs=1, n_test=0)
    assert torch.equal(torch.rand(4), expected)


def test_history_and_call() -> None:
    model, hist = _train(seed=0)
    assert not model.training
    assert isinstance(hist, TrainingHistory)
    assert len(hist.loss) == len(hist.train_accuracy) == len(hist.test_accuracy) == 2
    assert all(0.0 <= a <= 1.0 for a in hist.test_accuracy)
    assert hist.call == (
        "train_reference('single', epochs=2, n_train=12, batch_size=6, lr=0.003, seed=0, "
        "image_size=32, weight_decay=0.0001, n_test=6)"
    )
    assert hist.to_dict()["call"] == hist.call


def test_save_and_load_round_trip(tmp_path) -> None:
    model, hist = _train(seed=1, epochs=1)
    path = save_reference(model, hist, tmp_path / "m.pt")
    loaded = load_reference(path)
    x = render_flowers(3, image_size=32).images
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    meta = torch.load(path, weights_only=True)["metadata"]
    assert meta["call"] == hist.call and meta["n_classes"] == 6
    torch.save({"weights": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="checkpoint"):
        load_reference(tmp_path / "bad.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="checkpoint"):
        load_reference(tmp_path / "text.pt")


class _Constant(nn.Module):
    """Always predicts class ``c``."""

    def __init__(self, c: int, n_classes: int = 6) -> None:
        super().__init__()
        self.c, self.n_classes = c, n_classes
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x.shape[0], self.n_classes)
        out[:, self.c] = 1.0
        return out


def test_evaluate_accuracy_known_answer() -> None:
    labels = render_flowers(40, split="test", image_size=32, seed=5).labels
    model = _Constant(2).train()
    acc = evaluate_accuracy(model, "single", n=40, image_size=32, seed=5, batch_size=16)
    assert acc == pytest.approx(float((labels == 2).float().mean()))
    assert model.training  # mode restored


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"epochs": 0}, ValueError),
        ({"n_train": 0}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"lr": 0.0}, ValueError),
        ({"lr": float("nan")}, ValueError),
        ({"seed": -1}, ValueError),
        ({"image_size": 16}, ValueError),
        ({"weight_decay": -1.0}, ValueError),
        ({"n_test": -1}, ValueError),
        ({"progress": "no"}, TypeError),
    ],
)
def test_train_rejects_bad_arguments(kwargs, error) -> None:
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        _train(**kwargs)
    with pytest.raises(ValueError, match="variant"):
        train_reference("triple")
