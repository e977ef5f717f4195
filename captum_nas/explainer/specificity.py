"""Class specificity of an explanation: how much a wrong class's map covers.

Stalder et al. claim the Explainer's masks are class specific: the mask of a class
absent from the image covers little. :func:`class_areas` measures it for any method
from its maps for every class: the mean area of the true class's map against the
mean area of the other classes' maps on the same images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from captum_nas._validation import check_image_batch, check_positive_int, check_tensor, describe

AttributeFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class ClassAreas:
    """Mean map areas of the true class and of the other classes.

    Attributes:
        true_area: mean over images of the true class's map area.
        other_area: mean over images and wrong classes of their map areas.
        ratio: ``other_area / true_area`` (lower is more class specific; 1 means the map
            ignores the class).
        n_images: number of images.
    """

    true_area: float
    other_area: float
    ratio: float
    n_images: int


def class_maps(fn: AttributeFn, inputs: Tensor, n_classes: int) -> Tensor:
    """Maps of every class ``(N, K, H, W)``: ``fn(inputs, k)`` averaged over channels.

    Args:
        fn: ``fn(inputs, target) -> (N, C, H, W)`` (or ``(N, 1, H, W)``) map.
        inputs: images ``(N, C, H, W)``.
        n_classes: ``K``.

    Returns:
        ``(N, K, H, W)`` on the inputs' device.
    """
    x = check_image_batch(inputs)
    k = check_positive_int(n_classes, "n_classes")
    maps = []
    for c in range(k):
        target = torch.full((x.shape[0],), c, dtype=torch.long, device=x.device)
        m = fn(x, target)
        if not isinstance(m, Tensor) or m.dim() != 4 or m.shape[0] != x.shape[0]:
            raise ValueError(f"`fn` must return (N, C, H, W) maps, got {describe(m)}")
        maps.append(m.detach().float().mean(1))
    return torch.stack(maps, 1)


def class_areas(maps: Tensor, labels: Tensor, *, normalize: bool = False) -> ClassAreas:
    """Mean area of the true class's map vs the other classes' maps.

    The area of a map is the mean of its values over the pixels. With ``normalize``
    every image's maps (all classes) are first divided by the maximum of its
    true-class map, clamped to ``[0, 1]`` (for maps without a fixed scale, e.g.
    GradCAM); masks already in ``[0, 1]`` (the Explainer) need no normalisation.

    Args:
        maps: non-negative maps of every class ``(N, K, H, W)`` (:func:`class_maps`).
        labels: true class ids ``(N,)``.
        normalize: scale by the true-class map's maximum per image.

    Returns:
        A :class:`ClassAreas`.

    Example:
        >>> maps = torch.zeros(1, 2, 2, 2); maps[0, 0] = 1.0; maps[0, 1, 0, 0] = 1.0
        >>> class_areas(maps, torch.tensor([0]))
        ClassAreas(true_area=1.0, other_area=0.25, ratio=0.25, n_images=1)
    """
    check_tensor(maps, "maps")
    check_tensor(labels, "labels")
    if maps.dim() != 4 or maps.shape[1] < 2:
        raise ValueError(f"`maps` must be (N, K, H, W) with K >= 2, got {describe(maps)}")
    n, k = maps.shape[:2]
    if labels.shape != (n,) or labels.is_floating_point():
        raise ValueError(f"`labels` must be {n} integer class ids, got {describe(labels)}")
    if int(labels.min()) < 0 or int(labels.max()) >= k:
        raise ValueError(
            f"`labels` must lie in [0, {k}), got [{int(labels.min())}, {int(labels.max())}]"
        )
    m = maps.float()
    idx = torch.arange(n, device=m.device)
    lab = labels.to(m.device).long()
    if normalize:
        top = m[idx, lab].flatten(1).amax(1).clamp_min(1e-12)
        m = (m / top[:, None, None, None]).clamp(0, 1)
    areas = m.flatten(2).mean(2)  # (N, K)
    true = areas[idx, lab]
    others = areas.clone()
    others[idx, lab] = float("nan")
    true_area = float(true.mean())
    other_area = float(others.nanmean())
    ratio = other_area / true_area if true_area > 0 else float("nan")
    return ClassAreas(true_area, other_area, ratio, n)
