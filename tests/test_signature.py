"""Options declared once as a TypedDict and shown expanded (``captum_nas._signature``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypedDict

import pytest

from captum_nas._signature import expand_options, same_parameters
from captum_nas.evaluation.distributed import evaluate_distributed
from captum_nas.evaluation.runner import evaluate
from captum_nas.metrics.masks import mask_f1, mask_iou
from captum_nas.metrics.relevance import relevance_gap
from captum_nas.segmentation.classic import (
    FelzenszwalbSegmenter,
    QuickshiftSegmenter,
    WatershedSegmenter,
)


class _Opts(TypedDict, total=False):
    size: int
    name: str


def _reference(*, size: int = 3, name: str = "a") -> None: ...


def test_expanded_signature_order_and_call() -> None:
    @expand_options(_Opts, _reference, last=("flag",))
    def f(x: int, *, flag: bool = False, **opts: Any) -> tuple[int, bool, dict[str, Any]]:
        return x, flag, opts

    params = inspect.signature(f).parameters
    assert list(params) == ["x", "size", "name", "flag"]
    assert params["size"].default == 3 and params["name"].default == "a"
    assert all(params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in ("size", "name", "flag"))
    assert f(1, name="b") == (1, False, {"name": "b"})
    with pytest.raises(TypeError, match=r"f\(\) got an unexpected keyword argument 'nme'"):
        f(1, nme="b")


def test_defaults_must_cover_the_options() -> None:
    with pytest.raises(TypeError, match=r"lacks the options \['name'\]"):
        expand_options(_Opts, lambda *, size=3: None)


# The public signatures as they were written out by hand before the options were shared.
_IMAGE = (
    "to_image: 'Callable[[Tensor], Tensor] | None' = None, "
    "mean: 'Sequence[float] | None' = None, std: 'Sequence[float] | None' = None"
)
_EVAL_HEAD = (
    "forward_func: 'Callable[[Tensor], Tensor]', batches: 'Iterable[EvalBatch]', "
    "methods: 'Mapping[str, AttributionFn]', segmenters: 'Mapping[str, SegmenterFn | None]', *"
)
_EVAL_OPTIONS = (
    "pool: 'Callable[[Tensor, Tensor], Tensor]', curves: 'bool' = True, "
    "patch_size: 'int | None' = None, curve_steps: 'int' = 16, curve_baseline: 'str' = 'mean', "
    "forward_batch_size: 'int' = 128, target: 'str' = 'label', "
    "ground_truth: 'str | None' = None, progress: 'bool' = True, total: 'int | None' = None, "
    "device: 'torch.device | str | None' = None"
)
_MASK = "(maps: 'Tensor', masks: 'Tensor', *, thresholds: 'ThresholdsLike' = 0.5, normalize: 'bool' = False) -> 'Tensor'"  # noqa: E501


@pytest.mark.parametrize(
    ("public", "documented"),
    [
        (mask_iou, _MASK),
        (mask_f1, _MASK),
        (
            QuickshiftSegmenter,
            "(*, kernel_size: 'float' = 4.0, max_dist: 'float' = 200.0, ratio: 'float' = 0.2, "
            f"seed: 'int' = 42, {_IMAGE}) -> 'None'",
        ),
        (
            FelzenszwalbSegmenter,
            "(*, scale: 'float' = 100.0, sigma: 'float' = 0.8, min_pixels: 'int' = 50, "
            f"{_IMAGE}, min_size: 'int | None' = None) -> 'None'",
        ),
        (evaluate, f"({_EVAL_HEAD}, {_EVAL_OPTIONS}) -> 'EvaluationReport'"),
        (
            evaluate_distributed,
            f"({_EVAL_HEAD}, job: 'Job | None' = None, store: 'ShardStore | None' = None, "
            f"resume: 'bool' = False, {_EVAL_OPTIONS}) -> 'EvaluationReport | None'",
        ),
        (
            WatershedSegmenter,
            f"(n_segments: 'int' = 32, *, compactness: 'float' = 0.001, {_IMAGE}) -> 'None'",
        ),
    ],
)
def test_public_signatures_as_documented(public: Callable[..., Any], documented: str) -> None:
    assert str(inspect.signature(public)) == documented


def test_relevance_gap_signature() -> None:
    params = inspect.signature(relevance_gap).parameters
    assert list(params) == [
        "forward_func", "inputs", "attributions", "target", "segments", "patch_size",
        "baselines", "n_steps", "max_examples_per_batch", "additional_forward_args", "seed",
        "softmax", "segment_relevance", "baseline", "batch_size",
    ]  # fmt: skip
    kw_only = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert kw_only == list(params)[4:]
    defaults = {n: params[n].default for n in ("baselines", "max_examples_per_batch", "seed")}
    assert defaults == {"baselines": "zeros", "max_examples_per_batch": 64, "seed": 0}


def test_a_missing_required_option_is_a_type_error() -> None:
    with pytest.raises(
        TypeError, match=r"evaluate_distributed\(\) missing a required keyword-only argument 'pool'"
    ):
        evaluate_distributed(lambda x: x, [], {}, {})


def test_same_parameters_takes_the_templates_signature() -> None:
    def template(a: int, b: str = "x", *, c: float = 1.0) -> int:
        return a

    @same_parameters(template)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        return f"{args} {sorted(kwargs)}"

    assert (
        str(inspect.signature(wrapper))
        == "(a: 'int', b: 'str' = 'x', *, c: 'float' = 1.0) -> 'str'"
    )
    assert wrapper(1, c=2.0) == "(1,) ['c']"
