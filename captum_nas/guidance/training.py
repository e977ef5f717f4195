"""One step of explanation-guided training, and the evaluation of heatmap segmentations.

:func:`guided_backward` runs the classifier once on a batch, computes the LRP heatmaps
of every class for the pixel-labelled images of the batch only, and back-propagates
``classification_weight * CE(logits) + segmentation_weight * heatmap loss``. Two paths
give the same gradients:

* default: the heatmaps of all classes at once (memory ~ classes x one backward pass);
* ``memory_saving=True``: the heatmaps are first computed without a graph, the
  gradient of the loss with respect to them is taken, and then each class's heatmap is
  recomputed with its graph and back-propagated alone (memory ~ one class), as in the
  "iterative gradients" option of Yu et al. (2024). It costs about one extra decoder
  pass.

The optimiser step is the caller's (the shared training loop's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from captum_nas._validation import check_image_batch, check_number, check_tensor
from captum_nas.guidance.decoder import LRPDecoder
from captum_nas.guidance.losses import (
    IGNORE_INDEX,
    guided_loss,
    heatmap_segmentation_loss,
    segment_heatmaps,
)


@dataclass(frozen=True)
class GuidanceConfig:
    """Weights and heatmap options of the guided objective.

    Attributes:
        classification_weight: weight of the classification cross-entropy.
        segmentation_weight: weight of the heatmap segmentation loss.
        background: constant score of the background channel (None: the model's
            channel 0 is a background class).
        scale: heatmaps are multiplied by it before the pixel softmax (None: the number
            of pixels, so that scores are relevance densities in units of the logit).
        memory_saving: back-propagate the heatmaps one class at a time.
        ignore_index: label of unlabelled pixels.
    """

    classification_weight: float = 1.0
    segmentation_weight: float = 1.0
    background: float | None = 0.0
    scale: float | None = None
    memory_saving: bool = False
    ignore_index: int = IGNORE_INDEX

    def __post_init__(self) -> None:
        check_number(self.classification_weight, "classification_weight", minimum=0.0)
        check_number(self.segmentation_weight, "segmentation_weight", minimum=0.0)
        if self.background is not None:
            check_number(self.background, "background")
        if self.scale is not None:
            check_number(self.scale, "scale", minimum=0.0, strict_min=True)
        if not isinstance(self.memory_saving, bool):
            raise TypeError(f"`memory_saving` must be a bool, got {self.memory_saving!r}")

    def scale_for(self, height: int, width: int) -> float:
        """The heatmap scale used for images of this size."""
        return float(height * width) if self.scale is None else float(self.scale)


@dataclass(frozen=True)
class StepResult:
    """Detached losses and counts of one :func:`guided_backward` call."""

    loss: float
    classification: float
    segmentation: float
    correct: int
    n_images: int
    n_pixel_labelled: int


def _check_batch(images: Tensor, labels: Tensor, pixel_targets: Tensor) -> None:
    check_image_batch(images, "images")
    check_tensor(labels, "labels")
    check_tensor(pixel_targets, "pixel_targets")
    n, _, h, w = images.shape
    if labels.shape != (n,):
        raise ValueError(f"`labels` must have shape ({n},), got {tuple(labels.shape)}")
    if pixel_targets.shape != (n, h, w):
        raise ValueError(
            f"`pixel_targets` must have shape {(n, h, w)} (N, H, W), got "
            f"{tuple(pixel_targets.shape)}"
        )


def guided_backward(
    decoder: LRPDecoder,
    images: Tensor,
    labels: Tensor,
    pixel_targets: Tensor,
    config: GuidanceConfig | None = None,
) -> StepResult:
    """Back-propagate the guided objective of one batch (gradients accumulate in the model).

    Args:
        decoder: the classifier's :class:`LRPDecoder`.
        images: (N, C, H, W) batch.
        labels: (N,) image labels.
        pixel_targets: (N, H, W) pixel labels (rows entirely ``ignore_index`` for images
            with only an image label), see :func:`~captum_nas.guidance.losses.pixel_labels`.
        config: loss weights and options (default :class:`GuidanceConfig`).

    Returns:
        A :class:`StepResult` (the batch-mean losses).

    Example:
        >>> from captum_nas.guidance.losses import pixel_labels
        >>> decoder = LRPDecoder(model)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        >>> masks = torch.zeros(2, 32, 32)
        >>> masks[:, 8:24, 8:24] = 1
        >>> targets = pixel_labels(masks, labels)
        >>> optimizer.zero_grad()
        >>> cfg = GuidanceConfig(memory_saving=True)
        >>> result = guided_backward(decoder, images, labels, targets, cfg)
        >>> model.fc.weight.grad is not None
        True
        >>> optimizer.step()
    """
    cfg = config or GuidanceConfig()
    _check_batch(images, labels, pixel_targets)
    n, _, h, w = images.shape
    scale = cfg.scale_for(h, w)
    pixel_targets = pixel_targets.to(images.device).long()
    labels = labels.to(images.device).long()
    logits, saved = decoder.run_forward(images)
    has_pixels = (pixel_targets != cfg.ignore_index).flatten(1).any(1)
    index = has_pixels.nonzero()[:, 0]
    correct = int((logits.detach().argmax(1) == labels).sum())
    if index.numel() == 0:
        loss = guided_loss(
            logits, labels, None, None, classification_weight=cfg.classification_weight
        )
        loss.total.backward()
        cls = float(loss.classification.detach())
        return StepResult(float(loss.total.detach()), cls, 0.0, correct, n, 0)
    sub = decoder.select(saved, index, n)
    sub_logits, sub_images, sub_targets = logits[index], images[index], pixel_targets[index]
    if not cfg.memory_saving:
        heatmaps = decoder.relevance_from(sub_logits, sub, sub_images).heatmaps
        loss = guided_loss(
            logits,
            labels,
            heatmaps,
            sub_targets,
            classification_weight=cfg.classification_weight,
            segmentation_weight=cfg.segmentation_weight,
            background=cfg.background,
            scale=scale,
            ignore_index=cfg.ignore_index,
        )
        loss.total.backward()
        total = float(loss.total.detach())
        cls, seg = float(loss.classification.detach()), float(loss.segmentation.detach())
    else:
        n_classes = logits.shape[1]
        with torch.no_grad():
            maps = torch.cat(
                [
                    decoder.relevance_from(sub_logits, sub, sub_images, classes=[k]).heatmaps
                    for k in range(n_classes)
                ],
                dim=1,
            )
        maps.requires_grad_(True)
        with torch.enable_grad():
            seg_t = heatmap_segmentation_loss(
                maps,
                sub_targets,
                background=cfg.background,
                scale=scale,
                ignore_index=cfg.ignore_index,
            )
            (grad,) = torch.autograd.grad(seg_t * cfg.segmentation_weight, maps)
        for k in range(n_classes):
            one = decoder.relevance_from(sub_logits, sub, sub_images, classes=[k]).heatmaps
            (one[:, 0] * grad[:, k]).sum().backward(retain_graph=True)
        cls_t = guided_loss(logits, labels, None, None).classification
        (cls_t * cfg.classification_weight).backward()
        cls, seg = float(cls_t.detach()), float(seg_t.detach())
        total = cfg.classification_weight * cls + cfg.segmentation_weight * seg
    return StepResult(total, cls, seg, correct, n, int(index.numel()))


@dataclass
class SegmentationScores:
    """Accumulated confusion of predicted vs true pixel labels, and accuracy.

    ``foreground_iou``: IoU of "any class" vs background (the object found, whatever
    the class). ``class_iou``: IoU of the pixels predicted as the image's true class
    against its object mask (dataset-level: summed intersections over summed unions).
    ``miou``: mean IoU over the labels (background and every class present).
    """

    n_labels: int
    confusion: Tensor | None = None
    correct: int = 0
    n_images: int = 0

    #: the scores :meth:`as_dict` reports, in order
    SCORES: ClassVar[tuple[str, ...]] = ("class_iou", "foreground_iou", "miou", "accuracy")

    def update(self, predicted: Tensor, target: Tensor, logits_correct: int | None = None) -> None:
        """Add (N, H, W) predicted and true pixel labels (and correct classifications)."""
        k = self.n_labels
        idx = target.reshape(-1).long() * k + predicted.reshape(-1).long().to(target.device)
        counts = torch.bincount(idx.cpu(), minlength=k * k).reshape(k, k)
        self.confusion = counts if self.confusion is None else self.confusion + counts
        self.n_images += int(target.shape[0])
        if logits_correct is not None:
            self.correct += int(logits_correct)

    def _iou(self, inter: Tensor, union: Tensor) -> float:
        return float(inter.sum()) / max(float(union.sum()), 1.0)

    @property
    def foreground_iou(self) -> float:
        c = self.confusion
        assert c is not None
        inter = c[1:, 1:].sum()
        union = c[1:, :].sum() + c[:, 1:].sum() - inter
        return self._iou(inter, union)

    @property
    def class_iou(self) -> float:
        c = self.confusion
        assert c is not None
        d = torch.diagonal(c)[1:]
        union = c[1:, :].sum(1) + c[:, 1:].sum(0) - d
        return self._iou(d.sum(), union.sum())

    @property
    def miou(self) -> float:
        c = self.confusion
        assert c is not None
        d = torch.diagonal(c).double()
        union = c.sum(0).double() + c.sum(1).double() - d
        present = c.sum(1) > 0
        return float((d[present] / union[present].clamp(min=1)).mean())

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.n_images, 1)

    def as_dict(self) -> dict[str, float]:
        """Plain floats for reports."""
        return {name: getattr(self, name) for name in self.SCORES}


def heatmap_segmentation(
    decoder: LRPDecoder,
    images: Tensor,
    *,
    background: float | None = 0.0,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Predicted pixel labels (argmax of background and class heatmaps) and logits.

    Args:
        decoder: the classifier's :class:`LRPDecoder`.
        images: (N, C, H, W) batch.
        background, scale: as in :class:`GuidanceConfig` (scale None: pixels per image).

    Returns:
        ``(labels, logits)``: (N, H, W) long and (N, classes), without graph.
    """
    h, w = images.shape[-2:]
    with torch.no_grad():
        out = decoder(images)
        s = float(h * w) if scale is None else float(scale)
        return segment_heatmaps(out.heatmaps, background=background, scale=s), out.logits
