"""ExplainerNet: shapes, any input size, and the output check of mask_logits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_nas.explainer.network import ExplainerNet, mask_logits


@pytest.mark.parametrize("size", [(32, 32), (37, 50), (128, 128)])
def test_masks_at_the_input_size(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    net = ExplainerNet(4, widths=(4, 4, 8, 8)).eval()
    out = net(torch.randn(2, 3, *size))
    assert out.shape == (2, 4, *size)
    assert torch.isfinite(out).all()


def test_config_rebuilds_the_same_network() -> None:
    torch.manual_seed(0)
    net = ExplainerNet(3, in_channels=1, widths=(4, 8, 8, 16)).eval()
    clone = ExplainerNet(**{**net.config(), "widths": tuple(net.config()["widths"])}).eval()
    clone.load_state_dict(net.state_dict())
    x = torch.randn(1, 1, 32, 32)
    assert torch.equal(net(x), clone(x))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="4 entries"):
        ExplainerNet(3, widths=(4, 4))
    with pytest.raises(ValueError, match="n_classes"):
        ExplainerNet(0)


class _Half(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :2, ::2, ::2]


class _Dict(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": x[:, :2] * 2.0}


def test_mask_logits_checks_the_size_and_reads_dicts() -> None:
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"masks of shape \(2, 2, 4, 4\).*inputs' size \(8, 8\)"):
        mask_logits(_Half(), x)
    assert torch.equal(mask_logits(_Dict(), x), x[:, :2] * 2.0)
    with pytest.raises(ValueError, match="mask logits"):
        mask_logits(nn.Flatten(), x)
