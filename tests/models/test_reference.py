import pytest
import torch

from captum_nas._model_state import ActivationCapture
from captum_nas.datasets import render_flowers
from captum_nas.models import (
    FlowerCNN,
    evaluate_accuracy,
    load_reference,
    reference_checkpoint_info,
    reference_checkpoint_path,
    reference_model,
)
from captum_nas.segmentation import auto_layers

STAGES = ["layer1", "layer2", "layer3", "layer4"]


@pytest.mark.parametrize(("n_classes", "size"), [(6, (128, 128)), (12, (224, 224)), (6, (96, 130))])
def test_output_shape(n_classes: int, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = FlowerCNN(n_classes).eval()
    assert model(torch.randn(2, 3, *size)).shape == (2, n_classes)


def test_small_and_resnet_named() -> None:
    model = FlowerCNN(6)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    names = {name for name, _ in model.named_children()}
    assert {"stem", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"} <= names


def test_auto_layers_are_the_stages() -> None:
    model = FlowerCNN(6).eval()
    assert auto_layers(model, (3, 128, 128)) == STAGES
    modules = [getattr(model, name) for name in STAGES]
    with ActivationCapture(modules) as capture:
        model(torch.zeros(1, 3, 128, 128))
    shapes = [tuple(a.shape) for a in capture.outputs]
    assert shapes == [(1, 16, 64, 64), (1, 32, 32, 32), (1, 64, 16, 16), (1, 128, 8, 8)]


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_classes"):
        FlowerCNN(0)
    with pytest.raises(ValueError, match="widths"):
        FlowerCNN(6, widths=(8, 8, 8))
    with pytest.raises(ValueError, match="widths"):
        FlowerCNN(6, widths=(8, 8, 0, 8, 8))
    with pytest.raises(ValueError, match="variant"):
        reference_model("triple")
    with pytest.raises(TypeError, match="pretrained"):
        reference_model("single", pretrained="yes")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        load_reference("/nonexistent/model.pt")


def test_random_model_when_not_pretrained() -> None:
    model = reference_model("double", pretrained=False)
    assert not model.training and model.n_classes == 12


@pytest.mark.slow
def test_shipped_single_checkpoint_is_accurate() -> None:
    info = reference_checkpoint_info("single")
    assert info["variant"] == "single" and info["image_size"] == 128
    assert info["call"].startswith("train_reference('single', ")
    assert info["test_accuracy"] >= 0.97
    model = reference_model("single")
    assert not model.training and model.n_classes == 6
    # a fresh test split (another seed than the one used in training)
    acc = evaluate_accuracy(model, "single", split="test", n=400, seed=12345)
    assert acc >= 0.97


@pytest.mark.parametrize("variant", ["double"])
def test_other_variant_loads_or_says_why(variant: str) -> None:
    if reference_checkpoint_path(variant).is_file():
        model = reference_model(variant)
        assert evaluate_accuracy(model, variant, n=400, seed=12345) >= 0.97
    else:
        with pytest.raises(FileNotFoundError, match=variant):
            reference_model(variant)


def test_reference_predictions_follow_the_petal_colour() -> None:
    # recolouring the petals of the same flowers moves the prediction with the label
    model = reference_model("single")
    idx = list(range(12))
    labels = torch.arange(12) % 6
    batch = render_flowers(idx, split="test", seed=99, labels=labels)
    with torch.no_grad():
        pred = model(batch.images).argmax(1)
    assert (pred == labels).float().mean() >= 11 / 12
