"""Buffers: a model in train mode comes out of every call with its BatchNorm
statistics untouched.

Captum methods run the model as the user left it, so before, every perturbed or
interpolated input of a train-mode model updated ``running_mean``, ``running_var`` and
``num_batches_tracked`` of its BatchNorm layers. The model-state guard now records
all buffers and puts them back (:func:`captum_nas._buffers.snapshot_buffers`), also
when an exception escapes; ``relevance_curve`` runs an ``nn.Module`` under the guard.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from captum_nas import attr as na
from captum_nas._buffers import snapshot_buffers
from captum_nas._model_state import preserved_model_state
from captum_nas.attr.registry import seeded
from captum_nas.metrics import relevance_curve, relevance_gap
from captum_nas.segmentation import GridSegmenter
from tests.conftest import ConvHead, TinyCNN

H = W = 16


def _images() -> Tensor:
    return torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(0))


def _train_mode_model() -> nn.Module:
    torch.manual_seed(0)
    model = TinyCNN().train()
    bn = model.layer1[1]
    # non-default statistics, so that a reset would be seen as well as an update
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.num_batches_tracked.fill_(7)
    return model


def _buffers(model: nn.Module) -> dict[str, Tensor]:
    return {name: buf.clone() for name, buf in model.named_buffers()}


def _assert_same_buffers(model: nn.Module, before: dict[str, Tensor]) -> None:
    after = dict(model.named_buffers())
    assert set(after) == set(before)
    changed = [name for name in before if not torch.equal(after[name], before[name])]
    assert changed == []


CALLS: dict[str, Callable[[nn.Module, Tensor], Any]] = {
    "NASIntegratedGradients": lambda m, x: na.NASIntegratedGradients(
        m, segmenter=GridSegmenter(4)
    ).attribute(x, target=1, n_steps=4),
    "NASSaliency-default-NAS-segmenter": lambda m, x: na.NASSaliency(m, n_segments=4).attribute(
        x, target=1
    ),
    "NASLime": lambda m, x: na.NASLime(m, segmenter=GridSegmenter(4)).attribute(
        x, target=1, n_samples=8
    ),
    "NASFeatureAblation": lambda m, x: na.NASFeatureAblation(
        m, segmenter=GridSegmenter(4)
    ).attribute(x, target=1),
    "relevance_curve": lambda m, x: relevance_curve(m, x, x, target=1, patch_size=8).scores,
    "relevance_gap": lambda m, x: relevance_gap(m, x, x, target=1, patch_size=8).gap,
}


@pytest.mark.parametrize("name", list(CALLS))
def test_train_mode_batchnorm_statistics_survive(name: str) -> None:
    model = _train_mode_model()
    x = _images()
    before = _buffers(model)
    # the statistics a forward in train mode would change: the test can fail
    probe = copy.deepcopy(model)
    with torch.no_grad():
        probe(x)
    assert not torch.equal(probe.layer1[1].running_mean, before["layer1.1.running_mean"])

    with seeded(0):  # Lime samples with torch and numpy
        reference = CALLS[name](copy.deepcopy(model), x)
    with seeded(0):
        result = CALLS[name](model, x)
    _assert_same_buffers(model, before)
    assert model.training and model.layer1[1].training
    # restoring changes nothing in the result: the same as on an untouched copy
    torch.testing.assert_close(result, reference)


class _FailsOnSecondForward(ConvHead):
    """BatchNorm in train mode, then an error on the second forward call."""

    def __init__(self) -> None:
        super().__init__(4, 3, batch_norm=True)
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        out = self.bn(self.conv(x)).mean((2, 3))
        if self.calls == 2:
            raise RuntimeError("injected failure after the BatchNorm update")
        return self.fc(out)


def test_buffers_restored_when_an_exception_escapes() -> None:
    torch.manual_seed(0)
    model = _FailsOnSecondForward().train()
    before = _buffers(model)
    with pytest.raises(RuntimeError, match="injected failure"):
        na.NASFeatureAblation(model, segmenter=GridSegmenter(4)).attribute(_images(), target=1)
    assert model.calls == 2
    _assert_same_buffers(model, before)


def test_snapshot_restores_replaced_added_and_deleted_buffers() -> None:
    bn = nn.BatchNorm1d(3).train()
    mean = bn.running_mean
    restore = snapshot_buffers(bn)
    bn(torch.randn(5, 3))
    bn.running_mean = torch.full((3,), 9.0)  # replaced by another tensor
    del bn._buffers["running_var"]  # deleted
    bn.register_buffer("extra", torch.ones(1))  # added
    restore()
    assert bn.running_mean is mean and mean.tolist() == [0.0, 0.0, 0.0]
    assert bn.running_var.tolist() == [1.0, 1.0, 1.0]
    assert int(bn.num_batches_tracked) == 0
    assert "extra" not in dict(bn.named_buffers())


def test_unchanged_buffers_are_not_written() -> None:
    """An eval-mode forward's autograd graph saves the running statistics; a guarded
    call must not bump their version, or that graph's backward would fail."""
    torch.manual_seed(0)
    model = TinyCNN().eval()
    x = _images().requires_grad_(True)
    out = model(x)[:, 1].sum()  # the graph saves BatchNorm's running_mean/var
    versions = [buf._version for buf in model.buffers()]
    with preserved_model_state(model):
        model(_images())
    assert [buf._version for buf in model.buffers()] == versions
    na.NASSaliency(model, segmenter=GridSegmenter(4)).attribute(_images(), target=1)
    out.backward()  # would raise "modified by an inplace operation"
    assert x.grad is not None
