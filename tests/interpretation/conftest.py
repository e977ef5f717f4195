"""A hand-made network whose class is decided by one known channel, and its data."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

#: channel of ``features`` that decides the class
DECIDING_CHANNEL = 2


class KnownChannelNet(nn.Module):
    """``features``: a 1x1 conv copying input channel 2 to channel 2 (the deciding one)
    and mixing only input channels 0 and 1 into channels 0, 1, 3, 4, 5; ReLU; a strided
    ``down`` layer; a head that reads the pooled energy of channel 2."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 1, bias=False), nn.ReLU())
        self.down = nn.Sequential(nn.Conv2d(6, 6, 3, stride=2, padding=1, bias=False), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 2)
        with torch.no_grad():
            w = torch.zeros(6, 3)
            w[DECIDING_CHANNEL, 2] = 1.0
            mix = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.3], [0.3, 0.7], [0.5, 0.5]])
            w[[0, 1, 3, 4, 5], :2] = mix
            self.features[0].weight.copy_(w.view(6, 3, 1, 1))
            self.down[0].weight.zero_()
            for c in range(6):
                self.down[0].weight[c, c] = 1.0 / 9.0
            self.fc.weight.zero_()
            self.fc.weight[1, DECIDING_CHANNEL] = 10.0
            self.fc.bias.copy_(torch.tensor([3.1, 0.0]))  # pooled channel 2: ~0.23 vs ~0.4

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.down(self.features(x))).flatten(1))


def known_channel_data(n: int, seed: int = 0, size: int = 16) -> tuple[Tensor, Tensor, Tensor]:
    """Images, labels and square masks: class 1 images have a bright square in input
    channel 2 at a random place; all channels carry non-negative noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 0.5
    labels = torch.arange(n) % 2
    masks = torch.zeros(n, 1, size, size, dtype=torch.bool)
    side = size // 4
    for i in range(n):
        r, c = torch.randint(0, size - side + 1, (2,), generator=g).tolist()
        masks[i, 0, r : r + side, c : c + side] = True
        if labels[i] == 1:
            x[i, 2, r : r + side, c : c + side] += 3.0
    return x, labels, masks


@pytest.fixture
def known_net() -> KnownChannelNet:
    return KnownChannelNet().eval()
