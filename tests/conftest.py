"""Shared fixtures: tiny models for fast contract tests, the pretrained model for quality."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def _seeded_global_rng() -> Iterator[None]:
    """Every test starts from the same global torch and numpy RNG state, restored after.

    Tests that draw data without their own generator are thus reproducible, and no test
    leaks RNG state into the next.
    """
    np_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        np.random.seed(0)
        yield
    np.random.set_state(np_state)


class TinyCNN(nn.Module):
    """Three stages (stride 2 each) and a linear head: enough depths for NAS."""

    def __init__(self, in_channels: int = 3, n_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 8, 3, 2, 1), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(self.pool(x).flatten(1))


class ConvHead(nn.Module):
    """A 3x3 convolution (3 -> ``width`` channels, same size) and a linear head
    (``width`` -> ``n_classes``), with ``batch_norm`` a BatchNorm after the convolution;
    subclasses write the ``forward`` a test needs."""

    def __init__(self, width: int = 3, n_classes: int = 2, *, batch_norm: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        if batch_norm:
            self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, n_classes)


@pytest.fixture
def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return TinyCNN().eval()


@pytest.fixture(scope="session")
def lite0() -> nn.Module:
    from captum_nas.models.pretrained import efficientnet_lite0

    return efficientnet_lite0()


def hook_count(model: nn.Module) -> int:
    """Number of forward/backward hooks on all submodules."""
    total = 0
    for m in model.modules():
        for attr in (
            "_forward_hooks",
            "_forward_pre_hooks",
            "_backward_hooks",
            "_backward_pre_hooks",
        ):
            total += len(getattr(m, attr))
    return total
