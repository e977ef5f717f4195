import pytest
import torch
from captum.attr import IntegratedGradients, Saliency

from captum_nas.evaluation import METHOD_NAMES, attribution_fn, default_gradcam_layer
from tests.conftest import TinyCNN, hook_count


@pytest.fixture
def setup() -> tuple[TinyCNN, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return TinyCNN().eval(), torch.randn(2, 3, 32, 32), torch.tensor([0, 3])


def test_saliency_and_ig_match_captum(setup) -> None:  # type: ignore[no-untyped-def]
    model, x, t = setup
    expected = Saliency(model).attribute(x, target=t, abs=True).sum(1, keepdim=True)
    assert torch.allclose(attribution_fn("saliency", model)(x, t), expected)
    ig = IntegratedGradients(model).attribute(x, target=t, n_steps=8).sum(1, keepdim=True).abs()
    assert torch.allclose(attribution_fn("ig", model, n_steps=8)(x, t), ig)


def _fitted_selector(model: TinyCNN) -> dict[str, object]:
    """relevant-features needs a selector fitted on the model: one on random images."""
    from captum_nas.interpretation import RelevantFeatureSelector

    x = torch.randn(40, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    sel = RelevantFeatureSelector(alpha=1e-4).fit_model(
        model, [(x, torch.arange(40) % 5)], layers=["layer1", "layer2"], progress=False
    )
    return {"selector": sel}


# "explainer" needs an Explainer trained for the model (tests/explainer covers it)
@pytest.mark.parametrize("name", [n for n in METHOD_NAMES if n != "explainer"])
def test_every_method_gives_nonnegative_input_sized_maps(setup, name: str) -> None:  # type: ignore[no-untyped-def]
    model, x, t = setup
    options = _fitted_selector(model) if name.startswith("relevant-features") else None
    out = attribution_fn(name, model, n_steps=4, options=options)(x, t)
    assert out.shape == (2, 1, 32, 32)
    assert bool((out >= 0).all()) and bool(torch.isfinite(out).all())
    assert hook_count(model) == 0


def test_gradcam_layer_default_and_errors(setup) -> None:  # type: ignore[no-untyped-def]
    model, _, _ = setup
    assert default_gradcam_layer(model) == "layer2"
    with pytest.raises(ValueError, match="layer9"):
        attribution_fn("gradcam", model, layer="layer9")
    with pytest.raises(ValueError, match="unknown method 'shap'"):
        attribution_fn("shap", model)


def test_explainer_needs_an_explainer_trained_for_the_model(setup) -> None:  # type: ignore[no-untyped-def]
    model, _, _ = setup
    with pytest.raises(ValueError, match="needs an Explainer trained for this model"):
        attribution_fn("explainer", model)
