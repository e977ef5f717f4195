"""Batches that mix pixel-labelled images with image-label-only images.

With few pixel labels, a plain shuffle would leave most batches without any: the
segmentation loss would act rarely and noisily. :class:`MixedBatchSampler` puts a
fixed number of pixel-labelled images in every batch (cycling through them, each
cycle in a new order) and fills the rest with image-label-only images (each visited
once per epoch).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from captum_nas._validation import check_positive_int, describe


def _indices(values: Sequence[int] | torch.Tensor, name: str) -> list[int]:
    if isinstance(values, torch.Tensor):
        values = values.reshape(-1).tolist()
    if not isinstance(values, Sequence) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(f"`{name}` must be a sequence of ints, got {describe(values)}")
    return [int(v) for v in values]


class MixedBatchSampler(Sampler[list[int]]):
    """Batch sampler: ``labelled_per_batch`` pixel-labelled indices in every batch.

    An epoch visits every image-label-only index once (in a seeded random order), in
    batches of ``batch_size - labelled_per_batch`` of them plus ``labelled_per_batch``
    pixel-labelled indices drawn without replacement from a reshuffled cycle. Pass it
    as ``batch_sampler`` to a ``DataLoader``. Call :meth:`set_epoch` to get another
    order each epoch (the order is a pure function of ``seed`` and the epoch).

    Args:
        labelled: indices of images with pixel labels (at least one).
        unlabelled: indices of images with only an image label (may be empty: then
            an epoch covers the labelled images once, ``batch_size`` at a time).
        batch_size: images per batch.
        labelled_per_batch: pixel-labelled images per batch (<= batch_size).
        seed: seed of the orders.
        drop_last: drop a last incomplete batch.

    Example:
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> sampler = MixedBatchSampler(range(10), range(10, 1000), 32, labelled_per_batch=8)
        >>> dataset = TensorDataset(torch.arange(1000))
        >>> loader = DataLoader(dataset, batch_sampler=sampler)
        >>> (first,) = next(iter(loader))
        >>> len(first), int((first < 10).sum())     # 8 of the 32 are pixel-labelled
        (32, 8)
    """

    def __init__(
        self,
        labelled: Sequence[int] | torch.Tensor,
        unlabelled: Sequence[int] | torch.Tensor,
        batch_size: int,
        *,
        labelled_per_batch: int,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.labelled = _indices(
            list(labelled) if isinstance(labelled, range) else labelled, "labelled"
        )
        self.unlabelled = _indices(
            list(unlabelled) if isinstance(unlabelled, range) else unlabelled, "unlabelled"
        )
        if not self.labelled:
            raise ValueError("`labelled` is empty: at least one pixel-labelled image is needed")
        overlap = set(self.labelled) & set(self.unlabelled)
        if overlap:
            raise ValueError(
                f"`labelled` and `unlabelled` share indices, e.g. {sorted(overlap)[:5]}"
            )
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.labelled_per_batch = check_positive_int(labelled_per_batch, "labelled_per_batch")
        if self.labelled_per_batch > self.batch_size:
            raise ValueError(
                f"`labelled_per_batch` ({labelled_per_batch}) must be <= `batch_size` "
                f"({batch_size})"
            )
        if self.unlabelled and self.labelled_per_batch == self.batch_size:
            raise ValueError(
                "`labelled_per_batch` equals `batch_size`: no room for the image-label-only "
                "images; lower it or pass no unlabelled indices"
            )
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` on the next iteration."""
        self.epoch = check_positive_int(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        if not self.unlabelled:
            n, per = len(self.labelled), self.batch_size
        else:
            n, per = len(self.unlabelled), self.batch_size - self.labelled_per_batch
        return n // per if self.drop_last else math.ceil(n / per)

    def __iter__(self) -> Iterator[list[int]]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        cycle: list[int] = []

        def take_labelled(k: int) -> list[int]:
            out: list[int] = []
            while len(out) < k:
                if not cycle:
                    perm = torch.randperm(len(self.labelled), generator=gen).tolist()
                    cycle.extend(self.labelled[i] for i in perm)
                out.append(cycle.pop())
            return out

        if not self.unlabelled:
            order = [self.labelled[i] for i in torch.randperm(len(self.labelled), generator=gen)]
            per = self.batch_size
            for start in range(0, len(order), per):
                chunk = order[start : start + per]
                if len(chunk) == per or not self.drop_last:
                    yield chunk
            return
        per = self.batch_size - self.labelled_per_batch
        order = [self.unlabelled[i] for i in torch.randperm(len(self.unlabelled), generator=gen)]
        for start in range(0, len(order), per):
            chunk = order[start : start + per]
            if len(chunk) < per and self.drop_last:
                return
            yield take_labelled(self.labelled_per_batch) + chunk
