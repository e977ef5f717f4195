import pytest
import torch
import torchvision
from torch import nn

from captum_nas.segmentation import auto_layers
from captum_nas.segmentation.layers import resolve_layers

# stage outputs expected for 224x224 inputs (random weights: only shapes matter)
EXPECTED = {
    "resnet18": ["relu", "layer1", "layer2", "layer3", "layer4"],
    "resnet50": ["relu", "layer1", "layer2", "layer3", "layer4"],
    "vgg11": ["features.4", "features.9", "features.14", "features.19", "avgpool"],
    "mobilenet_v3_small": ["features.0", "features.1", "features.3", "features.8", "features"],
    "efficientnet_b0": ["features.1", "features.2", "features.3", "features.5", "features"],
    "convnext_tiny": ["features.1", "features.3", "features.5", "features"],
    "densenet121": [
        "features.relu0",
        "features.denseblock1",
        "features.denseblock2",
        "features.denseblock3",
        "features",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_torchvision_families(arch: str) -> None:
    model = getattr(torchvision.models, arch)().eval()
    assert auto_layers(model, (3, 224, 224)) == EXPECTED[arch]


def test_efficientnet_lite0(lite0: nn.Module) -> None:
    names = auto_layers(lite0, (3, 224, 224))
    # stem block (112), stage ends at 56/28/14, head activation (7): the shared `_swish`
    # module runs last in the head, so its hook records the 7x7 head output
    assert names == ["_blocks.0", "_blocks.2", "_blocks.4", "_blocks.10", "_swish"]


def test_probe_leaves_model_untouched(tiny_cnn: nn.Module) -> None:
    tiny_cnn.train()
    flags = [p.requires_grad for p in tiny_cnn.parameters()]
    assert auto_layers(tiny_cnn, (3, 32, 32)) == ["stem", "layer1", "layer2"]
    assert tiny_cnn.training
    assert [p.requires_grad for p in tiny_cnn.parameters()] == flags
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in tiny_cnn.modules())


def test_model_without_spatial_activations() -> None:
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    with pytest.raises(ValueError, match="no spatial activations"):
        auto_layers(mlp, (3, 8, 8))


def test_resolve_names_and_modules(tiny_cnn: nn.Module) -> None:
    mods = resolve_layers(tiny_cnn, ["layer1", tiny_cnn.layer2])
    assert mods[0] is tiny_cnn.layer1 and mods[1] is tiny_cnn.layer2
    with pytest.raises(ValueError, match=r"no layer named 'layer3'.*layer1"):
        resolve_layers(tiny_cnn, ["layer3"])
    with pytest.raises(ValueError, match="not a submodule"):
        resolve_layers(tiny_cnn, [nn.Conv2d(1, 1, 1)])
    with pytest.raises(ValueError, match="empty"):
        resolve_layers(tiny_cnn, [])
    with pytest.raises(TypeError, match="layers"):
        resolve_layers(tiny_cnn, [3])  # type: ignore[list-item]


def test_probe_size_follows_input(tiny_cnn: nn.Module) -> None:
    # 8x8 input: stages at 4, 2 and 1 -> the 1x1 stage is dropped
    assert auto_layers(tiny_cnn, (3, 8, 8)) == ["stem", "layer1"]
    assert torch.is_grad_enabled()
