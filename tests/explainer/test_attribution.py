"""ExplainerAttribution: the target mask in one forward pass, composing with Captum and NAS."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from captum.metrics import infidelity, sensitivity_max
from torch import nn

from captum_nas.attr import SuperpixelAttribution
from captum_nas.explainer.attribution import ExplainerAttribution, build
from captum_nas.segmentation import GridSegmenter
from captum_nas.visualization import to_hwc


class _ChannelExplainer(nn.Module):
    """Mask logit of class k = 2 * input channel k (known answer), counts its forwards."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.k = k
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.scale * x[:, : self.k]


class _Classifier(nn.Module):
    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(3, k)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.fc(x.mean((2, 3)))


def _setup(k: int = 3) -> tuple[_Classifier, _ChannelExplainer, torch.Tensor]:
    torch.manual_seed(0)
    return _Classifier(k).eval(), _ChannelExplainer(), torch.randn(4, 3, 8, 8)


def test_attribute_is_the_sigmoid_mask_of_the_target_class() -> None:
    clf, expl, x = _setup()
    attr = ExplainerAttribution(clf, expl)
    target = torch.tensor([0, 2, 1, 2])
    out = attr.attribute(x, target=target)
    expected = torch.sigmoid(2 * x[torch.arange(4), target])[:, None].expand_as(x)
    assert out.shape == x.shape and out.is_contiguous() and out.dtype == x.dtype
    assert torch.allclose(out, expected)
    assert torch.equal(attr.attribute(x, target=1), torch.sigmoid(2 * x[:, 1:2]).expand_as(x))
    tup = attr.attribute((x,), target=target)
    assert isinstance(tup, tuple) and torch.equal(tup[0], out)


def test_one_explainer_forward_per_call_and_no_classifier_forward() -> None:
    clf, expl, x = _setup()
    attr = ExplainerAttribution(clf, expl)
    attr.attribute(x, target=0)  # first call checks the classifier's class count once
    clf.calls = expl.calls = 0
    for _ in range(3):
        attr.attribute(x, target=1)
    assert expl.calls == 3 and clf.calls == 0


def test_target_none_explains_the_predicted_class() -> None:
    clf, expl, x = _setup()
    out = ExplainerAttribution(clf, expl).attribute(x)
    pred = clf(x).argmax(1)
    assert torch.allclose(out, torch.sigmoid(2 * x[torch.arange(4), pred])[:, None].expand_as(x))


def test_masks_of_every_class() -> None:
    clf, expl, x = _setup()
    assert torch.allclose(ExplainerAttribution(clf, expl).masks(x), torch.sigmoid(2 * x))


def test_bad_input_gives_clear_errors() -> None:
    clf, expl, x = _setup()
    with pytest.raises(ValueError, match=r"class count mismatch.*4 outputs.*3 masks"):
        ExplainerAttribution(_Classifier(4).eval(), expl).attribute(x, target=0)
    with pytest.raises(ValueError, match=r"`target` 3 is out of range.*3 classes"):
        ExplainerAttribution(clf, expl).attribute(x, target=3)

    class _Small(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return t[:, :3, :4, :4]

    with pytest.raises(ValueError, match=r"masks of shape \(4, 3, 4, 4\)"):
        ExplainerAttribution(clf, _Small()).attribute(x, target=0)
    with pytest.raises(TypeError, match="additional_forward_args"):
        ExplainerAttribution(clf, expl).attribute(x, target=0, additional_forward_args=(1,))
    with pytest.raises(TypeError, match="forward_func"):
        ExplainerAttribution(lambda t: t, expl)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ExplainerAttribution(clf, expl).attribute(x[0], target=0)


def test_model_state_is_left_alone() -> None:
    clf, expl, x = _setup()
    expl.train()
    clf.fc.weight.requires_grad_(False)
    ExplainerAttribution(clf, expl).attribute(x, target=0)
    assert expl.training and not clf.training
    assert not clf.fc.weight.requires_grad and expl.scale.requires_grad
    assert not expl._forward_hooks and not clf._forward_hooks


def test_composes_with_superpixel_pooling() -> None:
    clf, expl, x = _setup()
    attr = ExplainerAttribution(clf, expl)
    grid = GridSegmenter(4)
    pooled = SuperpixelAttribution(attr, grid).attribute(x, target=1)
    mask = torch.sigmoid(2 * x[:, 1])
    seg = grid(x)[:, 0]
    assert pooled.shape == x.shape
    for n in range(x.shape[0]):
        for s in seg[n].unique():
            inside = seg[n] == s
            values = pooled[n][:, inside]
            # one value per segment, proportional to the mean mask inside it
            assert torch.allclose(values, values[0, 0].expand_as(values))
            ratio = values[0, 0] / mask[n][inside].mean()
            assert ratio.item() == pytest.approx(1.0, rel=1e-5) or ratio.item() == pytest.approx(
                3.0, rel=1e-5
            )


def test_composes_with_captum_metrics_and_visualisation() -> None:
    clf, expl, x = _setup()
    attr = ExplainerAttribution(clf, expl)
    a = attr.attribute(x, target=0)

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.full_like(inputs, 0.01)
        return noise, inputs - noise

    inf = infidelity(clf, perturb, x, a, target=0, n_perturb_samples=2)
    sens = sensitivity_max(attr.attribute, x, target=0, n_perturb_samples=2)
    assert inf.shape == (4,) and torch.isfinite(inf).all()
    assert sens.shape == (4,) and torch.isfinite(sens).all()
    assert to_hwc(a[0]).shape == (8, 8, 3)


def test_registry_builder_needs_an_explainer_for_other_models(tmp_path: object) -> None:
    clf, _, _ = _setup()
    with pytest.raises(ValueError, match="options\\['explainer'\\]"):
        build(clf, SimpleNamespace(model_name="resnet18", options={}))
