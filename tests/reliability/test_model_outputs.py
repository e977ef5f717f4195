"""Models the NAS* classes cannot explain as they are, and arguments Captum would
choke on: a clear error naming the cause instead of a crash deep in Captum or torch.

* a model returning a tuple or a dict (before: ``AttributeError: 'tuple' object has
  no attribute 'shape'`` from Captum): ``TypeError`` saying the model must return one
  Tensor of scores (N, n_classes), and how to wrap it;
* a half-precision model under LRP (before: "check the model's outputs"): the
  epsilon rule underflows in float16;
* KernelShap on a single segment (before: a ``ValueError`` about a Categorical
  distribution), Lime and friends with ``n_samples=0`` (before: ``torch.cat(): expected
  a non-empty list``), seeds beyond ``2**32 - 1`` (before: "Overflow when unpacking
  long long", or numpy's message without the argument name).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from captum_nas import attr as na
from captum_nas._validation import check_model_output
from captum_nas.metrics import relevance_curve
from captum_nas.segmentation import GridSegmenter, QuickshiftSegmenter
from tests.conftest import TinyCNN
from tests.reliability.test_bad_inputs import NAS_CLASSES, _kwargs, _method

H = W = 16


def _images() -> Tensor:
    return torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(0))


class _TupleModel(TinyCNN):
    """Logits and an auxiliary output, as detection or multi-task models return."""

    def forward(self, x: Tensor) -> Any:  # type: ignore[override]
        return super().forward(x), x.mean()


class _DictModel(TinyCNN):
    """Hugging Face style: a dict holding the logits."""

    def forward(self, x: Tensor) -> Any:  # type: ignore[override]
        return {"logits": super().forward(x)}


class _Logits(nn.Module):
    """The documented fix: a module whose forward returns the scores tensor."""

    def __init__(self, model: nn.Module, key: Any) -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)[self.key]


OUTPUT_CASES = [
    (
        "tuple",
        _TupleModel,
        0,
        r"returned a tuple of 2 items; it must return one Tensor .*`model\(x\)\[0\]`",
    ),
    (
        "dict",
        _DictModel,
        "logits",
        r"returned a dict with keys \['logits'\].*`model\(x\)\['logits'\]`",
    ),
]


@pytest.mark.parametrize(("kind", "model_cls", "key", "match"), OUTPUT_CASES, ids=lambda v: "")
@pytest.mark.parametrize("cls", NAS_CLASSES, ids=lambda c: c.__name__)
def test_nas_classes_reject_tuple_and_dict_outputs(
    cls: type, kind: str, model_cls: type, key: Any, match: str
) -> None:
    torch.manual_seed(0)
    model = model_cls().eval()
    x = _images()
    with pytest.raises(TypeError, match=r"`forward_func` " + match):
        _method(cls, model).attribute(x, target=1, **_kwargs(cls, x))


@pytest.mark.parametrize(("kind", "model_cls", "key", "match"), OUTPUT_CASES, ids=["tuple", "dict"])
def test_wrapped_tuple_and_dict_models_work(
    kind: str, model_cls: type, key: Any, match: str
) -> None:
    """The wrapper the message suggests gives the plain model's result."""
    torch.manual_seed(0)
    model = model_cls().eval()
    plain = TinyCNN().eval()
    plain.load_state_dict(model.state_dict())
    x = _images()
    for cls in (na.NASSaliency, na.NASFeatureAblation):
        got = cls(_Logits(model, key), segmenter=GridSegmenter(4)).attribute(x, target=1)
        expected = cls(plain, segmenter=GridSegmenter(4)).attribute(x, target=1)
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize(("kind", "model_cls", "key", "match"), OUTPUT_CASES, ids=["tuple", "dict"])
def test_relevance_curve_rejects_tuple_and_dict_outputs(
    kind: str, model_cls: type, key: Any, match: str
) -> None:
    x = _images()
    with pytest.raises(TypeError, match=r"`forward_func` " + match):
        relevance_curve(model_cls().eval(), x, x, target=1, patch_size=8)


def test_check_model_output_names_other_types() -> None:
    out = torch.zeros(2, 5)
    assert check_model_output(out) is out
    with pytest.raises(
        TypeError,
        match="`forward_func` returned a list of 2 items; it must return one Tensor",
    ):
        check_model_output([out, out])
    with pytest.raises(TypeError, match="`model` returned NoneType None"):
        check_model_output(None, "model")


class _Inf(nn.Module):
    """Gradient Inf: ``x * 1e30`` overflows float16 (the scale becomes inf)."""

    def forward(self, x: Tensor) -> Tensor:
        return (x * torch.tensor(1e30, dtype=x.dtype)).flatten(1)[:, :5]


