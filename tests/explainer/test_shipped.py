"""The shipped Explainer of the flowers reference model: provenance, quality, registry entry."""

from __future__ import annotations

import hashlib

import pytest
import torch

from captum_nas.attr.registry import BuildContext, get_method
from captum_nas.datasets import render_flowers
from captum_nas.explainer import (
    ExplainerAttribution,
    explainer_checkpoint_info,
    shipped_explainer,
    shipped_explainer_path,
)
from captum_nas.explainer.specificity import class_areas
from captum_nas.metrics import roc_auc
from captum_nas.models import reference_model
from captum_nas.models.reference import reference_checkpoint_path


@pytest.fixture(scope="module")
def setup() -> tuple:
    torch.manual_seed(0)
    model = reference_model("single")
    attr = ExplainerAttribution(model, shipped_explainer())
    batch = render_flowers(32, split="test", seed=0)
    return model, attr, batch


def test_small_file_that_says_how_it_was_made() -> None:
    assert shipped_explainer_path().stat().st_size < 2 * 2**20
    info = explainer_checkpoint_info()
    assert info["command"].startswith("captum-nas train-explainer")
    sha = hashlib.sha256(reference_checkpoint_path("single").read_bytes()).hexdigest()
    assert info["classifier"]["sha256"] == sha  # trained for the shipped classifier
    assert info["network"]["n_classes"] == 6 and info["epochs_run"] == len(info["history"])
    assert info["val_masked_accuracy"] >= 0.95


def test_masks_find_the_petals_and_only_for_the_true_class(setup: tuple) -> None:
    _, attr, batch = setup
    masks = attr.masks(batch.images)
    idx = torch.arange(32)
    true = masks[idx, batch.labels][:, None]
    # the deciding part (petals) is ranked above the rest of the image
    assert roc_auc(true, batch.part_masks).mean().item() > 0.9
    inside = true[batch.part_masks].mean().item()
    outside = true[~batch.object_masks].mean().item()
    assert inside > 0.5 > 0.1 > outside
    # class specificity holds only in part (see the README): wrong classes cover less than
    # the true one on average, and the least active wrong class of every image is empty
    areas = class_areas(masks, batch.labels)
    assert areas.other_area < 0.8 * areas.true_area
    per_class = masks.flatten(2).mean(2)
    per_class[idx, batch.labels] = float("inf")
    assert per_class.amin(1).mean().item() < 0.1 * areas.true_area


def test_registry_entry_uses_the_shipped_explainer(setup: tuple) -> None:
    model, attr, batch = setup
    spec = get_method("explainer")
    built = spec.build(model, BuildContext(model_name="reference"))
    x, t = batch.images[:4], batch.labels[:4]
    assert torch.equal(built.attribute(x, target=t), attr.attribute(x, target=t))
