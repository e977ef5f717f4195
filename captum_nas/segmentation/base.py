"""The segmenter contract and mask utilities.

The :class:`Segmenter` protocol is defined in :mod:`captum_nas._types` and re-exported
here. A segmenter is any callable ``segmenter(inputs) -> LongTensor (N, 1, H, W)`` whose ids
are contiguous ``0..K_i-1`` in each image: exactly a Captum ``feature_mask``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_nas._types import Segmenter as Segmenter
from captum_nas._validation import check_segments


def relabel_contiguous(segments: Tensor) -> Tensor:
    """Relabel ids to ``0..K_i-1`` per image, keeping their order.

    The one function that turns any id tensor into a Captum ``feature_mask``: it is
    applied where ids enter the library (segments or a ``feature_mask`` passed to a
    NAS* class, the output of any segmenter, the segments of the metrics), so memory
    and time depend on the number of segments, never on the largest id (an id of
    ``10**9`` costs what an id of 2 does). Each image is relabelled on its own (the
    ``torch.unique(..., return_inverse=True)`` of its ids, for the whole batch at
    once by a sort along every row when the ids exceed the pixel count).

    Args:
        segments: integer tensor (N, 1, H, W) (or (N, H, W)) with ids >= 0.

    Returns:
        LongTensor of the same shape and device where the ids of each image are
        contiguous and ordered as the original ids.

    Example:
        >>> relabel_contiguous(torch.tensor([[[[3, 3, 7, 9]]]]))
        tensor([[[[0, 0, 1, 2]]]])
        >>> relabel_contiguous(torch.tensor([[[[10**9, 0, 7, 0]]]]))
        tensor([[[[2, 0, 1, 0]]]])
    """
    seg = segments.long()
    if seg.numel() == 0:
        return seg
    if int(seg.min()) < 0:
        raise ValueError(f"`segments` has negative ids (min {int(seg.min())})")
    n = seg.shape[0]
    flat = seg.reshape(n, -1)
    size = int(flat.max()) + 1
    if size <= flat.shape[1]:
        # ids bounded by the pixel count: a presence table, O(pixels)
        present = torch.zeros(n, size, dtype=torch.long, device=seg.device)
        present.scatter_(1, flat, 1)
        new_ids = present.cumsum(1) - 1
        return new_ids.gather(1, flat).reshape(seg.shape)
    # large ids: rank of every id among the sorted distinct ids of its row
    ordered, order = flat.sort(dim=1)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = starts.long().cumsum(1) - 1
    return torch.empty_like(flat).scatter_(1, order, ranks).reshape(seg.shape)


def batch_ids(labels: Tensor, n_labels: int) -> Tensor:
    """Ids (N, ...) in ``0..n_labels-1`` as one flat index ``image * n_labels + id``
    (N * ...,) into the batch's (N * n_labels) rows.

    Example:
        >>> batch_ids(torch.tensor([[0, 1], [1, 0]]), 2)
        tensor([0, 1, 3, 2])
    """
    n = labels.shape[0]
    offset = torch.arange(n, device=labels.device) * n_labels
    return (labels + offset.view(n, *[1] * (labels.dim() - 1))).reshape(-1)


#: ids below this bound are accepted by :func:`check_id_bound` whatever the image size
MIN_ID_BOUND = 2**16


def check_id_bound(segments: Tensor, name: str = "segments") -> Tensor:
    """Reject ids that a table indexed by id could not hold.

    For functions whose output has one slot per id (``segment_pool``'s scores, sized
    by the largest id + 1): an image of ``H * W`` pixels has at most ``H * W``
    segments, so ids at or above ``max(H * W, 2**16)`` can only be sparse labels, and a
    table sized by them could need gigabytes (an id of ``10**9`` asks for 8 GB per
    image and channel). Relabel such masks first with :func:`relabel_contiguous`.

    Args:
        segments: integer ids (N, 1, H, W) with ids >= 0.
        name: the argument name used in error messages.

    Returns:
        The same tensor.

    Raises:
        ValueError: an id is >= ``max(H * W, 2**16)``.

    Example:
        >>> check_id_bound(torch.tensor([[[[0, 70000]]]]))
        Traceback (most recent call last):
        ...
        ValueError: `segments` has id 70000, ...
    """
    bound = max(int(segments.shape[-2]) * int(segments.shape[-1]), MIN_ID_BOUND)
    top = int(segments.max()) if segments.numel() else 0
    if top >= bound:
        raise ValueError(
            f"`{name}` has id {top}, ids must be below {bound} (the larger of the "
            f"pixel count and 2**16): the result has one slot per id (largest id + 1), "
            f"so relabel the ids to 0..K-1 first with "
            f"captum_nas.segmentation.relabel_contiguous"
        )
    return segments


def n_segments_per_image(segments: Tensor) -> Tensor:
    """Number of segments K_i of each image of a contiguous mask, as LongTensor (N,)."""
    seg = check_segments(segments)
    return seg.reshape(seg.shape[0], -1).amax(1) + 1


def is_contiguous(segments: Tensor) -> bool:
    """True when every image's ids are exactly ``0..K_i-1``."""
    seg = segments.long()
    return bool(torch.equal(relabel_contiguous(seg), seg))
