"""Model-state safety: an exception escaping from the model leaves it exactly as it was.

Every NAS* attribution class, ``NASSegmenter`` and ``relevance_curve`` run on a model
whose forward raises on its N-th call (or whose backward raises). After the exception,
and after a successful call on the same model, the model must have: no extra hook on
any submodule, the train/eval mode of every submodule, the ``requires_grad`` flag of
every parameter, the same parameters and buffers (``torch.equal``), no gradient left
in ``.grad`` and no attribute left on a submodule.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from captum.attr._utils.lrp_rules import IdentityRule
from torch import Tensor, nn

from captum_nas import attr as na
from captum_nas._model_state import _HOOK_DICTS
from captum_nas.metrics import relevance_curve
from captum_nas.segmentation import NASSegmenter
from tests.conftest import TinyCNN, hook_count

H = W = 24


class InjectedError(Exception):
    """The failure raised by :class:`Fault`; never raised by the library itself."""


class _RaiseInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        raise InjectedError("injected failure in backward")


class Fault(nn.Module):
    """Identity that raises on its ``fail_at``-th forward call, or in every backward."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at: int | None = None
        self.fail_backward = False
        self.rule = IdentityRule()  # an LRP rule, so that LRP accepts this layer

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise InjectedError(f"injected failure on forward call {self.calls}")
        if self.fail_backward:
            return _RaiseInBackward.apply(x)
        return x.clone()  # a new tensor, as LRP's identity rule expects

    def arm(self, *, fail_at: int | None = None, backward: bool = False) -> None:
        self.calls = 0
        self.fail_at = fail_at
        self.fail_backward = backward


class FaultyCNN(TinyCNN):
    """TinyCNN with a :class:`Fault` between its first and second stage."""

    def __init__(self) -> None:
        super().__init__()
        self.fault = Fault()

    def forward(self, x: Tensor) -> Tensor:
        x = self.fault(self.layer1(self.stem(x)))
        return self.fc(self.pool(self.layer2(x)).flatten(1))


def _unusual_state(model: FaultyCNN) -> FaultyCNN:
    """Mixed modes and flags, so that a blanket ``eval()``/``train()`` or
    ``requires_grad_(True)`` on restore would be caught."""
    model.train()
    model.layer1[1].eval()  # BatchNorm in eval: its buffers must not move either
    model.stem[0].weight.requires_grad_(False)
    model.fc.bias.requires_grad_(False)
    return model


@dataclass
class Snapshot:
    modes: list[bool]
    flags: list[bool]
    params: list[Tensor]
    buffers: list[Tensor]
    hooks: list[dict[str, list[int]]]
    attributes: list[set[str]]
    hooks_total: int


def snapshot(model: nn.Module) -> Snapshot:
    modules = list(model.modules())
    return Snapshot(
        modes=[m.training for m in modules],
        flags=[p.requires_grad for p in model.parameters()],
        params=[p.detach().clone() for p in model.parameters()],
        buffers=[b.detach().clone() for b in model.buffers()],
        hooks=[
            {attr: list(getattr(m, attr).keys()) for attr in _HOOK_DICTS if hasattr(m, attr)}
            for m in modules
        ],
        attributes=[set(vars(m)) for m in modules],
        hooks_total=hook_count(model),
    )


def assert_unchanged(model: nn.Module, before: Snapshot) -> None:
    after = snapshot(model)
    assert after.hooks_total == before.hooks_total
    assert after.hooks == before.hooks
    assert after.modes == before.modes
    assert after.flags == before.flags
    assert after.attributes == before.attributes
    assert len(after.params) == len(before.params)
    for p, saved in zip(model.parameters(), before.params):
        assert torch.equal(p.detach(), saved)
        assert p.grad is None
    for b, saved in zip(model.buffers(), before.buffers):
        assert torch.equal(b, saved)


def _setup() -> tuple[FaultyCNN, Tensor]:
    torch.manual_seed(0)
    model = _unusual_state(FaultyCNN())
    x = torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(1))
    return model, x


def _method(cls: type, model: nn.Module) -> Any:
    """The NAS* instance with its default (NAS) segmenter on ``model``."""
    options: dict[str, Any] = {"n_segments": 4}
    if cls in (na.NASGradCam, na.NASGuidedGradCam):
        return cls(model, "layer1", **options)
    return cls(model, **options)


