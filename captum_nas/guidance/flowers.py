"""Explanation-guided training on the synthetic flowers, its baseline, and their evaluation.

The "object" of a flower is the part that decides its class (the petals of the
``"single"`` variant). Pixel labels exist for the first ``n_labelled`` training images
only; all training images have their image label. Three segmenters are compared on
test images (:func:`evaluate_segmenter`):

* the unguided reference classifier's LRP heatmaps (argmax over a constant background
  score, chosen on the pixel-labelled training images, and the class heatmaps);
* the guided classifier (:func:`train_guided`: the reference fine-tuned with
  classification + heatmap segmentation loss, background score 0);
* a small encoder-decoder (:class:`SmallSegNet`, :func:`train_segnet`) trained on the
  same pixel labels only.

Training runs through the shared loop (:func:`captum_nas.models.loop.fit`): progress,
atomic checkpoints after every epoch, resume. Images are rendered once per run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_nas._checkpoint import read_checkpoint
from captum_nas._model_state import preserved_model_state
from captum_nas._validation import check_number, check_positive_int
from captum_nas.datasets import n_classes as flower_classes
from captum_nas.datasets import render_flowers
from captum_nas.guidance.decoder import LRPDecoder
from captum_nas.guidance.losses import IGNORE_INDEX, pixel_labels, segment_heatmaps
from captum_nas.guidance.sampler import MixedBatchSampler
from captum_nas.guidance.training import GuidanceConfig, SegmentationScores, guided_backward
from captum_nas.models.loop import TrainingLog, fit
from captum_nas.models.reference import FlowerCNN, reference_model

#: Shipped checkpoints: ``captum_nas/data/guided_flowers_<name>.pt``.
CHECKPOINT_PREFIX = "guided_flowers_"


@dataclass(frozen=True)
class FlowerSet:
    """Rendered flowers: images, labels and pixel labels (ignore where unlabelled)."""

    images: Tensor
    labels: Tensor
    targets: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def flower_set(
    n: int, *, split: str, image_size: int, n_labelled: int | None = None, seed: int = 0
) -> FlowerSet:
    """Samples ``0..n-1`` of a split; pixel labels for the first ``n_labelled`` (default all)."""
    n = check_positive_int(n, "n")
    batch = render_flowers(n, split=split, image_size=image_size, seed=seed)
    labelled = None if n_labelled is None else torch.arange(n) < n_labelled
    return FlowerSet(
        batch.images, batch.labels, pixel_labels(batch.part_masks, batch.labels, labelled=labelled)
    )


@dataclass(frozen=True)
class _FlowerRun:
    """The options every training on the labelled flowers has, checked on construction."""

    n_labelled: int = 10
    image_size: int = 64
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.n_labelled, "n_labelled")
        check_positive_int(self.image_size, "image_size", minimum=32)
        check_positive_int(self.seed, "seed", minimum=0)
        check_number(self.weight_decay, "weight_decay", minimum=0.0)


@dataclass(frozen=True)
class GuidedRun(_FlowerRun):
    """Arguments of :func:`train_guided` (stored in checkpoints)."""

    n_train: int = 512
    epochs: int = 2
    batch_size: int = 32
    labelled_per_batch: int = 8
    lr: float = 3e-4
    classification_weight: float = 1.0
    segmentation_weight: float = 1.0
    scale: float | None = None
    background: float | str = "tune"
    memory_saving: bool = False
    n_val: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_train", "epochs", "batch_size", "labelled_per_batch"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.n_val, "n_val", minimum=0)
        check_number(self.lr, "lr", minimum=0.0, strict_min=True)
        if isinstance(self.background, str):
            if self.background != "tune":
                raise ValueError(
                    f"`background` must be a number or 'tune', got {self.background!r}"
                )
        else:
            check_number(self.background, "background")
        if self.n_labelled > self.n_train:
            raise ValueError(
                f"`n_labelled` ({self.n_labelled}) must be <= `n_train` ({self.n_train})"
            )

    def config(self, background: float) -> GuidanceConfig:
        """The :class:`GuidanceConfig` of this run with a resolved background score."""
        return GuidanceConfig(
            classification_weight=self.classification_weight,
            segmentation_weight=self.segmentation_weight,
            background=background,
            scale=self.scale,
            memory_saving=self.memory_saving,
        )

    def command(self, out: str = "model.pt") -> str:
        """The ``captum-nas train-guided`` command line of this run."""
        parts = ["captum-nas train-guided"]
        # the training set first, as in the command's help
        for key, value in sorted(asdict(self).items(), key=lambda item: item[0] != "n_train"):
            if key in ("scale", "weight_decay", "n_val"):
                continue
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                parts += [flag] if value else []
            else:
                parts += [flag, str(value)]
        return " ".join([*parts, "--out", out])


def _classification_validation(
    model: nn.Module, val: FlowerSet | None
) -> Callable[[], float] | None:
    if val is None:
        return None

    def validate() -> float:
        with preserved_model_state(model), torch.no_grad():
            model.eval()
            return float(F.cross_entropy(model(val.images), val.labels))

    return validate


def train_guided(
    run: GuidedRun,
    *,
    model: nn.Module | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> tuple[nn.Module, TrainingLog, float]:
    """Fine-tune a flower classifier with the guided objective (Yu et al., 2024).

    Args:
        run: the arguments (a :class:`GuidedRun`).
        model: the classifier to train (default: the shipped reference classifier).
        checkpoint: training checkpoint written after every epoch (for ``resume``).
        resume: continue from ``checkpoint``.
        progress: progress bars.

    Returns:
        ``(model, log, background)``: the model in eval mode, the loop's
        :class:`TrainingLog` and the background score used (``run.background``, or the
        one :func:`tune_background` chose for the initial model on the pixel-labelled
        images). Validation: classification loss on ``n_val`` further training images
        (image labels only, no pixel labels are used for it).

    Example:
        >>> model, log, bg = train_guided(GuidedRun(n_train=256, epochs=1))  # doctest: +SKIP
    """
    torch.manual_seed(run.seed)
    model = reference_model("single") if model is None else model
    data = flower_set(
        run.n_train, split="train", image_size=run.image_size, n_labelled=run.n_labelled, seed=0
    )
    val = None
    if run.n_val:
        held = render_flowers(
            torch.arange(run.n_train, run.n_train + run.n_val),
            split="train",
            image_size=run.image_size,
        )
        val = FlowerSet(held.images, held.labels, torch.empty(0))
    background = tune_background(model, data) if isinstance(run.background, str) else run.background
    decoder = LRPDecoder(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    unlabelled = range(run.n_labelled, run.n_train)
    sampler = MixedBatchSampler(
        range(run.n_labelled),
        unlabelled,
        run.batch_size,
        labelled_per_batch=min(run.labelled_per_batch, run.n_labelled, run.batch_size - 1)
        if len(unlabelled)
        else min(run.labelled_per_batch, run.n_labelled),
        seed=run.seed,
    )
    cfg = run.config(background)

    def train_epoch(epoch: int) -> Mapping[str, float]:
        sampler.set_epoch(epoch)
        model.train()
        totals = {"loss": 0.0, "classification": 0.0, "segmentation": 0.0}
        correct = seen = 0
        for idx in sampler:
            index = torch.tensor(idx)
            optimizer.zero_grad(set_to_none=True)
            result = guided_backward(
                decoder, data.images[index], data.labels[index], data.targets[index], cfg
            )
            optimizer.step()
            for key in totals:
                totals[key] += getattr(result, key) * len(idx)
            correct += result.correct
            seen += len(idx)
        model.eval()
        return {**{k: v / seen for k, v in totals.items()}, "train_accuracy": correct / seen}

    log = fit(
        {"model": model},
        optimizer,
        train_epoch,
        _classification_validation(model, val),
        epochs=run.epochs,
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        metadata={"run": asdict(run), "kind": "guided", "background": background},
        desc=f"guided ({run.n_labelled} pixel labels)",
    )
    return model.eval(), log, background


# ------------------------------------------------------------------ encoder-decoder baseline
def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallSegNet(nn.Module):
    """A small U-Net-style encoder-decoder: scores (N, n_labels, H, W) per pixel.

    Three resolutions (1, 1/2, 1/4), skip connections, ``widths`` channels.

    Args:
        n_labels: output labels (background + classes).
        widths: channels at the three resolutions.

    Example:
        >>> SmallSegNet(7)(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 7, 64, 64])
    """

    def __init__(self, n_labels: int = 7, widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        check_positive_int(n_labels, "n_labels", minimum=2)
        a, b, c = widths
        self.n_labels = n_labels
        self.widths = tuple(widths)
        self.enc1, self.enc2, self.enc3 = _block(3, a), _block(a, b), _block(b, c)
        self.up2 = nn.ConvTranspose2d(c, b, 2, stride=2)
        self.dec2 = _block(2 * b, b)
        self.up1 = nn.ConvTranspose2d(b, a, 2, stride=2)
        self.dec1 = _block(2 * a, a)
        self.head = nn.Conv2d(a, n_labels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Per-pixel label scores of images (N, 3, H, W), H and W divisible by 4."""
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(e3), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


