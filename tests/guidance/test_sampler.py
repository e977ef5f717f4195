"""Mixed batches of pixel-labelled and image-label-only images."""

from __future__ import annotations

import pytest

from captum_nas.guidance.sampler import MixedBatchSampler


def test_every_batch_mixes_and_every_unlabelled_image_is_seen_once() -> None:
    labelled, unlabelled = list(range(5)), list(range(5, 50))
    sampler = MixedBatchSampler(labelled, unlabelled, 8, labelled_per_batch=3, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 9  # ceil(45 / 5)
    seen = []
    for batch in batches:
        assert sum(i < 5 for i in batch) == 3
        seen += [i for i in batch if i >= 5]
    assert sorted(seen) == unlabelled
    # labelled images cycle: the first 5 draws cover all of them before any repeats
    draws = [i for batch in batches for i in batch if i < 5]
    assert sorted(draws[:5]) == labelled
    assert all(len(b) == 8 for b in batches[:-1]) and len(batches[-1]) == 3 + 5


def test_deterministic_per_epoch_and_different_across_epochs() -> None:
    a = MixedBatchSampler(range(4), range(4, 40), 6, labelled_per_batch=2, seed=3)
    b = MixedBatchSampler(range(4), range(4, 40), 6, labelled_per_batch=2, seed=3)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


def test_drop_last_and_only_labelled() -> None:
    s = MixedBatchSampler(range(2), range(2, 13), 4, labelled_per_batch=1, drop_last=True)
    assert len(s) == len(list(s)) == 3 and all(len(b) == 4 for b in s)
    only = MixedBatchSampler(range(10), [], 4, labelled_per_batch=2)
    batches = list(only)
    assert [len(b) for b in batches] == [4, 4, 2] == [len(b) for b in batches][: len(only)]
    assert sorted(i for b in batches for i in b) == list(range(10))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="labelled"):
        MixedBatchSampler([], range(5), 4, labelled_per_batch=1)
    with pytest.raises(ValueError, match="share"):
        MixedBatchSampler([1, 2], [2, 3], 4, labelled_per_batch=1)
    with pytest.raises(ValueError, match="labelled_per_batch"):
        MixedBatchSampler([1], [2, 3], 4, labelled_per_batch=5)
    with pytest.raises(ValueError, match="no room"):
        MixedBatchSampler([1], [2, 3], 4, labelled_per_batch=4)
    with pytest.raises(TypeError, match="labelled"):
        MixedBatchSampler(["a"], [2], 4, labelled_per_batch=1)  # type: ignore[list-item]
