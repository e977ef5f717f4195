"""Training the Explainer against a frozen classifier, through the shared training loop.

:func:`fit_explainer` trains an Explainer network with the loss of
:func:`captum_nas.explainer.losses.explainer_loss` on batches ``(images, labels)``,
using :func:`captum_nas.models.loop.fit`: a progress bar, the validation loss after
every epoch, early stopping on it (best weights restored), an atomic checkpoint after
every epoch and resuming from it. The classifier is frozen while it trains (eval
mode, no parameter gradients) and its parameters, mode, ``requires_grad`` flags and
hooks are exactly as before afterwards, also when training fails.

:class:`FlowersBatches` renders the synthetic flowers on the fly (seeded, a new order
every epoch), and :func:`save_explainer` writes the checkpoint format that
:func:`captum_nas.explainer.load_explainer` reads. The shipped Explainer was made by
the command stored in its metadata (:func:`captum_nas.explainer.explainer_checkpoint_info`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_nas._model_state import preserved_model_state
from captum_nas._validation import check_choice, check_number, check_positive_int, describe
from captum_nas.explainer.attribution import check_class_counts
from captum_nas.explainer.losses import DEFAULT_WEIGHTS, explainer_loss
from captum_nas.explainer.network import mask_logits
from captum_nas.models.loop import TrainingLog, atomic_save, fit

Batch = tuple[Tensor, Tensor]


class FlowersBatches:
    """Re-iterable batches ``(images, labels)`` of the synthetic flowers, rendered on the fly.

    Samples ``0..n-1`` of a split; with ``shuffle`` every epoch visits them in a new
    order drawn from ``(seed, epoch)`` (set by :meth:`set_epoch`, which
    :func:`fit_explainer` calls), so a resumed run sees the same batches as an
    uninterrupted one.

    Args:
        n: number of samples.
        variant: ``"single"`` or ``"double"``.
        split: ``"train"`` or ``"test"``.
        batch_size: samples per batch.
        image_size: image side.
        seed: data and order seed.
        shuffle: new order every epoch (else ``0..n-1``).

    Example:
        >>> data = FlowersBatches(64, split="test", batch_size=32)
        >>> [tuple(x.shape) for x, _ in data]
        [(32, 3, 128, 128), (32, 3, 128, 128)]
    """

    def __init__(
        self,
        n: int,
        *,
        variant: str = "single",
        split: str = "train",
        batch_size: int = 32,
        image_size: int = 128,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        from captum_nas.datasets import SPLITS, VARIANTS

        self.n = check_positive_int(n, "n")
        self.variant = check_choice(variant, "variant", VARIANTS)
        self.split = check_choice(split, "split", SPLITS)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.image_size = check_positive_int(image_size, "image_size", minimum=32)
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.shuffle = bool(shuffle)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the order of the next pass (epochs are 1-based in :func:`fit_explainer`)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        from captum_nas.datasets import render_flowers

        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=gen)
        else:
            order = torch.arange(self.n)
        for start in range(0, self.n, self.batch_size):
            batch = render_flowers(
                order[start : start + self.batch_size],
                variant=self.variant,
                split=self.split,
                image_size=self.image_size,
                seed=self.seed,
            )
            yield batch.images, batch.labels


def _check_batch(batch: Any, index: int, where: str) -> Batch:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError(
            f"`{where}` must yield (images, labels) pairs, batch {index} is {describe(batch)}"
        )
    images, labels = batch[0], batch[1]
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(
            f"`{where}` batch {index}: images must be (N, C, H, W), got {describe(images)}"
        )
    if not isinstance(labels, Tensor):
        raise TypeError(f"`{where}` batch {index}: labels must be a tensor, got {describe(labels)}")
    return images, labels


def _loss(
    classifier: nn.Module,
    explainer: nn.Module,
    images: Tensor,
    labels: Tensor,
    weights: Mapping[str, float],
    index: int,
    where: str,
) -> Any:
    logits = mask_logits(explainer, images)
    try:
        return explainer_loss(classifier, images, logits, labels, **weights)
    except ValueError as err:
        raise ValueError(f"`{where}` batch {index}: {err}") from err


def save_explainer(
    explainer: nn.Module, path: str | Path, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write ``{"state_dict", "metadata"}`` atomically (read by :func:`load_explainer`).

    Args:
        explainer: an :class:`~captum_nas.explainer.ExplainerNet` (its ``config()`` is
            stored as ``metadata["network"]``) or any module (then give ``network``
            in ``metadata`` yourself if you want to load it with ``load_explainer``).
        path: destination file (its folder must exist).
        metadata: JSON-able facts: how it was made.

    Returns:
        The path written.
    """
    meta = dict(metadata or {})
    config = getattr(explainer, "config", None)
    if callable(config):
        meta.setdefault("network", config())
    state = {k: v.detach().cpu().clone() for k, v in explainer.state_dict().items()}
    return atomic_save({"state_dict": state, "metadata": meta}, path)


