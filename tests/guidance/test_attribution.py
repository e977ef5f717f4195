"""GuidedLRP as a Captum attribution: values, Captum pipelines, NAS pooling."""

from __future__ import annotations

import pytest
import torch
from captum.attr import LRP, NoiseTunnel
from captum.attr._utils.lrp_rules import EpsilonRule
from torch import nn

from captum_nas.attr import SuperpixelAttribution
from captum_nas.guidance.attribution import GuidedLRP, build
from captum_nas.segmentation import GridSegmenter


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1))


def test_matches_captum_lrp_and_follows_captum_conventions() -> None:
    model = Net().eval()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([0, 3, 1])
    attr = GuidedLRP(model, epsilon=1e-9).attribute(x, target=target)
    assert attr.shape == x.shape and attr.is_contiguous() and not attr.requires_grad
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AdaptiveAvgPool2d)):
            m.rule = EpsilonRule(1e-9)
    ref = LRP(model).attribute(x.clone(), target=target).detach()
    torch.testing.assert_close(attr, ref, rtol=1e-4, atol=1e-8)
    default = GuidedLRP(model).attribute(x)  # predicted class
    predicted = model(x).argmax(1)
    torch.testing.assert_close(default, GuidedLRP(model).attribute(x, target=predicted))


def test_keep_graph_and_pipelines() -> None:
    model = Net().eval()
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    kept = GuidedLRP(model).attribute(x, target=1, keep_graph=True)
    kept.sum().backward()
    assert model.fc.weight.grad is not None
    nt = NoiseTunnel(GuidedLRP(model)).attribute(x, target=1, nt_samples=2, stdevs=0.01)
    assert nt.shape == x.shape
    pooled = SuperpixelAttribution(GuidedLRP(model), GridSegmenter(4)).attribute(x, target=1)
    assert pooled.shape == x.shape
    # pooled values are constant on every grid cell
    cells = pooled[0].sum(0).reshape(2, 8, 2, 8)
    assert torch.allclose(cells, cells[:, :1, :, :1].expand_as(cells))


def test_registry_build_and_bad_input() -> None:
    from types import SimpleNamespace

    ctx = SimpleNamespace(options={"epsilon": "0.01", "rule": "epsilon", "ignored": 1})
    lrp = build(Net().eval(), ctx)
    assert lrp.decoder.rule.epsilon == pytest.approx(0.01)
    with pytest.raises(TypeError, match="model"):
        GuidedLRP(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="additional_forward_args"):
        GuidedLRP(Net()).attribute(torch.randn(1, 3, 8, 8), target=0, additional_forward_args=(1,))
