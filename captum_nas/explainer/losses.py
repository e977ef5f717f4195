"""The loss terms of the Explainer (Stalder et al., "What You See is What You Classify", 2022).

The Explainer outputs one mask logit map per class, ``(N, K, H, W)``; the masks are
their sigmoids. For labels ``y`` the *target mask* is the sigmoid of the largest logit
over the labelled classes (for one label per image: that class's mask) and the
*non-target mask* the sigmoid of the largest logit over the other classes. With ``x``
the classifier's input (normalised images, so a masked-out pixel becomes the data
mean) the training loss is::

    classification_loss(f(m_t * x), y)               # keep what the class needs
    + entropy_weight   * entropy_loss(f((1 - m_t) * x))  # nothing of it is left outside
    + tv_weight        * (total_variation(m_t) + total_variation(m_nt))
    + area_weight      * area_loss(masks, y, min_area, max_area)
    + mean_target_weight    * mean_mask_loss(m_t)
    + mean_nontarget_weight * mean_mask_loss(m_nt)

with the defaults of the authors' code: every weight 1 except 0.1 (mean target mask)
and 0.3 (mean non-target mask), ``min_area=0.05``, ``max_area=0.3``. Each term is a
function of its own here, so it can be tested, reweighted or replaced;
:func:`explainer_loss` puts them together.

Labels are class ids ``(N,)`` (one class per image, cross-entropy) or multi-hot
``(N, K)`` (several classes, binary cross-entropy, as in the paper's VOC and COCO
runs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_nas._validation import check_number, check_tensor, describe

#: Defaults of the loss weights and area bounds (Stalder et al., their public code).
DEFAULT_WEIGHTS: dict[str, float] = {
    "entropy_weight": 1.0,
    "tv_weight": 1.0,
    "area_weight": 1.0,
    "mean_target_weight": 0.1,
    "mean_nontarget_weight": 0.3,
    "min_area": 0.05,
    "max_area": 0.3,
}


def label_matrix(labels: Tensor, n_classes: int, name: str = "labels") -> Tensor:
    """Labels as a boolean ``(N, K)`` matrix, checked against ``n_classes``.

    Args:
        labels: class ids ``(N,)`` (integer) or a multi-hot ``(N, K)`` matrix (0/1 or
            bool; every image needs at least one class).
        n_classes: ``K``, the number of classes (masks) of the Explainer.
        name: argument name used in error messages.

    Returns:
        Bool tensor ``(N, K)`` on the labels' device.

    Raises:
        TypeError: not a tensor, or class ids that are not integers.
        ValueError: ids out of ``[0, n_classes)``, a multi-hot matrix with another
            width or values other than 0 and 1, or an image without any class.

    Example:
        >>> label_matrix(torch.tensor([2, 0]), 3)
        tensor([[False, False,  True],
                [ True, False, False]])
    """
    check_tensor(labels, name)
    if labels.dim() == 1:
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(f"`{name}` as class ids must be integers, got dtype {labels.dtype}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
            raise ValueError(
                f"`{name}` must hold class ids in [0, {n_classes}) (the Explainer has "
                f"{n_classes} masks), got values in [{int(labels.min())}, {int(labels.max())}]"
            )
        return F.one_hot(labels.long(), n_classes).bool()
    if labels.dim() == 2:
        if labels.shape[1] != n_classes:
            raise ValueError(
                f"`{name}` as a multi-hot matrix must have {n_classes} columns (one per "
                f"mask), got shape {tuple(labels.shape)}"
            )
        if labels.dtype != torch.bool and not bool(((labels == 0) | (labels == 1)).all()):
            raise ValueError(f"`{name}` as a multi-hot matrix must hold only 0 and 1")
        out = labels.bool()
        if not bool(out.any(1).all()):
            raise ValueError(f"`{name}`: every image needs at least one labelled class")
        return out
    raise ValueError(
        f"`{name}` must be class ids (N,) or a multi-hot matrix (N, K), got {describe(labels)}"
    )


def _check_mask_logits(mask_logits: Tensor, name: str = "mask_logits") -> Tensor:
    check_tensor(mask_logits, name)
    if mask_logits.dim() != 4:
        raise ValueError(f"`{name}` must have shape (N, K, H, W), got {describe(mask_logits)}")
    if not mask_logits.is_floating_point():
        raise TypeError(f"`{name}` must be floating point, got dtype {mask_logits.dtype}")
    return mask_logits


def extract_masks(mask_logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Target and non-target masks ``(N, H, W)`` from the Explainer's logits.

    The target mask is ``sigmoid(max over labelled classes of the logits)``, the
    non-target mask the same over the other classes (all zeros when there is none).

    Args:
        mask_logits: Explainer output ``(N, K, H, W)``.
        labels: class ids ``(N,)`` or multi-hot ``(N, K)``.

    Returns:
        ``(target_mask, non_target_mask)``, each ``(N, H, W)`` in ``[0, 1]``.

    Example:
        >>> logits = torch.zeros(1, 3, 2, 2); logits[0, 1] = 2.0
        >>> t, nt = extract_masks(logits, torch.tensor([1]))
        >>> t[0, 0, 0].item(), nt[0, 0, 0].item()  # sigmoid(2), sigmoid(0)
        (0.8807..., 0.5)
    """
    logits = _check_mask_logits(mask_logits)
    lab = label_matrix(labels, logits.shape[1]).to(logits.device)
    if lab.shape[0] != logits.shape[0]:
        raise ValueError(f"`labels` has {lab.shape[0]} images, `mask_logits` {logits.shape[0]}")
    sel = lab[:, :, None, None]
    neg_inf = torch.tensor(float("-inf"), dtype=logits.dtype, device=logits.device)
    target = torch.where(sel, logits, neg_inf).amax(1).sigmoid()
    non_target = torch.where(sel, neg_inf, logits).amax(1).sigmoid()
    return target, non_target


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """How badly the classifier recognises the labelled classes on the masked images.

    Cross-entropy for class ids ``(N,)``; binary cross-entropy with logits for a
    multi-hot ``(N, K)`` matrix (mean over images and classes).

    Args:
        logits: classifier output on ``target_mask * x``, ``(N, K)``.
        labels: class ids ``(N,)`` or multi-hot ``(N, K)``.

    Returns:
        A scalar tensor.

    Example:
        >>> classification_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))  # log 2
        tensor(0.6931)
    """
    check_tensor(logits, "logits")
    if logits.dim() != 2:
        raise ValueError(f"`logits` must have shape (N, K), got {describe(logits)}")
    lab = label_matrix(labels, logits.shape[1])
    if labels.dim() == 1:
        return F.cross_entropy(logits, labels.to(logits.device).long())
    return F.binary_cross_entropy_with_logits(logits, lab.to(logits).to(logits.device))