@dataclass(frozen=True)
class SegNetRun(_FlowerRun):
    """Arguments of :func:`train_segnet`."""

    steps: int = 300
    batch_size: int = 8
    lr: float = 3e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.steps, "steps")
        check_positive_int(self.batch_size, "batch_size")
        check_number(self.lr, "lr", minimum=0.0, strict_min=True)
        if self.image_size % 4:
            raise ValueError(
                f"`image_size` must be divisible by 4 (the net pools twice), got {self.image_size}"
            )


def train_segnet(
    run: SegNetRun,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> tuple[SmallSegNet, TrainingLog]:
    """Train :class:`SmallSegNet` with pixel cross-entropy on the first ``n_labelled`` images.

    ``steps`` optimiser steps in total (split in 10 epochs of the shared loop),
    batches drawn with replacement from the labelled images.
    """
    torch.manual_seed(run.seed)
    data = flower_set(run.n_labelled, split="train", image_size=run.image_size, seed=0)
    net = SmallSegNet(flower_classes("single") + 1)
    optimizer = torch.optim.AdamW(net.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    epochs = 10
    per_epoch = max(1, math.ceil(run.steps / epochs))
    gen = torch.Generator().manual_seed(run.seed)

    def train_epoch(epoch: int) -> Mapping[str, float]:
        net.train()
        total = 0.0
        for _ in range(per_epoch):
            idx = torch.randint(0, len(data), (min(run.batch_size, len(data)),), generator=gen)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(
                net(data.images[idx]), data.targets[idx], ignore_index=IGNORE_INDEX
            )
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        net.eval()
        return {"loss": total / per_epoch}

    log = fit(
        {"model": net},
        optimizer,
        train_epoch,
        None,
        epochs=epochs,
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        metadata={"run": asdict(run), "kind": "segnet"},
        desc=f"segnet ({run.n_labelled} pixel labels)",
    )
    return net.eval(), log


# --------------------------------------------------------------------------- evaluation
def lrp_segmenter(
    model: nn.Module, *, background: float = 0.0, scale: float | None = None
) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """``images -> (pixel labels, logits)`` from a classifier's LRP heatmaps."""
    decoder = LRPDecoder(model)

    def segment(images: Tensor) -> tuple[Tensor, Tensor]:
        s = float(images.shape[-2] * images.shape[-1]) if scale is None else scale
        with preserved_model_state(model), torch.no_grad():
            model.eval()
            out = decoder(images)
            return segment_heatmaps(out.heatmaps, background=background, scale=s), out.logits

    return segment


def segnet_segmenter(net: SmallSegNet) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """``images -> (pixel labels, class scores)``; the class of an image is the class with
    the most predicted pixels (the summed class probabilities when none is predicted)."""

    def segment(images: Tensor) -> tuple[Tensor, Tensor]:
        with preserved_model_state(net), torch.no_grad():
            net.eval()
            scores = net(images)
        pred = scores.argmax(1)
        counts = F.one_hot(pred, net.n_labels).sum((1, 2))[:, 1:].float()
        probs = scores.softmax(1)[:, 1:].sum((2, 3))
        return pred, counts + probs / (probs.sum(1, keepdim=True) + 1.0)

    return segment


def evaluate_segmenter(
    segment: Callable[[Tensor], tuple[Tensor, Tensor]], data: FlowerSet, *, batch_size: int = 50
) -> dict[str, float]:
    """Class IoU, foreground IoU, mIoU and accuracy of a segmenter on ``data``."""
    scores = SegmentationScores(flower_classes("single") + 1)
    for start in range(0, len(data), batch_size):
        sl = slice(start, start + batch_size)
        pred, logits = segment(data.images[sl])
        correct = int((logits.argmax(1) == data.labels[sl]).sum())
        scores.update(pred, data.targets[sl], correct)
    return scores.as_dict()


def tune_background(
    model: nn.Module, data: FlowerSet, grid: Tensor | None = None, *, max_images: int = 64
) -> float:
    """The constant background score (on the H*W-scaled heatmaps) with the best class IoU
    on the pixel-labelled images of ``data`` (the first ``max_images`` of them).

    The heatmaps are computed once; every grid value only changes the argmax.
    """
    grid = torch.tensor([0.0, 1, 3, 10, 30, 100, 300, 1000]) if grid is None else grid
    labelled = ((data.targets != IGNORE_INDEX).flatten(1).any(1)).nonzero()[:max_images, 0]
    images, targets = data.images[labelled], data.targets[labelled]
    decoder = LRPDecoder(model)
    scale = float(images.shape[-2] * images.shape[-1])
    with preserved_model_state(model), torch.no_grad():
        model.eval()
        maps = torch.cat([decoder(images[i : i + 32]).heatmaps for i in range(0, len(images), 32)])
    best, best_iou = 0.0, -1.0
    for value in grid.tolist():
        scores = SegmentationScores(maps.shape[1] + 1)
        scores.update(segment_heatmaps(maps, background=value, scale=scale), targets)
        if scores.class_iou > best_iou:
            best, best_iou = float(value), scores.class_iou
    return best


# ------------------------------------------------------------------------- checkpoints
def checkpoint_path(name: str) -> Path:
    """Path of the shipped checkpoint ``guided_flowers_<name>.pt``."""
    from importlib import resources

    return (
        Path(str(resources.files("captum_nas").joinpath("data"))) / f"{CHECKPOINT_PREFIX}{name}.pt"
    )


def save_model(model: nn.Module, path: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Save weights as float16 (small files) with JSON-able metadata."""
    state = {
        k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "metadata": dict(metadata)}, target)
    return target


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A guided :class:`FlowerCNN` or a :class:`SmallSegNet` saved by :func:`save_model`."""
    ckpt = read_checkpoint(path, "a guided-flowers checkpoint")
    meta = dict(ckpt["metadata"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    model: nn.Module
    if meta.get("kind") == "segnet":
        model = SmallSegNet(int(meta["n_labels"]), tuple(meta["widths"]))
    else:
        model = FlowerCNN(int(meta["n_classes"]), widths=tuple(meta["widths"]))
    model.load_state_dict(state)
    return model.eval(), meta