def _attribute_kwargs(cls: type, x: Tensor) -> dict[str, Any]:
    if cls is na.NASIntegratedGradients:
        return {"n_steps": 3}
    if cls in (na.NASDeepLiftShap, na.NASGradientShap):
        return {"baselines": torch.zeros(2, *x.shape[1:])}
    if cls is na.NASOcclusion:
        return {"sliding_window_shapes": (3, 12, 12), "strides": (3, 12, 12)}
    if cls in (na.NASLime, na.NASKernelShap):
        return {"n_samples": 8, "perturbations_per_eval": 8}
    if cls is na.NASShapleyValueSampling:
        return {"n_samples": 1, "perturbations_per_eval": 8}
    if cls is na.NASFeatureAblation:
        return {"perturbations_per_eval": 8}
    return {}


NAS_CLASSES = [getattr(na, name) for name in na.__all__ if name.startswith("NAS")]
GRADIENT_CLASSES = [
    c
    for c in NAS_CLASSES
    if c
    not in (
        na.NASOcclusion,
        na.NASFeatureAblation,
        na.NASShapleyValueSampling,
        na.NASLime,
        na.NASKernelShap,
    )
]


def test_every_nas_class_is_covered() -> None:
    assert len(NAS_CLASSES) == 16
    assert {c.__name__ for c in NAS_CLASSES} >= {
        "NASLime",
        "NASKernelShap",
        "NASFeatureAblation",
        "NASShapleyValueSampling",
        "NASGradCam",
        "NASIntegratedGradients",
    }


def _run(cls: type, model: FaultyCNN, x: Tensor) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out: Tensor = _method(cls, model).attribute(x, target=1, **_attribute_kwargs(cls, x))
    return out


# forward calls: 1 = auto-layer probe of the default NAS segmenter, 2 = NAS activation
# forward, 3 = first forward of the wrapped Captum method
@pytest.mark.parametrize("fail_at", [1, 2, 3])
@pytest.mark.parametrize("cls", NAS_CLASSES, ids=lambda c: c.__name__)
def test_nas_attribution_restores_model_after_forward_failure(cls: type, fail_at: int) -> None:
    model, x = _setup()
    before = snapshot(model)
    model.fault.arm(fail_at=fail_at)
    with pytest.raises(InjectedError, match=f"forward call {fail_at}"):
        _run(cls, model, x)
    assert_unchanged(model, before)
    model.fault.arm()
    out = _run(cls, model, x)
    assert out.shape == x.shape and bool(torch.isfinite(out).all())
    assert_unchanged(model, before)


@pytest.mark.parametrize("cls", GRADIENT_CLASSES, ids=lambda c: c.__name__)
def test_nas_attribution_restores_model_after_backward_failure(cls: type) -> None:
    model, x = _setup()
    before = snapshot(model)
    model.fault.arm(backward=True)
    with pytest.raises(InjectedError, match="backward"):
        _run(cls, model, x)
    assert_unchanged(model, before)
    model.fault.arm()
    _run(cls, model, x)
    assert_unchanged(model, before)


@pytest.mark.parametrize("fail_at", [1, 2])
def test_nas_segmenter_restores_model_after_failure(fail_at: int) -> None:
    model, x = _setup()
    before = snapshot(model)
    model.fault.arm(fail_at=fail_at)
    nas = NASSegmenter(model, n_segments=4)
    with pytest.raises(InjectedError):
        nas(x)
    assert_unchanged(model, before)
    model.fault.arm()
    segments = nas(x)
    assert segments.shape == (2, 1, H, W)
    assert_unchanged(model, before)
    # the segmenter ran the model in eval mode: same segments as on an eval-mode copy
    reference = FaultyCNN()
    reference.load_state_dict(model.state_dict())
    assert torch.equal(NASSegmenter(reference.eval(), n_segments=4)(x), segments)


@pytest.mark.parametrize("fail_at", [1, 4])
def test_relevance_curve_restores_model_after_failure(fail_at: int) -> None:
    model, x = _setup()
    attributions = torch.rand(2, 1, H, W, generator=torch.Generator().manual_seed(2))
    before = snapshot(model)
    model.fault.arm(fail_at=fail_at)
    with pytest.raises(InjectedError):
        relevance_curve(model, x, attributions, target=1, patch_size=6, batch_size=3)
    assert_unchanged(model, before)
    model.fault.arm()
    res = relevance_curve(model, x, attributions, target=1, patch_size=6, batch_size=3)
    assert res.scores.shape == (2, 17)
    # ceil(2 * 17 / 3) = 12 forward calls, each through the fault module once
    assert model.fault.calls == 12
    assert_unchanged(model, before)