def entropy_loss(logits: Tensor, *, min_prob: float = 1e-16) -> Tensor:
    """Minus the classifier's entropy on the inverted images (minimising it maximises it).

    ``-mean over images and classes of (-p log p)`` with ``p = softmax(logits)``
    clamped below at ``min_prob`` (the authors' scaling: the mean over the K classes,
    i.e. the entropy divided by K). Its minimum, ``-log(K) / K``, is reached by the
    uniform prediction: nothing of the class is left outside the mask.

    Args:
        logits: classifier output on ``(1 - target_mask) * x``, ``(N, K)``.
        min_prob: lower clamp of the probabilities (keeps ``log`` finite).

    Returns:
        A scalar tensor.

    Example:
        >>> entropy_loss(torch.zeros(1, 4))  # uniform: -log(4) / 4
        tensor(-0.3466)
    """
    check_tensor(logits, "logits")
    if logits.dim() != 2:
        raise ValueError(f"`logits` must have shape (N, K), got {describe(logits)}")
    check_number(min_prob, "min_prob", minimum=0.0, maximum=1.0, strict_min=True)
    p = logits.softmax(-1).clamp(min=min_prob)
    return (p * p.log()).mean()


def _as_mask_batch(masks: Tensor, name: str) -> Tensor:
    check_tensor(masks, name)
    if masks.dim() == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.dim() != 3:
        raise ValueError(
            f"`{name}` must have shape (N, H, W) or (N, 1, H, W), got {describe(masks)}"
        )
    if not masks.is_floating_point():
        raise TypeError(f"`{name}` must be floating point, got dtype {masks.dtype}")
    return masks


