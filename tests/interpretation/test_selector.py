"""Relevant-feature selection: the known deciding channel, budget, save/load, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from captum_nas.interpretation import (
    ChannelEnergy,
    FeatureLayout,
    NotFittedError,
    RelevantFeatureSelector,
)
from tests.interpretation.conftest import DECIDING_CHANNEL, KnownChannelNet, known_channel_data


@pytest.fixture(scope="module")
def fitted() -> tuple[RelevantFeatureSelector, torch.Tensor, torch.Tensor, ChannelEnergy]:
    model = KnownChannelNet().eval()
    x, y, _ = known_channel_data(60)
    energy = ChannelEnergy(model, ["features", "down"])
    f = energy(x)
    return RelevantFeatureSelector(alpha=0.01).fit(f, y, layout=energy.layout), f, y, energy


def test_selector_picks_the_deciding_channel(fitted) -> None:
    selector, *_ = fitted
    top = selector.relevant(1)[0]
    assert (top.layer, top.channel) == ("features", DECIDING_CHANNEL)
    # the deciding channel is not relevant to the other class
    assert all(r.channel != DECIDING_CHANNEL or r.layer != "features" for r in selector.relevant(0))
    assert selector.metadata["train_accuracy"] == 1.0


def test_fit_model_matches_fit(fitted) -> None:
    selector, *_ = fitted
    model = KnownChannelNet().eval()
    x, y, _ = known_channel_data(60)
    batches = [(x[i : i + 20], y[i : i + 20]) for i in range(0, 60, 20)]
    other = RelevantFeatureSelector(alpha=0.01).fit_model(
        model, batches, layers=["features", "down"], progress=False
    )
    assert other.n_classes == 2
    torch.testing.assert_close(other.coef_, selector.coef_, atol=1e-6, rtol=0)


def test_budget_keeps_the_largest_weights(fitted) -> None:
    selector, f, y, energy = fitted
    budget = RelevantFeatureSelector(alpha=0.01, max_per_class=1).fit(f, y, layout=energy.layout)
    for c in range(2):
        kept = budget.relevant(c)
        assert len(kept) == 1
        assert kept[0].index == selector.relevant(c)[0].index


def test_larger_penalty_selects_fewer(fitted) -> None:
    _, f, y, energy = fitted
    counts = [
        int((RelevantFeatureSelector(alpha=a).fit(f, y, layout=energy.layout).coef_ > 0).sum())
        for a in (0.001, 0.01, 0.1)
    ]
    assert counts[0] >= counts[1] >= counts[2]
    assert counts[0] > counts[2]


def test_parity_with_sklearn_on_standardised_features(fitted) -> None:
    linear = pytest.importorskip("sklearn.linear_model")
    _, f, y, energy = fitted
    sel = RelevantFeatureSelector(alpha=0.02, tol=1e-12).fit(f, y, layout=energy.layout)
    x = f.double().numpy()
    std = x.std(0)
    std[std == 0] = 1.0
    onehot = np.eye(2)[y.numpy()]
    ref = linear.Lasso(alpha=0.02, tol=1e-12, max_iter=200000).fit(x / std, onehot)
    np.testing.assert_allclose(sel.coef_.numpy(), ref.coef_, atol=1e-4)


def test_save_load_roundtrip(fitted, tmp_path: Path) -> None:
    selector, f, *_ = fitted
    path = selector.save(tmp_path / "sel.pt")
    state = torch.load(path, weights_only=True)  # plain, safely loadable
    assert state["layers"] == ["features", "down"]
    loaded = RelevantFeatureSelector.load(path)
    assert loaded.relevant_features() == selector.relevant_features()
    torch.testing.assert_close(loaded.decision(f), selector.decision(f))


def test_relevance_ranks_by_response_times_weight(fitted) -> None:
    selector, f, _y, _ = fitted
    rel = selector.relevance(f[:4], torch.ones(4, dtype=torch.long))
    relevant = {r.index for r in selector.relevant(1)}
    finite = {int(i) for i in torch.nonzero(torch.isfinite(rel[0])).flatten()}
    assert finite == relevant
    i = DECIDING_CHANNEL
    fn = f[:4] / f[:4].norm(dim=1, keepdim=True)
    expected = fn[:, i] * selector.coef_[1, i] / selector.scale_[i]
    torch.testing.assert_close(rel[:, i], expected)


def test_unfitted_selector_errors() -> None:
    with pytest.raises(NotFittedError, match="`selector` is not fitted"):
        RelevantFeatureSelector().relevant(0)
    assert issubclass(NotFittedError, ValueError)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (torch.zeros(5, dtype=torch.long), r"`labels` must have shape \(6,\)"),
        (torch.zeros(6), "integer"),
        (torch.tensor([0, 1, 0, 1, 0, -1]), ">= 0"),
        (torch.tensor([0, 2, 0, 2, 0, 2]), r"no sample of class\(es\) \[1\]"),
    ],
)
def test_labels_that_do_not_match(labels: torch.Tensor, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        RelevantFeatureSelector().fit(torch.rand(6, 4), labels)


def test_labels_out_of_range_of_n_classes() -> None:
    with pytest.raises(ValueError, match="n_classes"):
        RelevantFeatureSelector().fit(torch.rand(4, 3), torch.tensor([0, 1, 2, 0]), n_classes=2)


def test_class_without_relevant_feature_names_target() -> None:
    f = torch.rand(8, 3)
    y = torch.tensor([0, 1] * 4)
    sel = RelevantFeatureSelector(alpha=10.0).fit(f, y, layout=FeatureLayout(("l",), (3,)))
    assert sel.relevant(0) == []
    with pytest.raises(ValueError, match=r"`target` class\(es\) \[0\] have no relevant feature"):
        sel.relevance(f, torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="`target`"):
        sel.relevant(5)


def test_bad_options_and_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="alpha"):
        RelevantFeatureSelector(alpha=-1)
    with pytest.raises(ValueError, match="max_per_class"):
        RelevantFeatureSelector(max_per_class=0)
    with pytest.raises(FileNotFoundError, match="selector"):
        RelevantFeatureSelector.load(tmp_path / "missing.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a selector state"):
        RelevantFeatureSelector.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="layout"):
        RelevantFeatureSelector().fit(
            torch.rand(4, 3), torch.tensor([0, 1, 0, 1]), layout=FeatureLayout(("l",), (2,))
        )
