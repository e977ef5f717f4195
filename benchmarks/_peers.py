"""Peer implementations run on our inputs, shared by the benchmarks and the parity tests.

Quantus IROF (0.6) needs three adjustments to score the same work as
:func:`captum_nas.metrics.relevance_curve`: its superpixel hook is pointed at our
segments instead of SLIC, its mask perturbation broadcasts over channels (the default
asserts equal shapes and fails on RGB input) and ``np.trapz``, which NumPy 2 removed,
is aliased to ``np.trapezoid`` (the same rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from torch import nn


@contextmanager
def _quantus_patched(segments: np.ndarray) -> Iterator[None]:
    """Feed Quantus IROF our segments (one per image, in order), and alias np.trapz."""
    from quantus.helpers import utils as qutils

    original = qutils.get_superpixel_segments
    had_trapz = hasattr(np, "trapz")
    queue = iter(list(segments))

    def fixed_segments(img: np.ndarray, segmentation_method: str) -> np.ndarray:
        return next(queue)

    qutils.get_superpixel_segments = fixed_segments
    if not had_trapz:
        np.trapz = np.trapezoid  # type: ignore[attr-defined]
    try:
        yield
    finally:
        qutils.get_superpixel_segments = original
        if not had_trapz:
            del np.trapz  # type: ignore[attr-defined]


def _broadcast_mask_perturb(arr: np.ndarray, mask: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Quantus' zero replacement of the masked pixels, broadcasting the mask over channels."""
    return np.where(mask, 0.0, arr).astype(arr.dtype)


def quantus_irof(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    attributions: np.ndarray,
    segments: np.ndarray,
    *,
    device: str = "cpu",
    batch_size: int = 64,
) -> np.ndarray:
    """Quantus IROF scores (one per image) on our segments, zeros baseline, softmax scores.

    Args:
        model: the classifier, on ``device``.
        x: inputs (N, C, H, W).
        y: targets (N,).
        attributions: (N, 1, H, W).
        segments: ids (N, H, W), used instead of Quantus' SLIC.
        device: where Quantus runs the model.
        batch_size: images per Quantus batch.
    """
    import quantus

    metric = quantus.IROF(
        perturb_func=_broadcast_mask_perturb,
        normalise=False,
        abs=False,
        return_aggregate=False,
        disable_warnings=True,
    )
    with _quantus_patched(segments):
        return np.array(
            metric(
                model=model,
                x_batch=x,
                y_batch=y,
                a_batch=attributions,
                device=device,
                softmax=True,
                batch_size=batch_size,
            )
        )
