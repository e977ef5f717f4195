"""One small training loop for every model the package trains.

The Explainer, the explanation-guided classifier and the reference models all train
through :func:`fit`: epochs with a progress bar, a validation loss per epoch, early
stopping on it (the best weights are restored at the end), an atomic checkpoint after
every epoch (modules, optimizer, scheduler, random state, history), and resuming from
that checkpoint without losing a finished epoch. What one epoch does is the caller's:
``train_epoch(epoch)`` runs it and returns its metrics.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_nas._files import write_atomic
from captum_nas._validation import check_positive_int, describe

#: Format tag stored in every checkpoint written by :func:`fit`.
CHECKPOINT_FORMAT = "captum-nas-training/1"


def atomic_save(obj: Any, path: str | Path) -> Path:
    """Save ``obj`` with :func:`torch.save` atomically: a temporary file, then a rename.

    A reader never sees a half-written file, and a run killed while saving leaves the
    previous file intact.

    Args:
        obj: anything :func:`torch.save` takes.
        path: destination; its folder must exist.

    Returns:
        The destination path.

    Example:
        >>> import tempfile, torch
        >>> p = atomic_save({"w": torch.ones(2)}, Path(tempfile.mkdtemp()) / "c.pt")
        >>> torch.load(p, weights_only=True)["w"].tolist()
        [1.0, 1.0]
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"`path`: folder {str(path.parent)!r} does not exist")
    write_atomic(path, lambda tmp: torch.save(obj, tmp))
    return path


