"""The evaluation data-set registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import io

from captum_nas.evaluation.data import flowers_batches
from captum_nas.evaluation.datasets import (
    DatasetSpec,
    dataset_names,
    get_dataset,
    register_dataset,
)
from captum_nas.images import Normalizer


def test_names_aliases_and_model_pairing() -> None:
    assert {"flowers", "flowers-double", "folder"} <= set(dataset_names())
    assert get_dataset("Flowers-Single") is get_dataset("flowers")
    assert get_dataset("flowers").default_model == "reference"
    assert get_dataset("flowers-double").default_model == "reference-double"
    with pytest.raises(ValueError, match="did you mean 'flowers-double'"):
        get_dataset("flowers-dubble")
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DatasetSpec("flowers", flowers_batches, "reference"))


def test_flowers_batches_are_the_library_batches() -> None:
    norm = Normalizer((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    ours = list(
        get_dataset("flowers-double").batches(
            n=3, batch_size=2, seed=4, image_size=48, normalizer=norm
        )
    )
    direct = list(
        flowers_batches("double", n=3, batch_size=2, image_size=48, seed=4, normalizer=norm)
    )
    assert [len(b) for b in ours] == [2, 1]
    for a, b in zip(ours, direct):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
        assert a.names == b.names


def test_folder_reads_a_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "masks").mkdir()
    for i in range(3):
        io.imsave(tmp_path / f"im{i}.png", rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
        mask = np.zeros((20, 30), np.uint8)
        mask[5:15, 10:20] = 255
        io.imsave(tmp_path / "masks" / f"im{i}.png", mask, check_contrast=False)
    batches = list(
        get_dataset("folder").batches(n=2, batch_size=4, root=str(tmp_path), image_size=16)
    )
    assert len(batches) == 1 and batches[0].images.shape == (2, 3, 16, 16)
    assert batches[0].names == ["im0.png", "im1.png"]