def total_variation(masks: Tensor) -> Tensor:
    """Mean absolute difference of every mask pixel with its right and lower neighbours.

    ``mean over (n, i, j) of |m[i, j] - m[i, j+1]| + |m[i, j] - m[i+1, j]|``, where the
    neighbour past the last column (row) is the mirror image (reflect padding), as in
    the authors' convolution with ``[1, -1]`` kernels: the last column repeats the
    difference with the column before it.

    Args:
        masks: ``(N, H, W)`` or ``(N, 1, H, W)``, at least 2x2.

    Returns:
        A scalar tensor.

    Example:
        >>> total_variation(torch.tensor([[[0.0, 1.0], [0.0, 1.0]]]))  # every pixel: 1
        tensor(1.)
    """
    m = _as_mask_batch(masks, "masks")
    if min(m.shape[-2:]) < 2:
        raise ValueError(f"`masks` must be at least 2x2 for reflect padding, got {describe(masks)}")
    padded = F.pad(m[:, None], (0, 1, 0, 1), mode="reflect")[:, 0]
    right = (m - padded[:, :-1, 1:]).abs()
    down = (m - padded[:, 1:, :-1]).abs()
    return (right + down).mean()


def area_loss(
    masks: Tensor,
    labels: Tensor,
    *,
    min_area: float = 0.05,
    max_area: float = 0.3,
) -> Tensor:
    """Keep each labelled class mask between ``min_area`` and ``max_area`` of the image.

    The mask values are sorted in descending order and compared with two step
    functions: the first ``floor(min_area * H * W)`` values should be at least 1 (else
    the shortfall counts), and the values after the first ``floor(max_area * H * W)``
    at most 0 (else the excess counts). The loss of one mask is the mean over pixels of
    ``relu(step_min - sorted) + relu(sorted - step_max)``; an image sums it over its
    labelled classes; the result is the mean over images.

    Args:
        masks: class masks ``(N, K, H, W)`` in ``[0, 1]`` (sigmoid of the logits).
        labels: class ids ``(N,)`` or multi-hot ``(N, K)``.
        min_area: smallest fraction of the image a labelled mask should cover.
        max_area: largest fraction (``min_area <= max_area``).

    Returns:
        A scalar tensor.

    Example:
        >>> m = torch.zeros(1, 1, 2, 2); m[0, 0, 0, 0] = 1.0
        >>> area_loss(m, torch.tensor([0]), min_area=0.5, max_area=0.5)  # one pixel short
        tensor(0.2500)
    """
    m = _check_mask_logits(masks, "masks")
    lo = check_number(min_area, "min_area", minimum=0.0, maximum=1.0)
    hi = check_number(max_area, "max_area", minimum=0.0, maximum=1.0)
    if lo > hi:
        raise ValueError(f"`min_area` ({lo}) must be <= `max_area` ({hi})")
    n, k, h, w = m.shape
    lab = label_matrix(labels, k).to(m.device)
    if lab.shape[0] != n:
        raise ValueError(f"`labels` has {lab.shape[0]} images, `masks` {n}")
    hw = h * w
    image_of, class_of = lab.nonzero(as_tuple=True)
    values = m.reshape(n, k, hw)[image_of, class_of].sort(dim=1, descending=True).values
    rank = torch.arange(hw, device=m.device)
    step_min = (rank < int(hw * lo)).to(m.dtype)
    step_max = (rank < int(hw * hi)).to(m.dtype)
    per_mask = (F.relu(step_min - values) + F.relu(values - step_max)).mean(1)
    per_image = torch.zeros(n, dtype=m.dtype, device=m.device).index_add(0, image_of, per_mask)
    return per_image.mean()


def mean_mask_loss(mask: Tensor) -> Tensor:
    """The mean of a mask (small penalty that keeps target and non-target masks small).

    Args:
        mask: any floating tensor, e.g. the target or non-target mask ``(N, H, W)``.

    Returns:
        A scalar tensor.

    Example:
        >>> mean_mask_loss(torch.tensor([[[1.0, 0.0], [0.0, 0.0]]]))
        tensor(0.2500)
    """
    check_tensor(mask, "mask")
    if not mask.is_floating_point():
        raise TypeError(f"`mask` must be floating point, got dtype {mask.dtype}")
    return mask.mean()


