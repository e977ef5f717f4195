"""Channel-energy features: hand-computed values, layouts and layer errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_nas.interpretation.features import ChannelEnergy, FeatureLayout, energy_from_activations
from tests.conftest import hook_count
from tests.interpretation.conftest import KnownChannelNet


def test_energy_by_hand() -> None:
    a = torch.zeros(1, 2, 2, 2)
    a[0, 0] = torch.tensor([[1.0, 2.0], [0.0, 0.0]])  # energy 5
    a[0, 1] = torch.tensor([[0.0, 0.0], [3.0, 4.0]])  # energy 25
    b = torch.tensor([[2.0, -2.0, 0.0]])  # vector output: energies 4, 4, 0
    f = energy_from_activations([a, b])
    torch.testing.assert_close(f, torch.tensor([[5 / 30, 25 / 30, 0.5, 0.5, 0.0]]))


def test_zero_activation_gives_zeros() -> None:
    f = energy_from_activations([torch.zeros(2, 3, 4, 4)])
    assert torch.equal(f, torch.zeros(2, 3))


def test_channel_energy_on_a_model() -> None:
    model = KnownChannelNet().eval()
    x = torch.rand(3, 3, 8, 8)
    energy = ChannelEnergy(model, ["features", "down"])
    f = energy(x)
    assert f.shape == (3, 12)
    assert energy.layout == FeatureLayout(("features", "down"), (6, 6))
    torch.testing.assert_close(f[:, :6].sum(1), torch.ones(3))
    acts = model.features(x)
    expected = acts.pow(2).sum((2, 3))
    torch.testing.assert_close(f[:, :6], expected / expected.sum(1, keepdim=True))
    assert hook_count(model) == 0 and not model.training


def test_default_layers_are_the_stage_outputs(tiny_cnn: nn.Module) -> None:
    energy = ChannelEnergy(tiny_cnn, input_shape=(3, 32, 32))
    energy(torch.rand(2, 3, 32, 32))
    assert energy.layout.layers == ("stem", "layer1", "layer2")
    assert energy.layout.n_features == 8 + 16 + 32
    assert energy.layout.locate(8 + 3) == ("layer1", 3)
    assert energy.layout.index("layer2", 1) == 25


def test_extract_concatenates_batches() -> None:
    model = KnownChannelNet().eval()
    x = torch.rand(5, 3, 8, 8)
    energy = ChannelEnergy(model, "features")
    torch.testing.assert_close(energy.extract([x[:2], x[2:]], progress=False), energy(x))


def test_unknown_layer_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"`layers`.*'featurs'.*features"):
        ChannelEnergy(KnownChannelNet(), ["featurs"])


def test_layout_errors() -> None:
    layout = FeatureLayout(("a", "b"), (2, 3))
    with pytest.raises(ValueError, match="index"):
        layout.locate(5)
    with pytest.raises(ValueError, match="layer"):
        layout.index("c", 0)
    with pytest.raises(ValueError, match="channel"):
        layout.index("b", 3)
