"""The shipped selectors of the reference models, their recipe and the registry entry."""

from __future__ import annotations

import pytest
import torch

from captum_nas.attr.registry import BuildContext, get_method
from captum_nas.datasets import render_flowers
from captum_nas.interpretation import RelevantFeatures, RelevantFeatureSelector
from captum_nas.interpretation.attribution import shipped_selector_path
from captum_nas.interpretation.reference import fit_reference_selector
from captum_nas.models import reference_model


@pytest.mark.parametrize(
    ("name", "variant", "k"), [("reference", "single", 6), ("reference-double", "double", 12)]
)
def test_shipped_selector_loads_safely_and_fits_its_model(name: str, variant: str, k: int) -> None:
    state = torch.load(shipped_selector_path(name), weights_only=True)
    assert state["metadata"]["model"] == name and "call" in state["metadata"]
    selector = RelevantFeatureSelector.from_state(state)
    assert selector.n_classes == k
    assert all(len(selector.relevant(c)) > 0 for c in range(k))  # every class explainable
    model = reference_model(variant)
    explainer = get_method("relevant-features").build(model, BuildContext(model_name=name))
    assert isinstance(explainer, RelevantFeatures)
    batch = render_flowers(2, variant=variant, split="test")
    out = explainer.attribute(batch.images, target=batch.labels)
    assert out.shape == batch.images.shape and float(out.amax()) == 1.0


def test_registry_lookup_and_missing_selector() -> None:
    spec = get_method("Relevant-Features")
    assert spec.name == "relevant-features" and get_method("oramas") is spec
    with pytest.raises(ValueError, match="--selector"):
        spec.build(reference_model("single"), BuildContext(model_name="efficientnet-lite0"))


def test_recipe_records_its_call() -> None:
    selector = fit_reference_selector(
        "single", n_train=24, batch_size=12, alpha=0.05, progress=False
    )
    assert selector.metadata["n_samples"] == 24
    assert selector.metadata["call"].startswith("fit_reference_selector('single', n_train=24")
    assert selector.layout is not None and selector.layout.layers == (
        "layer1",
        "layer2",
        "layer3",
        "layer4",
    )