@pytest.mark.parametrize(
    ("method", "model_cls", "match"),
    [
        # LRP divides by a layer's output plus 1e-9, which is 0 in float16: the message
        # names the epsilon rule
        pytest.param(
            na.NASLRP,
            TinyCNN,
            r"LRP returned NaN or Inf values on torch.float16 inputs: its epsilon rule "
            r".* underflows in half precision",
            id="lrp-epsilon-rule",
        ),
        # any other method says half precision
        pytest.param(
            na.NASSaliency,
            _Inf,
            r"Saliency returned NaN or Inf values on torch.float16 inputs; half precision",
            id="saliency-overflow",
        ),
    ],
)
def test_half_precision_failures_name_the_cause(
    method: Any, model_cls: type[nn.Module], match: str
) -> None:
    torch.manual_seed(0)
    model = model_cls().eval().half()
    x = _images().half()
    with pytest.raises(ValueError, match=match):
        method(model, segmenter=GridSegmenter(4)).attribute(x, target=1)


def test_half_precision_lrp_advice_works() -> None:
    """The advice of the epsilon rule message works: the same (half-precision) model in
    float32 gives a finite map."""
    torch.manual_seed(0)
    model = TinyCNN().eval().half().float()
    out = na.NASLRP(model, segmenter=GridSegmenter(4)).attribute(_images(), target=1)
    assert bool(torch.isfinite(out).all())


# ---- arguments of the segment-level methods and seeds -------------------------------


def test_kernel_shap_needs_two_segments_per_image() -> None:
    torch.manual_seed(0)
    model, x = TinyCNN().eval(), _images()
    with pytest.raises(
        ValueError,
        match=(
            r"`segments`: NASKernelShap needs at least 2 segments per image "
            r".* image\(s\) \[0, 1\] have one"
        ),
    ):
        na.NASKernelShap(model, segmenter=GridSegmenter(1)).attribute(x, target=1)
    one_image_single = torch.zeros(2, 1, H, W, dtype=torch.long)
    one_image_single[0, :, :, 8:] = 1  # image 0 has 2 segments, image 1 has one
    with pytest.raises(ValueError, match=r"`feature_mask`: .* image\(s\) \[1\] have one"):
        na.NASKernelShap(model).attribute(x, target=1, feature_mask=one_image_single)
    # two segments work, and Lime still takes a single segment
    one_image_single[1, :, :, 8:] = 1
    out = na.NASKernelShap(model).attribute(x, target=1, feature_mask=one_image_single, n_samples=8)
    assert bool(torch.isfinite(out).all())
    lime = na.NASLime(model, segmenter=GridSegmenter(1)).attribute(x, target=1, n_samples=8)
    assert bool(torch.isfinite(lime).all())


@pytest.mark.parametrize(
    "cls", [na.NASLime, na.NASKernelShap, na.NASShapleyValueSampling, na.NASFeatureAblation]
)
def test_sample_counts_below_one_are_rejected(cls: type) -> None:
    torch.manual_seed(0)
    method = cls(TinyCNN().eval(), segmenter=GridSegmenter(4))
    x = _images()
    if cls is not na.NASFeatureAblation:  # FeatureAblation has no n_samples
        with pytest.raises(ValueError, match="`n_samples` must be an integer >= 1, got 0"):
            method.attribute(x, target=1, n_samples=0)
        with pytest.raises(TypeError, match=r"`n_samples` must be an integer >= 1, got float 2\.5"):
            method.attribute(x, target=1, n_samples=2.5)
    with pytest.raises(ValueError, match="`perturbations_per_eval` must be an integer >= 1, got 0"):
        method.attribute(x, target=1, perturbations_per_eval=0)


@pytest.mark.parametrize("seed", [2**32, 2**70, -1])
def test_seeds_out_of_range_are_rejected(seed: int) -> None:
    torch.manual_seed(0)
    model, x = TinyCNN().eval(), _images()
    match = rf"`seed` must be an integer >= 0 and <= 2\*\*32 - 1, got {seed}"
    with pytest.raises(ValueError, match=match):
        relevance_curve(model, x, x, target=1, patch_size=8, seed=seed, order="random")
    with pytest.raises(ValueError, match=match):
        QuickshiftSegmenter(seed=seed)


def test_largest_seed_works() -> None:
    torch.manual_seed(0)
    model, x = TinyCNN().eval(), _images()
    a = relevance_curve(model, x, x, target=1, patch_size=8, seed=2**32 - 1, order="random")
    b = relevance_curve(model, x, x, target=1, patch_size=8, seed=2**32 - 1, order="random")
    torch.testing.assert_close(a.scores, b.scores)