def fit_explainer(
    classifier: nn.Module,
    explainer: nn.Module,
    train_data: Iterable[Batch],
    val_data: Iterable[Batch] | None = None,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    patience: int | None = 3,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    seed: int = 0,
    metadata: Mapping[str, Any] | None = None,
    **loss_weights: float,
) -> TrainingLog:
    """Train ``explainer`` (Adam) to explain the frozen ``classifier``.

    Each epoch is one pass over ``train_data``; then the mean loss over ``val_data``
    is the validation loss (early stopping, best weights). ``train_data`` and
    ``val_data`` are re-iterable sources of ``(images, labels)`` batches (a
    ``DataLoader``, a list, :class:`FlowersBatches`); a ``set_epoch(epoch)`` method,
    when present, is called before each pass. Images go to the classifier's device.

    Args:
        classifier: the frozen classifier, images -> logits ``(N, K)``.
        explainer: the network to train, images -> mask logits ``(N, K, H, W)``.
        train_data: training batches.
        val_data: validation batches (``None``: no validation, no early stopping).
        epochs: total epochs (counting those already done when resuming).
        lr: Adam learning rate (the paper fine-tunes DeepLabv3 at 1e-5; a small
            network trained from scratch needs about 1e-3).
        patience: early-stopping patience in epochs (``None``: never stop early).
        checkpoint: training checkpoint written after every epoch.
        resume: continue from ``checkpoint`` without losing finished epochs.
        progress: progress bars (epochs, and batches within an epoch).
        seed: seeds torch's generator before training (fresh runs only).
        metadata: JSON-able facts stored in the checkpoint.
        **loss_weights: keyword arguments of
            :func:`~captum_nas.explainer.losses.explainer_loss` (``entropy_weight``,
            ``tv_weight``, ``area_weight``, ``mean_target_weight``,
            ``mean_nontarget_weight``, ``min_area``, ``max_area``); paper defaults.

    Returns:
        The loop's :class:`~captum_nas.models.loop.TrainingLog`. Each history row holds
        the weighted loss terms and ``loss`` (training means), ``masked_accuracy``
        (training), ``val_masked_accuracy`` and ``val_loss``. The explainer holds the
        best weights and is left in eval mode.

    Raises:
        ValueError: class count mismatch between classifier and Explainer, masks of
            another size than the images, labels out of range, unknown loss weights.
        FileNotFoundError: ``resume`` without a checkpoint.
    """
    if not isinstance(classifier, nn.Module):
        raise TypeError(f"`classifier` must be an nn.Module, got {describe(classifier)}")
    if not isinstance(explainer, nn.Module):
        raise TypeError(f"`explainer` must be an nn.Module, got {describe(explainer)}")
    unknown = sorted(set(loss_weights) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise ValueError(
            f"unknown loss weights {unknown}; expected some of {sorted(DEFAULT_WEIGHTS)}"
        )
    weights = {**DEFAULT_WEIGHTS, **loss_weights}
    for key, value in weights.items():
        check_number(value, key, minimum=0.0)
    lr = check_number(lr, "lr", minimum=0.0, strict_min=True)
    seed = check_positive_int(seed, "seed", minimum=0)
    if val_data is None:
        patience = None
    params = [p for p in explainer.parameters() if p.requires_grad]
    if not params:
        raise ValueError("`explainer` has no trainable parameters")
    try:
        device = next(classifier.parameters()).device
    except StopIteration:
        device = params[0].device

    with preserved_model_state(classifier):
        classifier.eval()
        for p in classifier.parameters():
            p.requires_grad_(False)
        _check_first_batch(classifier, explainer, train_data, device)
        if not resume:
            torch.manual_seed(seed)
        optimizer = torch.optim.Adam(params, lr=lr)
        cached: dict[str, float] = {}

        def run(data: Iterable[Batch], train: bool, epoch: int, where: str) -> dict[str, float]:
            set_epoch = getattr(data, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(epoch)
            explainer.train(train)
            sums: dict[str, float] = {}
            n_images = correct = 0
            total = len(data) if hasattr(data, "__len__") else None  # type: ignore[arg-type]
            bar = tqdm(data, total=total, disable=not progress, leave=False, desc=where)
            for index, batch in enumerate(bar):
                images, labels = _check_batch(batch, index, where)
                images, labels = images.to(device), labels.to(device)
                with torch.set_grad_enabled(train):
                    out = _loss(classifier, explainer, images, labels, weights, index, where)
                if train:
                    optimizer.zero_grad(set_to_none=True)
                    out.total.backward()
                    optimizer.step()
                n = images.shape[0]
                n_images += n
                correct += out.masked_correct
                for key, value in {"loss": float(out.total.detach()), **out.terms}.items():
                    sums[key] = sums.get(key, 0.0) + value * n
                bar.set_postfix(loss=f"{sums['loss'] / n_images:.4g}")
            if n_images == 0:
                raise ValueError(f"`{where}` yielded no batches")
            result = {k: v / n_images for k, v in sums.items()}
            result["masked_accuracy"] = correct / n_images
            return result

        def train_epoch(epoch: int) -> dict[str, float]:
            metrics = run(train_data, True, epoch, "train_data")
            if val_data is not None:
                val = run(val_data, False, epoch, "val_data")
                cached["val_loss"] = val["loss"]
                metrics["val_masked_accuracy"] = val["masked_accuracy"]
            explainer.eval()
            return metrics

        def validate() -> float:
            return cached["val_loss"]

        meta = {"loss_weights": weights, "lr": lr, "seed": seed, **dict(metadata or {})}
        log = fit(
            {"explainer": explainer},
            optimizer,
            train_epoch,
            validate if val_data is not None else None,
            epochs=epochs,
            patience=patience,
            checkpoint=checkpoint,
            resume=resume,
            progress=progress,
            metadata=meta,
            desc="explainer",
        )
    explainer.eval()
    return log


def _check_first_batch(
    classifier: nn.Module, explainer: nn.Module, data: Iterable[Batch], device: torch.device
) -> None:
    """Fail early (before any training) on a class count mismatch or wrong mask size."""
    for batch in data:
        images, _ = _check_batch(batch, 0, "train_data")
        x = images[:1].to(device)
        with torch.no_grad(), preserved_model_state(explainer):
            explainer.eval()
            logits = mask_logits(explainer, x)
            out = classifier(x)
        if not isinstance(out, Tensor) or out.dim() != 2:
            raise ValueError(f"the classifier must return logits (N, K), got {describe(out)}")
        check_class_counts(int(out.shape[1]), int(logits.shape[1]))
        return
    raise ValueError("`train_data` yielded no batches")


def train_flowers_explainer(
    classifier: nn.Module,
    variant: str = "single",
    *,
    n_train: int = 512,
    n_val: int = 128,
    batch_size: int = 8,
    epochs: int = 12,
    lr: float = 1e-2,
    patience: int | None = 3,
    seed: int = 0,
    image_size: int = 64,
    widths: tuple[int, ...] | None = None,
    input_size: int | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    metadata: Mapping[str, Any] | None = None,
    **loss_weights: float,
) -> tuple[nn.Module, TrainingLog, dict[str, Any]]:
    """Train an :class:`~captum_nas.explainer.ExplainerNet` for a flowers classifier.

    Training images are samples ``0..n_train-1`` of the flowers' train split (a new
    order every epoch), validation images samples ``0..n_val-1`` of the test split.

    Args:
        classifier: the frozen classifier (normalised flowers -> logits).
        variant: ``"single"`` or ``"double"``.
        n_train: training images per epoch.
        n_val: validation images.
        batch_size: images per step (small batches: more Adam steps per image).
        epochs: maximum number of epochs.
        lr: Adam learning rate.
        patience: early-stopping patience (epochs).
        seed: seeds the network, the data and their order.
        image_size: side of the training images (64 by default: a quarter of the cost
            of the classifier's 128 px, which it classifies as well; the Explainer
            resizes any input to this size, so it explains 128 px images too).
        widths: encoder widths of the network (default: ``ExplainerNet``'s).
        input_size: the network's working size (default: ``image_size``): it resizes
            any input to it, so it explains images of other sizes the way it was trained.
        checkpoint: training checkpoint (atomic, after every epoch).
        resume: resume from ``checkpoint``.
        progress: progress bars.
        metadata: extra facts for the saved file (e.g. the command line).
        **loss_weights: see :func:`fit_explainer`.

    Returns:
        ``(explainer, log, metadata)``: the trained network in eval mode, the training
        log and the JSON-able metadata to save with it (:func:`save_explainer`).
    """
    from captum_nas.datasets import n_classes
    from captum_nas.explainer.network import DEFAULT_WIDTHS, ExplainerNet

    seed = check_positive_int(seed, "seed", minimum=0)
    torch.manual_seed(seed)
    net = ExplainerNet(
        n_classes(variant), widths=widths or DEFAULT_WIDTHS, input_size=input_size or image_size
    )
    train = FlowersBatches(
        n_train, variant=variant, batch_size=batch_size, image_size=image_size, seed=seed
    )
    val = FlowersBatches(
        n_val,
        variant=variant,
        split="test",
        batch_size=64,
        image_size=image_size,
        seed=seed,
        shuffle=False,
    )
    config = {
        "variant": variant,
        "n_train": n_train,
        "n_val": n_val,
        "batch_size": batch_size,
        "epochs": epochs,
        "lr": lr,
        "patience": patience,
        "seed": seed,
        "image_size": image_size,
        "widths": list(net.widths),
        "input_size": net.input_size,
        **loss_weights,
    }
    log = fit_explainer(
        classifier,
        net,
        train,
        val,
        epochs=epochs,
        lr=lr,
        patience=patience,
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        seed=seed,
        metadata={"config": config, **dict(metadata or {})},
        **loss_weights,
    )
    best = next((h for h in log.history if int(h["epoch"]) == log.best_epoch), log.history[-1])
    meta: dict[str, Any] = {
        "network": net.config(),
        "config": config,
        "call": "train_flowers_explainer(classifier, "
        + ", ".join(f"{k}={v!r}" for k, v in config.items())
        + ")",
        "loss_weights": {**DEFAULT_WEIGHTS, **loss_weights},
        "epochs_run": len(log.history),
        "best_epoch": log.best_epoch,
        "best_val_loss": log.best_val_loss,
        "val_masked_accuracy": best.get("val_masked_accuracy"),
        "stopped_early": log.stopped_early,
        "train_seconds": sum(h.get("seconds", 0.0) for h in log.history),
        "history": log.history,
        "torch_version": str(torch.__version__),
        "torch_threads": torch.get_num_threads(),
        **dict(metadata or {}),
    }
    return net, log, meta
