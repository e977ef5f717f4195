"""Targets: every form our check accepts reaches Captum in a form Captum takes.

One function, :func:`captum_nas._validation.normalize_target`, checks and normalises
``target`` once; the NAS* classes pass the normalised value on to Captum and
``relevance_curve`` scores with it. Every accepted form must give the same result as
its canonical equivalent (an int, a list of ints, a tuple), and every rejected form a
clear error naming ``target``. Tuples follow Captum's convention: one multi-index
into a (N, d1, ..., dk) output for every image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from captum_nas import attr as na
from captum_nas._validation import check_target, normalize_target
from captum_nas.attr.registry import seeded
from captum_nas.metrics import relevance_curve
from captum_nas.segmentation import GridSegmenter
from tests.conftest import TinyCNN
from tests.reliability.test_bad_inputs import NAS_CLASSES, _kwargs, _method

H = W = 16

# (id, accepted form, its canonical equivalent) for a batch of 2 images
EQUIVALENT_TARGETS = [
    ("numpy-int64", np.int64(3), 3),
    ("numpy-uint8", np.uint8(2), 2),
    ("uint8-tensor", torch.tensor([1, 4], dtype=torch.uint8), [1, 4]),
    ("int32-tensor-0d", torch.tensor(2, dtype=torch.int32), 2),
    ("range", range(2), [0, 1]),
    ("numpy-array", np.array([4, 1]), [4, 1]),
    ("numpy-uint64-array", np.array([3, 0], dtype=np.uint64), [3, 0]),
    ("list-of-numpy-ints", [np.int32(1), np.int64(2)], [1, 2]),
    ("one-tuple", (3,), 3),
]

REJECTED_TARGETS = [
    ("bool", True, TypeError, "`target` must hold integer class ids, got bool True"),
    ("numpy-bool", np.bool_(True), TypeError, "got bool"),
    ("bool-list", [True, False], TypeError, r"`target` \(a sequence\) must hold integer .* bool"),
    ("bool-tensor", torch.tensor([True, False]), TypeError, "got dtype torch.bool"),
    ("bool-array", np.array([True, False]), TypeError, "got numpy dtype bool"),
    ("float-array", np.array([1.0, 2.0]), TypeError, "got numpy dtype float64"),
    ("numpy-float", np.float32(1.0), TypeError, "`target` must be None, an int"),
    ("beyond-int64", 2**70, ValueError, r"too large for a class id \(at most 2\*\*63 - 1\)"),
    ("beyond-int64-in-list", [1, 2**64], ValueError, "too large for a class id"),
    ("beyond-int64-array", np.array([2**64 - 1, 0], dtype=np.uint64), ValueError, "too large"),
    ("negative-numpy", np.int64(-1), ValueError, "`target` must hold class ids >= 0, got -1"),
    ("negative-in-tuple", (1, -2), ValueError, "class ids >= 0, got -2"),
    ("empty-tuple", (), ValueError, "`target` is an empty tuple"),
    ("float-in-tuple", (1, 2.0), TypeError, r"`target` \(a tuple\) must hold integer"),
    ("mixed-list", [1, (1, 2)], TypeError, "only ints .* or only tuples"),
    ("ragged-tuples", [(1, 2), (1,)], ValueError, "tuples of a list must have one length"),
    ("tuples-wrong-count", [(1, 2)] * 3, ValueError, "must hold 2 ints .* or 2 tuples"),
    ("string", "cat", TypeError, "`target` must be None, an int"),
    ("range-wrong-length", range(3), ValueError, "must hold 2 ints"),
]


@pytest.mark.parametrize(
    ("target", "canonical"),
    [(t, c) for _, t, c in EQUIVALENT_TARGETS],
    ids=[i for i, _, _ in EQUIVALENT_TARGETS],
)
def test_normalize_target_gives_the_canonical_form(target: Any, canonical: Any) -> None:
    got = check_target(target, 2)  # a 1-tuple is Captum's multi-index of one class
    expected = check_target(canonical, 2)
    assert isinstance(got, Tensor) and got.dtype == torch.long and got.shape == (2,)
    assert isinstance(expected, Tensor)
    assert got.tolist() == expected.tolist()
    if not isinstance(target, tuple):
        normalised = normalize_target(target, 2)
        assert isinstance(normalised, Tensor) and normalised.tolist() == got.tolist()


def test_normalize_target_keeps_tuples_as_multi_indices() -> None:
    assert normalize_target((1, np.int64(3)), 2) == (1, 3)
    assert normalize_target([(1, 2), (0, np.uint8(1))], 2) == [(1, 2), (0, 1)]
    assert normalize_target(None, 2) is None
    device_target = normalize_target(range(2), 2, device=torch.device("cpu"))
    assert isinstance(device_target, Tensor) and device_target.device.type == "cpu"


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [(t, e, m) for _, t, e, m in REJECTED_TARGETS],
    ids=[i for i, *_ in REJECTED_TARGETS],
)
def test_normalize_target_rejects(target: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        normalize_target(target, 2)


def test_class_per_image_callers_reject_multi_indices() -> None:
    """``check_target`` (one class per image): a 1-tuple is a class, a longer tuple is
    a multi-index it cannot express."""
    assert check_target((3,), 2).tolist() == [3, 3]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"multi-index .* Captum's convention"):
        check_target((1, 3), 2)
    with pytest.raises(ValueError, match="multi-index"):
        check_target([(1, 3), (0, 0)], 2)


def _images() -> Tensor:
    return torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(0))


def _model() -> nn.Module:
    torch.manual_seed(0)
    return TinyCNN().eval()


# the equivalences on the NAS* classes; the other forms only differ in the check
CLASS_TARGETS = [c for c in EQUIVALENT_TARGETS if c[0] in ("numpy-int64", "uint8-tensor", "range")]


# every class with one of the forms in turn (the normalisation is shared by all), and
# NASSaliency with all of them
CLASS_CASES = [
    (cls, *CLASS_TARGETS[i % len(CLASS_TARGETS)][1:]) for i, cls in enumerate(NAS_CLASSES)
] + [(na.NASSaliency, t, c) for _, t, c in EQUIVALENT_TARGETS]


@pytest.mark.parametrize(
    ("cls", "target", "canonical"),
    CLASS_CASES,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CLASS_CASES)],
)
def test_nas_classes_take_every_accepted_target_form(
    cls: type, target: Any, canonical: Any
) -> None:
    """Before: numpy ints and ranges failed in Captum ("Target type ... is not
    valid"), uint8 tensors in torch.gather. Now the same map as the canonical form."""
    model = _model()
    x = _images()
    method = _method(cls, model)
    with seeded(1):  # torch and numpy (Captum's sampling uses both)
        got = method.attribute(x, target=target, **_kwargs(cls, x))
    with seeded(1):
        expected = method.attribute(x, target=canonical, **_kwargs(cls, x))
    torch.testing.assert_close(got, expected)


def test_nas_class_result_holds_the_normalised_target() -> None:
    res = na.NASSaliency(_model(), segmenter=GridSegmenter(4)).attribute(
        _images(), target=np.int64(2), return_result=True
    )
    assert res.target.tolist() == [2, 2]
    res = na.NASSaliency(_TwoHeads(), segmenter=GridSegmenter(4)).attribute(
        _images(), target=(1, np.int64(2)), return_result=True
    )
    assert res.target == (1, 2)


@pytest.mark.parametrize("name", ["bool", "beyond-int64", "float-in-tuple", "mixed-list"])
def test_nas_classes_reject_bad_targets_before_captum(name: str) -> None:
    _, target, error, match = next(c for c in REJECTED_TARGETS if c[0] == name)
    with pytest.raises(error, match=match):
        na.NASIntegratedGradients(_model(), segmenter=GridSegmenter(4)).attribute(
            _images(), target=target, n_steps=2
        )


@pytest.mark.parametrize(("_id", "target", "canonical"), EQUIVALENT_TARGETS, ids=lambda v: "")
def test_relevance_curve_takes_every_accepted_target_form(
    _id: str, target: Any, canonical: Any
) -> None:
    model, x = _model(), _images()
    got = relevance_curve(model, x, x, target=target, patch_size=8)
    expected = relevance_curve(model, x, x, target=canonical, patch_size=8)
    torch.testing.assert_close(got.scores, expected.scores)
    torch.testing.assert_close(got.target, expected.target)


@pytest.mark.parametrize("name", ["bool", "beyond-int64", "mixed-list", "empty-tuple"])
def test_relevance_curve_rejects_bad_targets(name: str) -> None:
    _, target, error, match = next(c for c in REJECTED_TARGETS if c[0] == name)
    x = _images()
    with pytest.raises(error, match=match):
        relevance_curve(_model(), x, x, target=target, patch_size=8)


# ---- tuple targets: one multi-index into a (N, 2, 3) output --------------------------


class _TwoHeads(nn.Module):
    """Output (N, 2, 3): two heads of three classes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = TinyCNN(n_classes=6)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).reshape(-1, 2, 3)


class _Select(nn.Module):
    """One score per example: ``f(model(x))[:, i, j]``."""

    def __init__(self, model: nn.Module, i: int, j: int, *, softmax: bool = False) -> None:
        super().__init__()
        self.model, self.i, self.j, self.softmax = model, i, j, softmax

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        return (torch.softmax(out, -1) if self.softmax else out)[:, self.i, self.j]


def test_tuple_target_means_the_same_in_nas_classes_and_captum() -> None:
    """``target=(1, 2)`` explains ``output[:, 1, 2]`` of every image: the same map as
    a model returning that score, and as a list of the tuple per image."""
    model, x = _TwoHeads().eval(), _images()
    sal = na.NASSaliency(model, segmenter=GridSegmenter(4))
    got = sal.attribute(x, target=(1, 2))
    reference = na.NASSaliency(_Select(model, 1, 2), segmenter=GridSegmenter(4)).attribute(x)
    torch.testing.assert_close(got, reference)
    torch.testing.assert_close(sal.attribute(x, target=[(1, 2), (1, 2)]), got)


def test_tuple_target_in_relevance_curve() -> None:
    """Before: ``(1, 2)`` was read as one class per image. Now it is the multi-index,
    scored like a model returning ``softmax(output, -1)[:, 1, 2]``."""
    model, x = _TwoHeads().eval(), _images()
    got = relevance_curve(model, x, x, target=(1, 2), patch_size=8)
    reference = relevance_curve(
        _Select(model, 1, 2, softmax=True), x, x, target=None, patch_size=8, softmax=False
    )
    torch.testing.assert_close(got.scores, reference.scores)
    assert got.target.tolist() == [[1, 2], [1, 2]]
    per_image = relevance_curve(model, x, x, target=[(1, 2), (0, 1)], patch_size=8, softmax=False)
    with torch.no_grad():
        out = model(x)
    torch.testing.assert_close(per_image.scores[:, 0], torch.stack([out[0, 1, 2], out[1, 0, 1]]))


@pytest.mark.parametrize(
    ("target", "match"),
    [
        ((2, 0), r"`target` \(2, 0\) is out of range for .*shape \(\d+, 2, 3\)"),
        ((1, 3), r"`target` \(1, 3\) is out of range"),
        ((1, 2, 0), r"`target` \(1, 2, 0\) indexes 3 dimension\(s\) per example"),
        (1, "`target` 1 indexes 1 dimension"),
    ],
)
def test_tuple_targets_that_do_not_fit_the_output(target: Any, match: str) -> None:
    model, x = _TwoHeads().eval(), _images()
    with pytest.raises(ValueError, match=match):
        na.NASSaliency(model, segmenter=GridSegmenter(4)).attribute(x, target=target)
    with pytest.raises(ValueError, match=match):
        relevance_curve(model, x, x, target=target, patch_size=8)


def test_multi_index_on_a_class_output_is_rejected() -> None:
    """Before: Captum's AssertionError "Cannot choose target column"."""
    x = _images()
    with pytest.raises(ValueError, match=r"`target` \(1, 3\) indexes 2 dimension\(s\)"):
        na.NASSaliency(_model(), segmenter=GridSegmenter(4)).attribute(x, target=(1, 3))
    with pytest.raises(ValueError, match=r"`target` \(1, 3\) indexes 2 dimension\(s\)"):
        relevance_curve(_model(), x, x, target=(1, 3), patch_size=8)
