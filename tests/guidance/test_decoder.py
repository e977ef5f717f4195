"""The LRP decoder against Captum's LRP, conservation, gradients and model safety."""

from __future__ import annotations

import pytest
import torch
import torchvision
from captum.attr import LRP
from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule
from torch import nn

from captum_nas.guidance import LRPDecoder, lrp_heatmaps
from captum_nas.models.reference import FlowerCNN
from tests.conftest import ConvHead

_RULED = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)


class Chain(nn.Module):
    """Every supported leaf type in one chain (Captum's LRP supports all of them)."""

    def __init__(self, bias: bool = True, bn: bool = True) -> None:
        super().__init__()
        norm = [nn.BatchNorm2d(8)] if bn else []
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=bias),
            *norm,
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),  # overlapping windows
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=bias),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(16, 16, 1, bias=bias),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.fc = nn.Linear(64, 5, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


def _chain(bias: bool = True, bn: bool = True, seed: int = 0) -> Chain:
    torch.manual_seed(seed)
    model = Chain(bias, bn)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model.eval()


def _captum_lrp(model: nn.Module, x: torch.Tensor, target: int, rule_for) -> torch.Tensor:
    for m in model.modules():
        if isinstance(m, _RULED):
            m.rule = rule_for(m)
    try:
        return LRP(model).attribute(x.clone(), target=target).detach()
    finally:
        for m in model.modules():
            if hasattr(m, "rule"):
                del m.rule


@pytest.mark.parametrize("epsilon", [1e-6, 1e-2])
def test_epsilon_rule_equals_captum_lrp(epsilon: float) -> None:
    model = _chain()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    out = LRPDecoder(model, epsilon=epsilon)(x)
    assert out.relevance.shape == (3, 5, 3, 16, 16)
    for k in range(5):
        ref = _captum_lrp(model, x, k, lambda m: EpsilonRule(epsilon))
        torch.testing.assert_close(out.relevance[:, k].detach(), ref, rtol=1e-4, atol=1e-7)


def test_flower_cnn_equals_captum_lrp() -> None:
    torch.manual_seed(0)
    model = FlowerCNN(6).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    out = LRPDecoder(model, epsilon=1e-9)(x, classes=[1, 4])
    for j, k in enumerate([1, 4]):
        ref = _captum_lrp(model, x, k, lambda m: EpsilonRule(1e-9))
        torch.testing.assert_close(out.relevance[:, j].detach(), ref, rtol=1e-4, atol=1e-8)


def test_alpha1_beta0_equals_captum_on_positive_inputs() -> None:
    model = _chain(bias=False, bn=False)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))  # x >= 0
    out = LRPDecoder(model, rule="alpha-beta", alpha=1.0)(x, classes=[2])

    def rule_for(m: nn.Module):
        return Alpha1_Beta0_Rule() if isinstance(m, (nn.Conv2d, nn.Linear)) else EpsilonRule(1e-6)

    ref = _captum_lrp(model, x, 2, rule_for)
    torch.testing.assert_close(out.relevance[:, 0].detach(), ref, rtol=1e-4, atol=1e-7)


def test_alpha_beta_hand_computed() -> None:
    # z = 1*1 + 2*(-2) = -3; contributions [1, -4]: z+ = 1, z- = -4.
    # R = 2 * [1, 0] / 1 * (-3) - 1 * [0, -4] / (-4) * (-3) = [-6, 3]
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 2.0]]))
    x = torch.tensor([[[[1.0, -2.0]]]])
    out = LRPDecoder(model, rule="alpha-beta", alpha=2.0, epsilon=1e-12)(x)
    torch.testing.assert_close(out.relevance.reshape(-1).detach(), torch.tensor([-6.0, 3.0]))
    eps = LRPDecoder(model, epsilon=1e-12)(x)  # epsilon: x_i w_i / z * z = contributions
    torch.testing.assert_close(eps.relevance.reshape(-1).detach(), torch.tensor([1.0, -4.0]))


