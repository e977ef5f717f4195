"""Tests of model loading by name, captum_nas.models.loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import torchvision

from captum_nas.attr.registry import default_gradcam_layer
from captum_nas.images import IMAGENET_NORMALIZER
from captum_nas.models.loading import (
    LoadedModel,
    available_models,
    load_model,
    read_state_dict,
    resolve_device,
)


def test_efficientnet_lite0_default() -> None:
    loaded = load_model()
    assert loaded.name == "efficientnet-lite0"
    assert loaded.class_names[285] == "Egyptian cat"
    assert loaded.input_size == 224
    assert default_gradcam_layer(loaded.model, loaded.name) == "_blocks.15"
    assert not loaded.model.training


def test_torchvision_checkpoint_with_class_names(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = torchvision.models.resnet18(num_classes=3).eval()
    path = tmp_path / "r18.pt"
    torch.save({"state_dict": src.state_dict(), "class_names": ["a", "b", "c"], "epoch": 3}, path)
    loaded = load_model("resnet18", weights=str(path))
    assert loaded.class_names == ("a", "b", "c")
    assert loaded.normalizer == IMAGENET_NORMALIZER
    assert default_gradcam_layer(loaded.model, loaded.name) == "layer4"
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), src(x))


def test_torchvision_plain_state_dict_with_dataparallel_prefix(tmp_path: Path) -> None:
    src = torchvision.models.resnet18(num_classes=4)
    path = tmp_path / "sd.pt"
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, path)
    loaded = load_model("resnet18", weights=str(path))
    assert loaded.class_names == ("class 0", "class 1", "class 2", "class 3")


def test_random_weights_gets_imagenet_names() -> None:
    loaded = load_model("resnet18", random_weights=True)
    assert len(loaded.class_names) == 1000 and loaded.class_names[0] == "tench"


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs --weights"):
        load_model("resnet18")
    with pytest.raises(FileNotFoundError):
        load_model("resnet18", weights=str(tmp_path / "nope.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_text("not torch")
    with pytest.raises(ValueError, match="cannot read"):
        read_state_dict(bad)
    wrong = tmp_path / "vgg.pt"
    torch.save({"fc.weight": torch.zeros(1000, 7)}, wrong)
    with pytest.raises(ValueError, match="do not fit"):
        load_model("resnet18", weights=str(wrong))
    with pytest.raises(ValueError, match="not used"):
        load_model("efficientnet-lite0", weights=str(wrong))
    with pytest.raises(ValueError, match="unknown model"):
        load_model("resnet-999")
    with pytest.raises(ValueError, match="has no attribute"):
        load_model("tests.conftest:Nothing")


def test_callable_spec_module_or_loaded_model() -> None:
    loaded = load_model("tests.conftest:TinyCNN")
    assert loaded.class_names == tuple(f"class {i}" for i in range(5))
    assert isinstance(loaded, LoadedModel) and not loaded.model.training


def test_reference_model_available_or_clear_error() -> None:
    loaded = load_model("reference")
    assert default_gradcam_layer(loaded.model, loaded.name) == "layer4"
    assert len(loaded.class_names) == 6 and loaded.weights is None


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_random_weights_follow_the_seed() -> None:
    a = load_model("reference", random_weights=True, seed=3)
    b = load_model("reference", random_weights=True, seed=3)
    c = load_model("reference", random_weights=True, seed=4)
    assert _same_weights(a.model, b.model) and not _same_weights(a.model, c.model)
    assert a.describe()["random_weights"] and a.describe()["seed"] == 3
    # the global generator is left as it was
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    load_model("reference", random_weights=True, seed=5)
    assert torch.equal(torch.rand(1), expected)


def test_reference_with_retrained_weights(tmp_path: Path) -> None:
    from captum_nas.models.reference import FlowerCNN

    torch.manual_seed(1)
    retrained = FlowerCNN(6).eval()
    plain = tmp_path / "plain.pt"
    torch.save(retrained.state_dict(), plain)
    loaded = load_model("reference", weights=plain)
    assert _same_weights(loaded.model, retrained) and not loaded.model.training
    assert loaded.weights == str(plain)
    assert loaded.weights_sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()
    assert loaded.describe()["weights_sha256"] == loaded.weights_sha256
    # a save_reference-style checkpoint with its metadata
    ckpt = tmp_path / "ckpt.pt"
    meta = {"variant": "single", "n_classes": 6, "widths": list(retrained.widths), "image_size": 96}
    torch.save({"state_dict": retrained.state_dict(), "metadata": meta}, ckpt)
    loaded = load_model("reference", weights=ckpt)
    assert _same_weights(loaded.model, retrained) and loaded.input_size == 96
    torch.save(
        {"state_dict": retrained.state_dict(), "metadata": {**meta, "variant": "double"}}, ckpt
    )
    with pytest.raises(ValueError, match="variant 'double'; use --model reference-double"):
        load_model("reference", weights=ckpt)
    with pytest.raises(ValueError, match="not both"):
        load_model("reference", weights=plain, random_weights=True)


def test_reference_double_only_with_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from captum_nas.models import reference

    shipped = reference.reference_checkpoint_path("double").is_file()
    assert ("reference-double" in available_models()) == shipped
    fake = {"single": reference.reference_checkpoint_path("single"), "double": tmp_path / "d.pt"}
    monkeypatch.setattr(reference, "reference_checkpoint_path", lambda v="single": fake[v])
    assert "reference-double" not in available_models()
    with pytest.raises(FileNotFoundError, match="train-reference --variant double"):
        load_model("reference-double")
    torch.save({}, fake["double"])
    assert "reference-double" in available_models()


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="bad device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")