@dataclass
class ExplainerLoss:
    """The total loss and its weighted terms.

    Attributes:
        total: the scalar to minimise (with its graph).
        terms: each weighted term as a float, for logging: ``classification``,
            ``entropy``, ``tv``, ``area``, ``mean_target``, ``mean_nontarget``.
        masked_correct: images whose masked version the classifier still puts in
            their (first) labelled class.
    """

    total: Tensor
    terms: dict[str, float] = field(default_factory=dict)
    masked_correct: int = 0


def explainer_loss(
    classifier: Callable[[Tensor], Tensor],
    images: Tensor,
    mask_logits: Tensor,
    labels: Tensor,
    *,
    entropy_weight: float = 1.0,
    tv_weight: float = 1.0,
    area_weight: float = 1.0,
    mean_target_weight: float = 0.1,
    mean_nontarget_weight: float = 0.3,
    min_area: float = 0.05,
    max_area: float = 0.3,
) -> ExplainerLoss:
    """The Explainer's training loss on one batch (see the module docstring).

    Runs the classifier twice: on ``target_mask * images`` and on
    ``(1 - target_mask) * images``.

    Args:
        classifier: the frozen classifier, images ``(N, C, H, W)`` -> logits ``(N, K)``.
        images: the classifier's inputs ``(N, C, H, W)``.
        mask_logits: the Explainer's output on ``images``, ``(N, K, H, W)``.
        labels: class ids ``(N,)`` or multi-hot ``(N, K)``.
        entropy_weight: weight of :func:`entropy_loss`.
        tv_weight: weight of :func:`total_variation` (target plus non-target mask).
        area_weight: weight of :func:`area_loss`.
        mean_target_weight: weight of the mean target mask.
        mean_nontarget_weight: weight of the mean non-target mask.
        min_area: :func:`area_loss`'s lower bound.
        max_area: :func:`area_loss`'s upper bound.

    Returns:
        An :class:`ExplainerLoss`.

    Raises:
        ValueError: masks of another batch or spatial size than ``images``, labels out
            of range, or a classifier with another number of classes than masks.
    """
    check_tensor(images, "images")
    logits = _check_mask_logits(mask_logits)
    if images.dim() != 4:
        raise ValueError(f"`images` must have shape (N, C, H, W), got {describe(images)}")
    if logits.shape[0] != images.shape[0] or logits.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"the Explainer's masks have shape {tuple(logits.shape)} but the images "
            f"{tuple(images.shape)}: masks must be (N, K, H, W) with the images' N, H and W"
        )
    weights = {
        "entropy_weight": entropy_weight,
        "tv_weight": tv_weight,
        "area_weight": area_weight,
        "mean_target_weight": mean_target_weight,
        "mean_nontarget_weight": mean_nontarget_weight,
    }
    w = {key: check_number(v, key, minimum=0.0) for key, v in weights.items()}
    target, non_target = extract_masks(logits, labels)
    masked = classifier(target[:, None] * images)
    k = logits.shape[1]
    if not isinstance(masked, Tensor) or masked.dim() != 2 or masked.shape[1] != k:
        raise ValueError(
            f"the classifier returned {describe(masked)} but the Explainer has {k} masks: "
            f"the classifier must return logits (N, {k}), one per Explainer class"
        )
    inverted = classifier((1.0 - target)[:, None] * images)
    terms = {
        "classification": classification_loss(masked, labels),
        "entropy": w["entropy_weight"] * entropy_loss(inverted),
        "tv": w["tv_weight"] * (total_variation(target) + total_variation(non_target)),
        "area": w["area_weight"]
        * area_loss(logits.sigmoid(), labels, min_area=min_area, max_area=max_area),
        "mean_target": w["mean_target_weight"] * mean_mask_loss(target),
        "mean_nontarget": w["mean_nontarget_weight"] * mean_mask_loss(non_target),
    }
    total = torch.stack(list(terms.values())).sum()
    first = label_matrix(labels, k).to(masked.device).float().argmax(1)
    correct = int((masked.detach().argmax(1) == first).sum())
    return ExplainerLoss(total, {key: float(v.detach()) for key, v in terms.items()}, correct)