def _zero_biases(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.zero_()
                m.bias.zero_()
            elif getattr(m, "bias", None) is not None:
                m.bias.zero_()
    return model.eval()


@pytest.mark.parametrize("name", ["chain", "resnet-basic", "resnet-bottleneck"])
def test_relevance_sums_to_logit_without_biases(name: str) -> None:
    torch.manual_seed(0)
    if name == "chain":
        model: nn.Module = _chain(bias=False)
        x = torch.randn(2, 3, 16, 16)
    else:
        block = torchvision.models.resnet.BasicBlock
        if name == "resnet-bottleneck":
            block = torchvision.models.resnet.Bottleneck
        model = torchvision.models.ResNet(block, [1, 1, 1, 1], num_classes=4)
        x = torch.randn(2, 3, 32, 32)
    model = _zero_biases(model)
    out = LRPDecoder(model, epsilon=1e-9)(x)
    sums = out.relevance.sum((2, 3, 4)).detach()
    torch.testing.assert_close(sums, out.logits.detach(), rtol=1e-3, atol=1e-5)
    # the decoder's own forward is the model's forward
    torch.testing.assert_close(out.logits.detach(), model(x).detach(), rtol=1e-5, atol=1e-5)


def test_residual_split_follows_the_contributions() -> None:
    # A block whose branch outputs zero gives all relevance to the identity skip.
    torch.manual_seed(0)
    block_type = torchvision.models.resnet.BasicBlock
    model = _zero_biases(torchvision.models.ResNet(block_type, [1, 1, 1, 1], num_classes=3))
    decoder = LRPDecoder(model, epsilon=1e-9)
    _, saved = decoder.run_forward(torch.randn(1, 3, 32, 32))
    steps = decoder._steps
    assert steps is not None
    i = [s.name for s in steps].index("layer1.0")
    r = torch.rand((2, 1, 64, 8, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.layer1[0].bn2.weight.zero_()
    _, saved = decoder.run_forward(torch.randn(1, 3, 32, 32))
    r = r * (saved[i][1] > 0)  # relevance only where the block's ReLU is on
    torch.testing.assert_close(steps[i].relevance(r, saved[i], decoder.rule), r)
    # with both branches active relevance is conserved through the block
    with torch.no_grad():
        model.layer1[0].bn2.weight.fill_(1.0)
    _, saved = decoder.run_forward(torch.randn(1, 3, 32, 32))
    main, skip = saved[i][:2]
    r = torch.rand((1, *main.shape), generator=torch.Generator().manual_seed(1))
    r = r * ((main + skip) > 0)
    r_in = steps[i].relevance(r, saved[i], decoder.rule)
    torch.testing.assert_close(r_in.sum(), r.sum(), rtol=1e-4, atol=1e-5)


def test_chosen_classes_and_targets_match_all_classes() -> None:
    model = _chain()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    decoder = LRPDecoder(model)
    full = decoder(x).heatmaps.detach()
    some = decoder(x, classes=[4, 0]).heatmaps.detach()
    torch.testing.assert_close(some, full[:, [4, 0]])
    target = torch.tensor([1, 3, 3])
    per_image = decoder(x, target=target)
    torch.testing.assert_close(per_image.heatmaps[:, 0].detach(), full[torch.arange(3), target])
    assert per_image.classes.tolist() == [[1], [3], [3]]
    torch.testing.assert_close(lrp_heatmaps(model, x, [2]).detach(), full[:, [2]])


def test_gradients_reach_the_classifier_weights() -> None:
    model = _chain()
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    out = LRPDecoder(model)(x)
    assert out.heatmaps.requires_grad
    (out.heatmaps[:, 1] ** 2).sum().backward()
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
            assert bool(torch.isfinite(p.grad).all()), name


def test_gradient_matches_finite_differences() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).double()
    x = torch.randn(2, 1, 2, 2, dtype=torch.float64)
    decoder = LRPDecoder(model, epsilon=1e-3)

    def loss(w1: torch.Tensor, w3: torch.Tensor) -> torch.Tensor:
        params = {"classifier.1.weight": w1, "classifier.3.weight": w3}
        return (torch.func.functional_call(decoder, params, (x,)).heatmaps ** 2).sum()

    weights = (model[1].weight.detach().clone(), model[3].weight.detach().clone())
    assert torch.autograd.gradcheck(loss, tuple(w.requires_grad_(True) for w in weights))


def test_classifier_state_is_unchanged() -> None:
    model = _chain()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    decoder = LRPDecoder(model)
    decoder(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match="classes"):
        decoder(torch.randn(2, 3, 16, 16), classes=[7])
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert not any(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(
        not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        for m in model.modules()
    )
    assert list(decoder.parameters()) == list(model.parameters())  # tied, nothing new


def test_unsupported_layer_is_named() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sigmoid(), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 3, 8, 8))
    with pytest.raises(TypeError, match=r"layer '1' \(Sigmoid\)"):
        LRPDecoder(model)(torch.zeros(1, 3, 8, 8))


class _FunctionalResidual(ConvHead):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc((x + self.conv(x)).mean((2, 3)))


class _Reused(ConvHead):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(self.conv(x))).flatten(1))


def test_non_chain_forward_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a plain chain"):
        LRPDecoder(_FunctionalResidual())(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"'conv' \(Conv2d\) runs more than once"):
        LRPDecoder(_Reused())(torch.randn(1, 3, 8, 8))


def test_bad_arguments() -> None:
    model = _chain()
    x = torch.randn(1, 3, 16, 16)
    with pytest.raises(ValueError, match="rule"):
        LRPDecoder(model, rule="gamma")
    with pytest.raises(ValueError, match="epsilon"):
        LRPDecoder(model, epsilon=0.0)
    with pytest.raises(TypeError, match="model"):
        LRPDecoder("resnet")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either"):
        LRPDecoder(model)(x, classes=[0], target=0)
    with pytest.raises(ValueError, match="inputs"):
        LRPDecoder(model)(torch.randn(3, 16, 16))
    with pytest.raises(ValueError, match="target"):
        LRPDecoder(model)(x, target=9)
