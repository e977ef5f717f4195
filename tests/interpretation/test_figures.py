"""The interpretation grid: views of the deciding channel and the figure layout."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from captum_nas.interpretation import ChannelEnergy, RelevantFeatures, RelevantFeatureSelector
from captum_nas.interpretation.figures import feature_views, interpretation_figure
from tests.interpretation.conftest import DECIDING_CHANNEL, KnownChannelNet, known_channel_data


@pytest.fixture(scope="module")
def explainer() -> RelevantFeatures:
    model = KnownChannelNet().eval()
    x, y, _ = known_channel_data(40)
    energy = ChannelEnergy(model, ["features", "down"])
    selector = RelevantFeatureSelector(alpha=0.01).fit(energy(x), y, layout=energy.layout)
    return RelevantFeatures(model, selector)


def test_views_of_the_deciding_channel(explainer: RelevantFeatures) -> None:
    x, y, masks = known_channel_data(12, seed=3)
    views = feature_views(explainer, x, classes=[1], max_features=1, top_k=4)
    (view,) = views[0]
    assert (view.feature.layer, view.feature.channel) == ("features", DECIDING_CHANNEL)
    # the images where channel 2 responds most are the class-1 images (bright square)
    assert bool((y[view.indices] == 1).all())
    assert view.average.shape == (3, 16, 16) and view.heat.shape == (1, 16, 16)
    # the strongest image's visualisation is brightest on its square
    best = view.best.sum(0)
    square = masks[view.indices[0], 0]
    assert float(best[square].mean()) > 3 * float(best[~square].mean())


def test_figure_has_two_rows_per_class(explainer: RelevantFeatures) -> None:
    x, _, _ = known_channel_data(8, seed=4)
    fig = interpretation_figure(explainer, x, max_features=2, top_k=2, class_names=["a", "b"])
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in visible]
    assert any(t.startswith("b\nfeatures:2") for t in titles)
    assert len(fig.axes) == 2 * 2 * 2


def test_bad_display(explainer: RelevantFeatures) -> None:
    x, _, _ = known_channel_data(4)
    with pytest.raises(ValueError, match="`display`"):
        feature_views(explainer, x, display=torch.zeros(3, 3, 16, 16))
    with pytest.raises(ValueError, match="`classes`"):
        feature_views(explainer, x, classes=[7])
