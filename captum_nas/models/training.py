"""Training and evaluation of the reference flower classifier (used by the CLI).

Training data are rendered on the fly: each epoch visits training samples
``0..n_train-1`` of ``render_flowers(split="train", seed=seed)`` in a seeded random
order, so a run is a pure function of its arguments (and of the number of CPU threads,
which this module leaves alone). The shipped "single" checkpoint comes from::

    model, history = train_reference("single", epochs=3, n_train=12000, batch_size=64,
                                     lr=3e-3, seed=0, image_size=128)
    save_reference(model, history)

and the shipped "double" checkpoint (12 classes) from a smaller run, made on a shared
2-core CPU (``captum-nas train-reference --variant double --epochs 2 --n-train 4000``,
one torch thread; test accuracy 0.99 on 500 test images)::

    model, history = train_reference("double", epochs=2, n_train=4000, batch_size=64,
                                     lr=3e-3, seed=0, image_size=128)
    save_reference(model, history)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from captum_nas._model_state import preserved_model_state
from captum_nas._validation import check_choice, check_number, check_positive_int, check_seed
from captum_nas.datasets import SPLITS, VARIANTS, n_classes, render_flowers
from captum_nas.models.reference import FlowerCNN, reference_checkpoint_path


@dataclass
class TrainingHistory:
    """What :func:`train_reference` measured, and the arguments that reproduce it.

    Attributes:
        config: the keyword arguments of the call (variant included).
        loss: mean training loss per epoch.
        train_accuracy: training accuracy per epoch (on the fly, in train mode).
        test_accuracy: accuracy on ``n_test`` test images after each epoch.
        epoch_seconds: wall time of each epoch (rendering included).
    """

    config: dict[str, Any]
    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def call(self) -> str:
        """The Python call that reproduces the run."""
        cfg = dict(self.config)
        variant = cfg.pop("variant")
        cfg.pop("progress", None)
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        return f"train_reference({variant!r}, {args})"

    def to_dict(self) -> dict[str, Any]:
        """Plain-types dict (for checkpoints and JSON)."""
        out = asdict(self)
        out["call"] = self.call
        return out


def evaluate_accuracy(
    model: nn.Module,
    variant: str = "single",
    *,
    split: str = "test",
    n: int = 500,
    image_size: int | tuple[int, int] = 128,
    seed: int = 0,
    batch_size: int = 250,
) -> float:
    """Accuracy of ``model`` on samples ``0..n-1`` of a flowers split.

    The model runs in eval mode without gradients; its mode, flags and hooks are
    restored afterwards.

    Args:
        model: classifier taking normalised images (N, 3, H, W).
        variant: ``"single"`` or ``"double"``.
        split: ``"train"`` or ``"test"``.
        n: number of images.
        image_size: image side or (height, width).
        seed: data seed.
        batch_size: images rendered and classified per step.

    Returns:
        The fraction of correct predictions.

    Example:
        >>> evaluate_accuracy(reference_model("single"), "single", n=300)  # doctest: +SKIP
        0.99...
    """
    check_choice(variant, "variant", VARIANTS)
    check_choice(split, "split", SPLITS)
    n = check_positive_int(n, "n")
    batch_size = check_positive_int(batch_size, "batch_size")
    device = next(model.parameters()).device
    correct = 0
    with preserved_model_state(model), torch.no_grad():
        model.eval()
        for start in range(0, n, batch_size):
            idx = torch.arange(start, min(start + batch_size, n))
            batch = render_flowers(
                idx, variant=variant, split=split, image_size=image_size, seed=seed, device=device
            )
            correct += int((model(batch.images).argmax(1) == batch.labels).sum())
    return correct / n


def _warmup_cosine(total_steps: int, warmup: float = 0.2) -> Callable[[int], float]:
    """Learning-rate factor: linear warm-up over ``warmup`` of the steps, cosine decay to 0."""
    n_warm = max(1, round(warmup * total_steps))
    n_decay = max(1, total_steps - n_warm)

    def factor(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - n_warm) / n_decay)))

    return factor


def train_reference(
    variant: str = "single",
    *,
    epochs: int = 3,
    n_train: int = 12000,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    image_size: int = 128,
    weight_decay: float = 1e-4,
    n_test: int = 500,
    progress: bool = True,
) -> tuple[FlowerCNN, TrainingHistory]:
    """Train a :class:`FlowerCNN` on procedural flowers (AdamW, warm-up then cosine decay).

    Args:
        variant: ``"single"`` (6 classes) or ``"double"`` (12 classes).
        epochs: passes over the training samples.
        n_train: number of training samples (indices ``0..n_train-1``).
        batch_size: samples per step.
        lr: peak learning rate.
        seed: seeds the weights, the sample order and the data.
        image_size: side of the square training images.
        weight_decay: AdamW weight decay.
        n_test: test images scored after each epoch (0 to skip).
        progress: show a tqdm progress bar.

    Returns:
        ``(model, history)``: the model in eval mode and a :class:`TrainingHistory`.

    Example:
        >>> model, history = train_reference("single", epochs=1, n_train=256)  # doctest: +SKIP
    """
    check_choice(variant, "variant", VARIANTS)
    epochs = check_positive_int(epochs, "epochs")
    n_train = check_positive_int(n_train, "n_train")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_number(lr, "lr", minimum=0.0, strict_min=True)
    seed = check_seed(seed)
    image_size = check_positive_int(image_size, "image_size", minimum=32)
    weight_decay = check_number(weight_decay, "weight_decay", minimum=0.0)
    n_test = check_positive_int(n_test, "n_test", minimum=0)
    if not isinstance(progress, bool):
        raise TypeError(f"`progress` must be a bool, got {progress!r}")
    history = TrainingHistory(
        config={
            "variant": variant,
            "epochs": epochs,
            "n_train": n_train,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "image_size": image_size,
            "weight_decay": weight_decay,
            "n_test": n_test,
        }
    )

    # seeded weight initialisation without touching the caller's global RNG
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FlowerCNN(n_classes(variant))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(n_train / batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _warmup_cosine(epochs * steps_per_epoch)
    )
    order = torch.Generator().manual_seed(seed)
    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, desc=f"train {variant}")
    try:
        for epoch in range(epochs):
            model.train()
            start = time.perf_counter()
            perm = torch.randperm(n_train, generator=order)
            total_loss, correct = 0.0, 0
            for step in range(steps_per_epoch):
                idx = perm[step * batch_size : (step + 1) * batch_size]
                batch = render_flowers(
                    idx, variant=variant, split="train", image_size=image_size, seed=seed
                )
                logits = model(batch.images)
                loss = F.cross_entropy(logits, batch.labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                step_loss = float(loss.detach())
                total_loss += step_loss * len(idx)
                correct += int((logits.detach().argmax(1) == batch.labels).sum())
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{step_loss:.3f}")
            history.loss.append(total_loss / n_train)
            history.train_accuracy.append(correct / n_train)
            if n_test:
                acc = evaluate_accuracy(
                    model, variant, split="test", n=n_test, image_size=image_size, seed=seed
                )
                history.test_accuracy.append(acc)
                bar.set_postfix(epoch=epoch + 1, test_acc=f"{acc:.3f}")
            history.epoch_seconds.append(time.perf_counter() - start)
    finally:
        bar.close()
    return model.eval(), history


def save_reference(
    model: FlowerCNN, history: TrainingHistory, path: str | Path | None = None
) -> Path:
    """Save ``model``'s weights with the training metadata, loadable by
    :func:`~captum_nas.models.reference.reference_model`.

    Args:
        model: the trained model.
        history: its :class:`TrainingHistory`.
        path: where to write (default: the packaged checkpoint of the variant).

    Returns:
        The path written.
    """
    if not isinstance(model, FlowerCNN):
        raise TypeError(f"`model` must be a FlowerCNN, got {type(model).__name__}")
    cfg = history.config
    target = reference_checkpoint_path(cfg["variant"]) if path is None else Path(path)
    metadata = {
        **cfg,
        "n_classes": model.n_classes,
        "widths": list(model.widths),
        "test_accuracy": history.test_accuracy[-1] if history.test_accuracy else None,
        "history": history.to_dict(),
        "call": history.call,
        "torch_version": str(torch.__version__),
        "torch_threads": torch.get_num_threads(),
    }
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "metadata": metadata}, target)
    return target