@dataclass
class TrainingLog:
    """What :func:`fit` did.

    Attributes:
        history: one dict per finished epoch: ``epoch`` (1-based), the metrics returned
            by ``train_epoch``, ``val_loss`` (when validated) and ``seconds``.
        best_epoch: epoch with the lowest validation loss (the last epoch without
            validation); its weights are the modules' weights after :func:`fit`.
        best_val_loss: that loss (NaN without validation).
        stopped_early: whether early stopping ended the run before ``epochs``.
        resumed_from: number of epochs already finished in the checkpoint resumed
            from (``None`` for a fresh run).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.nan
    stopped_early: bool = False
    resumed_from: int | None = None


def _state_copy(modules: Mapping[str, nn.Module]) -> dict[str, dict[str, Tensor]]:
    return {
        name: {k: v.detach().clone() for k, v in m.state_dict().items()}
        for name, m in modules.items()
    }


def _check_modules(modules: Any) -> dict[str, nn.Module]:
    if not isinstance(modules, Mapping) or not modules:
        raise TypeError(
            f"`modules` must be a non-empty mapping name -> nn.Module, got {describe(modules)}"
        )
    for name, module in modules.items():
        if not isinstance(name, str) or not isinstance(module, nn.Module):
            raise TypeError(
                f"`modules` must map names (str) to nn.Module, got {name!r}: {describe(module)}"
            )
    return dict(modules)


def _load_checkpoint(
    path: Path,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> dict[str, Any]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"`checkpoint` {str(path)!r} is not a training checkpoint written by "
            f"captum_nas.models.loop.fit (format {CHECKPOINT_FORMAT!r})"
        )
    saved = set(state["modules"])
    if saved != set(modules):
        raise ValueError(
            f"`checkpoint` {str(path)!r} holds modules {sorted(saved)}, but `modules` "
            f"has {sorted(modules)}"
        )
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if state.get("rng") is not None:
        torch.set_rng_state(state["rng"])
    return state


def fit(
    modules: Mapping[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    train_epoch: Callable[[int], Mapping[str, float]],
    validate: Callable[[], float] | None = None,
    *,
    epochs: int,
    patience: int | None = None,
    min_delta: float = 0.0,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    scheduler: Any = None,
    progress: bool = True,
    metadata: Mapping[str, Any] | None = None,
    desc: str = "train",
) -> TrainingLog:
    """Train for up to ``epochs`` epochs with validation, early stopping and checkpoints.

    Args:
        modules: the modules being trained (and any whose state must be checkpointed),
            by name. Their state dicts, the optimizer's and the scheduler's are saved.
        optimizer: the optimizer over the trained parameters.
        train_epoch: ``train_epoch(epoch)`` (1-based) trains one epoch and returns its
            metrics (e.g. ``{"loss": 0.3}``), all floats.
        validate: returns the validation loss (lower is better), called after every
            epoch; ``None`` validates nothing (no early stopping, last weights kept).
        epochs: total number of epochs, counting those finished before a resume.
        patience: stop after this many epochs without a validation improvement larger
            than ``min_delta``; ``None`` never stops early.
        min_delta: the smallest decrease of the validation loss that counts.
        checkpoint: file written atomically after every epoch; ``None`` writes none.
        resume: continue from ``checkpoint`` (which must exist): modules, optimizer,
            scheduler, random state, history and the best weights are restored, and
            training goes on at the next epoch.
        scheduler: an optional learning-rate scheduler, stepped once per epoch.
        progress: show a tqdm bar over epochs.
        metadata: JSON-able facts stored in the checkpoint (how the model was made).
        desc: the progress bar's label.

    Returns:
        A :class:`TrainingLog`. The modules hold the best weights (lowest validation
        loss) when ``validate`` is given, else the last ones.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> x, y = torch.ones(4, 2), torch.zeros(4, 1)
        >>> def epoch(_):
        ...     opt.zero_grad(); loss = ((model(x) - y) ** 2).mean(); loss.backward(); opt.step()
        ...     return {"loss": loss.item()}
        >>> log = fit({"model": model}, opt, epoch, epochs=3, progress=False)
        >>> len(log.history)
        3
    """
    mods = _check_modules(modules)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`optimizer` must be a torch.optim.Optimizer, got {describe(optimizer)}")
    if not callable(train_epoch):
        raise TypeError(f"`train_epoch` must be callable, got {describe(train_epoch)}")
    if validate is not None and not callable(validate):
        raise TypeError(f"`validate` must be callable or None, got {describe(validate)}")
    check_positive_int(epochs, "epochs")
    if patience is not None:
        check_positive_int(patience, "patience")
    if not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta) or min_delta < 0:
        raise ValueError(f"`min_delta` must be a finite number >= 0, got {min_delta!r}")
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and (ckpt is None or not ckpt.is_file()):
        raise FileNotFoundError(
            f"`resume`: no checkpoint to resume from (`checkpoint` is {checkpoint!r})"
        )
    if ckpt is not None and not ckpt.parent.is_dir():
        raise FileNotFoundError(f"`checkpoint`: folder {str(ckpt.parent)!r} does not exist")

    log = TrainingLog()
    best_state: dict[str, dict[str, Tensor]] | None = None
    since_best = 0
    if resume:
        assert ckpt is not None
        state = _load_checkpoint(ckpt, mods, optimizer, scheduler)
        log.history = [dict(h) for h in state["history"]]
        log.resumed_from = len(log.history)
        best = state.get("best") or {}
        log.best_epoch = int(best.get("epoch", 0))
        log.best_val_loss = float(best.get("val_loss", math.nan))
        best_state = best.get("modules")
        since_best = int(best.get("since_best", 0))
    start = len(log.history) + 1

    def save() -> None:
        if ckpt is None:
            return
        atomic_save(
            {
                "format": CHECKPOINT_FORMAT,
                "modules": {n: m.state_dict() for n, m in mods.items()},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "rng": torch.get_rng_state(),
                "history": log.history,
                "best": {
                    "epoch": log.best_epoch,
                    "val_loss": log.best_val_loss,
                    "since_best": since_best,
                    "modules": best_state,
                },
                "metadata": dict(metadata or {}),
            },
            ckpt,
        )

    bar = tqdm(
        range(start, epochs + 1),
        total=epochs,
        initial=start - 1,
        disable=not progress,
        desc=desc,
        unit="epoch",
    )
    for epoch in bar:
        if patience is not None and validate is not None and since_best >= patience:
            log.stopped_early = True
            break
        t0 = time.perf_counter()
        metrics = train_epoch(epoch)
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f"`train_epoch` must return a mapping of metrics, got {describe(metrics)}"
            )
        row = {"epoch": float(epoch), **{k: float(v) for k, v in metrics.items()}}
        if scheduler is not None:
            scheduler.step()
        if validate is not None:
            val = float(validate())
            row["val_loss"] = val
            if not math.isfinite(log.best_val_loss) or val < log.best_val_loss - min_delta:
                log.best_val_loss, log.best_epoch, since_best = val, epoch, 0
                best_state = _state_copy(mods)
            else:
                since_best += 1
        else:
            log.best_epoch = epoch
        row["seconds"] = time.perf_counter() - t0
        log.history.append(row)
        bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds")})
        save()
    bar.close()
    if best_state is not None:
        for name, module in mods.items():
            module.load_state_dict(copy.deepcopy(best_state[name]))
    return log
