"""Tests for relevance curves (MoRF / LeRF / random), AUC, AOPC and the gap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from benchmarks._peers import quantus_irof
from captum_nas.metrics.relevance import BLUR_SIGMA, gaussian_blur, relevance_curve, relevance_gap
from captum_nas.segmentation import GridSegmenter


class LinearScore(nn.Module):
    """Logits ``[sum(w * x), 0]``: removing pixel p (zeros baseline) lowers class 0 by w_p x_p."""

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, x: Tensor) -> Tensor:
        s = (x * self.weight).flatten(1).sum(1)
        return torch.stack([s, torch.zeros_like(s)], 1)


class Recorder:
    """Forward wrapper counting calls and keeping the inputs it saw."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls = 0
        self.inputs: list[Tensor] = []

    def __call__(self, x: Tensor, *args: Any) -> Tensor:
        self.calls += 1
        self.inputs.append(x.clone())
        return self.model(x, *args)


def _tiny_cnn(channels: int = 3, classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, classes),
    ).eval()


def test_pixel_morf_curve_is_analytic() -> None:
    w = torch.tensor([[[[4.0, 1.0], [3.0, 2.0]]]])  # (1, 1, 2, 2)
    model = LinearScore(w)
    x = torch.ones(1, 1, 2, 2)
    res = relevance_curve(model, x, w, target=0, softmax=False)
    # removal order 4, 3, 2, 1 -> scores 10, 6, 3, 1, 0
    assert res.scores.tolist() == [[10.0, 6.0, 3.0, 1.0, 0.0]]
    assert res.fraction_removed.tolist() == [[0.0, 0.25, 0.5, 0.75, 1.0]]
    assert res.units_removed.tolist() == [[0, 1, 2, 3, 4]]
    auc = 0.25 * ((10 + 6) + (6 + 3) + (3 + 1) + (1 + 0)) / 2
    assert float(res.auc[0]) == pytest.approx(auc)
    assert float(res.aopc[0]) == pytest.approx((0 + 4 + 7 + 9 + 10) / 5)
    lerf = relevance_curve(model, x, w, target=0, softmax=False, order="lerf")
    assert lerf.scores.tolist() == [[10.0, 9.0, 7.0, 4.0, 0.0]]
    gap = relevance_gap(model, x, w, target=0, softmax=False)
    assert float(gap.gap[0]) == pytest.approx(float(lerf.auc[0] - res.auc[0]))
    assert float(gap.gap[0]) > 0


def test_segments_plateau_and_area_weighted_fraction() -> None:
    model = LinearScore(torch.ones(1, 1, 2, 4))
    x = torch.ones(2, 1, 2, 4)
    seg = torch.tensor(
        [
            [[[0, 0, 1, 1], [2, 2, 2, 2]]],  # 3 segments: sizes 2, 2, 4
            [[[0, 0, 0, 0], [1, 1, 1, 1]]],  # 2 segments
        ]
    )
    attr = torch.tensor(
        [
            [[[1.0, 1.0, 5.0, 5.0], [3.0, 3.0, 3.0, 3.0]]],
            [[[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]]],
        ]
    )
    res = relevance_curve(model, x, attr, target=0, segments=seg, softmax=False)
    assert res.n_steps == 3  # the largest number of segments
    assert res.n_units.tolist() == [3, 2]
    # image 0 removes segment 1 (2 px), then 2 (4 px), then 0 (2 px)
    assert res.scores[0].tolist() == [8.0, 6.0, 2.0, 0.0]
    assert res.fraction_removed[0].tolist() == [0.0, 0.25, 0.75, 1.0]
    # image 1 removes segment 1 then 0, then plateaus
    assert res.scores[1].tolist() == [8.0, 4.0, 0.0, 0.0]
    assert res.units_removed[1].tolist() == [0, 1, 2, 2]
    assert res.fraction_removed[1].tolist() == [0.0, 0.5, 1.0, 1.0]
    # the plateau has zero width: AUC over the fraction actually removed
    assert float(res.auc[1]) == pytest.approx(0.5 * (8 + 4) / 2 + 0.5 * (4 + 0) / 2)


def test_segment_relevance_sum_vs_mean() -> None:
    w = torch.ones(1, 1, 1, 4)
    x = torch.ones(1, 1, 1, 4)
    seg = torch.tensor([[[[0, 1, 1, 1]]]])
    attr = torch.tensor([[[[2.0, 1.0, 1.0, 1.0]]]])
    mean = relevance_curve(LinearScore(w), x, attr, 0, segments=seg, softmax=False)
    total = relevance_curve(
        LinearScore(w), x, attr, 0, segments=seg, softmax=False, segment_relevance="sum"
    )
    assert mean.scores.tolist() == [[4.0, 3.0, 0.0]]  # mean 2 > 1: segment 0 first
    assert total.scores.tolist() == [[4.0, 1.0, 0.0]]  # sum 3 > 2: segment 1 first


def test_step_rule_with_fewer_steps() -> None:
    w = torch.ones(1, 1, 2, 5)
    x = torch.ones(1, 1, 2, 5)
    attr = torch.arange(10.0).reshape(1, 1, 2, 5)
    res = relevance_curve(LinearScore(w), x, attr, 0, n_steps=4, softmax=False)
    # round(k * 10 / 4) = 0, 2 (2.5 rounds half up to 3), 5, 8, 10
    assert res.units_removed.tolist() == [[0, 3, 5, 8, 10]]
    assert res.scores.tolist() == [[10.0, 7.0, 5.0, 2.0, 0.0]]


@pytest.mark.parametrize("batch_size", [1, 4, 7, 1000])
def test_forward_call_count_and_chunk_parity(batch_size: int) -> None:
    model = _tiny_cnn()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 8, 8, generator=gen)
    attr = torch.rand(3, 3, 8, 8, generator=gen)
    rec = Recorder(model)
    res = relevance_curve(
        rec, x, attr, target=[0, 1, 2], patch_size=2, max_examples_per_batch=batch_size
    )
    steps = res.n_steps + 1
    assert steps == 17
    assert rec.calls == math.ceil(3 * steps / batch_size)
    assert all(t.shape[0] <= batch_size for t in rec.inputs)
    ref = relevance_curve(
        model, x, attr, target=[0, 1, 2], patch_size=2, max_examples_per_batch=3 * steps
    )
    assert torch.allclose(res.scores, ref.scores, atol=1e-6)
    assert torch.equal(res.fraction_removed, ref.fraction_removed)


def test_target_none_uses_prediction_on_intact_input() -> None:
    model = _tiny_cnn()
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 8, 8, generator=gen)
    attr = torch.rand(4, 1, 8, 8, generator=gen)
    pred = model(x).argmax(1)
    auto = relevance_curve(model, x, attr, patch_size=4, max_examples_per_batch=3)
    explicit = relevance_curve(model, x, attr, target=pred, patch_size=4, max_examples_per_batch=3)
    assert torch.equal(auto.target, pred)
    assert torch.allclose(auto.scores, explicit.scores)
    probs = torch.softmax(model(x), 1).gather(1, pred[:, None]).squeeze(1)
    assert torch.allclose(auto.scores[:, 0], probs, atol=1e-6)


def test_scalar_output_model() -> None:
    w = torch.ones(1, 1, 2, 2)

    def model(x: Tensor) -> Tensor:
        return (x * w).flatten(1).sum(1)

    res = relevance_curve(model, torch.ones(2, 1, 2, 2), torch.rand(2, 2, 2), softmax=False)
    assert res.scores[:, 0].tolist() == [4.0, 4.0]
    assert res.target.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="softmax=False"):
        relevance_curve(model, torch.ones(2, 1, 2, 2), torch.rand(2, 2, 2))


def _run_quantus(metric: Any, model: nn.Module, x: Tensor, y: np.ndarray, attr: Tensor) -> Any:
    """A Quantus metric on our inputs (CPU, softmax scores), as the parity tests call it."""
    return metric(
        model=model,
        x_batch=x.numpy(),
        y_batch=y,
        a_batch=attr.numpy(),
        device="cpu",
        softmax=True,
    )


def _last_input(baseline: Any, x: Tensor, **kwargs: Any) -> Tensor:
    rec = Recorder(_tiny_cnn())
    relevance_curve(
        rec,
        x,
        torch.rand(x.shape[0], 1, *x.shape[2:]),
        0,
        patch_size=4,
        baselines=baseline,
        max_examples_per_batch=1000,
        **kwargs,
    )
    steps = rec.inputs[0].shape[0] // x.shape[0]
    return rec.inputs[0].reshape(x.shape[0], steps, *x.shape[1:])[:, -1]


def test_baselines_fill_removed_pixels() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 8, 8, generator=gen)
    assert torch.equal(_last_input("zeros", x), torch.zeros_like(x))
    assert torch.allclose(_last_input("mean", x), x.mean((2, 3), keepdim=True).expand_as(x))
    assert torch.allclose(_last_input("blur", x), gaussian_blur(x, BLUR_SIGMA))
    assert torch.equal(_last_input(0.25, x), torch.full_like(x, 0.25))
    custom = torch.rand(1, 3, 1, 1, generator=gen)
    assert torch.equal(_last_input(custom, x), custom.expand_as(x))
    assert torch.equal(_last_input(lambda t: t * 2, x), x * 2)
    noise = _last_input("uniform", x, seed=5)
    lo = x.amin((1, 2, 3), keepdim=True)
    hi = x.amax((1, 2, 3), keepdim=True)
    assert bool(((noise >= lo) & (noise <= hi)).all())
    assert torch.equal(noise, _last_input("uniform", x, seed=5))
    assert not torch.equal(noise, _last_input("uniform", x, seed=6))


def test_gaussian_blur_properties() -> None:
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    y = gaussian_blur(x, 1.0)
    assert float(y.sum()) == pytest.approx(1.0, abs=1e-6)  # mass kept away from borders
    assert torch.allclose(y, y.transpose(2, 3))
    assert int(y.flatten().argmax()) == 40
    with pytest.raises(ValueError, match="odd"):
        gaussian_blur(x, 1.0, kernel_size=4)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(x, 0.0)


def test_random_order_is_seeded() -> None:
    w = torch.rand(1, 1, 4, 4)
    x = torch.ones(1, 1, 4, 4)
    a = relevance_curve(LinearScore(w), x, w, 0, order="random", seed=3, softmax=False)
    b = relevance_curve(LinearScore(w), x, w, 0, order="random", seed=3, softmax=False)
    c = relevance_curve(LinearScore(w), x, w, 0, order="random", seed=4, softmax=False)
    assert torch.equal(a.scores, b.scores)
    assert not torch.equal(a.scores, c.scores)


def test_additional_forward_args_indexed_per_example() -> None:
    def model(x: Tensor, scale: Tensor, offset: float) -> Tensor:
        s = x.flatten(1).sum(1) * scale + offset
        return torch.stack([s, torch.zeros_like(s)], 1)

    x = torch.ones(2, 1, 2, 2)
    res = relevance_curve(
        model,
        x,
        torch.rand(2, 1, 2, 2),
        0,
        softmax=False,
        max_examples_per_batch=3,
        additional_forward_args=(torch.tensor([1.0, 10.0]), 0.5),
    )
    assert res.scores[:, 0].tolist() == [4.5, 40.5]
    assert res.scores[:, -1].tolist() == [0.5, 0.5]


def test_dtype_and_inputs_unchanged() -> None:
    model = _tiny_cnn().double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    x_copy = x.clone()
    res = relevance_curve(model, x, torch.rand(2, 3, 8, 8, dtype=torch.float64), 1, patch_size=4)
    assert res.scores.dtype == torch.float64 and res.auc.dtype == torch.float64
    assert res.scores.device == x.device
    assert torch.equal(x, x_copy)


def test_segments_broadcast_from_single_mask() -> None:
    model = _tiny_cnn()
    x = torch.rand(2, 3, 8, 8)
    attr = torch.rand(2, 8, 8)
    seg = GridSegmenter(n_segments=4)(x[:1])
    a = relevance_curve(model, x, attr, 0, segments=seg)
    b = relevance_curve(model, x, attr, 0, segments=seg.expand(2, 1, 8, 8))
    c = relevance_curve(model, x, attr, 0, patch_size=4)
    assert torch.equal(a.scores, b.scores) and torch.allclose(a.scores, c.scores)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"order": "best"}, ValueError, "order"),
        ({"baselines": "black"}, ValueError, "`baselines`"),
        ({"baselines": torch.zeros(2, 3, 5, 5)}, ValueError, "broadcast"),
        ({"baselines": object()}, TypeError, "`baselines`"),
        (
            {"segments": torch.zeros(2, 1, 8, 8, dtype=torch.long), "patch_size": 2},
            ValueError,
            "at most one",
        ),
        ({"patch_size": 4, "n_steps": 5}, ValueError, "n_steps"),
        ({"n_steps": 0}, ValueError, "n_steps"),
        ({"max_examples_per_batch": 0}, ValueError, "max_examples_per_batch"),
        ({"segment_relevance": "max"}, ValueError, "segment_relevance"),
        ({"target": 7}, ValueError, "out of range"),
        ({"target": torch.tensor([0.0, 1.0])}, TypeError, "target"),
        ({"target": [0, 1, 2]}, ValueError, "target"),
        ({"target": -1}, ValueError, "target"),
        ({"softmax": 1}, TypeError, "softmax"),
    ],
)
def test_rejects_bad_options(kwargs: dict, error: type, match: str) -> None:
    kwargs.setdefault("target", 0)
    with pytest.raises(error, match=match):
        relevance_curve(_tiny_cnn(), torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), **kwargs)


def test_rejects_bad_attributions_and_inputs() -> None:
    model = _tiny_cnn()
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="NaN"):
        relevance_curve(model, x, torch.full((2, 1, 8, 8), float("nan")), 0)
    with pytest.raises(ValueError, match="batch size"):
        relevance_curve(model, x, torch.rand(3, 1, 8, 8), 0)
    with pytest.raises(ValueError, match="attributions"):
        relevance_curve(model, x, torch.rand(2, 1, 4, 4), 0)
    with pytest.raises(ValueError, match="inputs"):
        relevance_curve(model, x[0], torch.rand(2, 1, 8, 8), 0)
    with pytest.raises(ValueError, match="segments"):
        relevance_curve(model, x, torch.rand(2, 8, 8), 0, segments=torch.zeros(3, 1, 8, 8).long())


# ---------------------------------------------------------------- Quantus parity


def test_region_perturbation_parity_with_quantus() -> None:
    quantus = pytest.importorskip("quantus")
    model = _tiny_cnn()
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(3, 3, 16, 16, generator=gen)
    attr = torch.rand(3, 1, 16, 16, generator=gen)
    y = np.array([0, 1, 2])
    for order in ("morf", "lerf"):
        metric = quantus.RegionPerturbation(
            patch_size=4,
            order=order,
            regions_evaluation=16,
            perturb_baseline=0.0,
            normalise=False,
            abs=False,
            disable_warnings=True,
        )
        theirs = np.stack(_run_quantus(metric, model, x, y, attr))
        ours = relevance_curve(
            model, x, attr, torch.from_numpy(y), patch_size=4, order=order, baselines="zeros"
        )
        # Quantus reports f(x) - f(x_k) for k = 1..regions_evaluation
        drop = (ours.scores[:, :1] - ours.scores[:, 1:]).numpy()
        np.testing.assert_allclose(drop, theirs, atol=1e-5)


def test_irof_parity_with_quantus() -> None:
    pytest.importorskip("quantus")
    model = _tiny_cnn()
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(3, 3, 16, 16, generator=gen)
    attr = torch.rand(3, 1, 16, 16, generator=gen)
    seg = GridSegmenter(n_segments=8)(x)
    y = np.array([2, 0, 1])
    # Quantus on our segments instead of SLIC (same units on both sides)
    theirs = quantus_irof(model, x.numpy(), y, attr.numpy(), seg[:, 0].numpy())
    ours = relevance_curve(model, x, attr, torch.from_numpy(y), segments=seg, baselines="zeros")
    ratio = (ours.scores[:, 1:] / ours.scores[:, :1]).double().numpy()
    k = ours.n_units.double().numpy()
    aoc = k - np.trapezoid(ratio, dx=1, axis=1)
    np.testing.assert_allclose(aoc, theirs, atol=1e-5)


def test_deprecated_argument_names_warn_and_match_the_new_ones() -> None:
    model = _tiny_cnn()
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(2, 3, 8, 8, generator=gen)
    attr = torch.rand(2, 3, 8, 8, generator=gen)
    new = relevance_curve(
        model, x, attr, 0, patch_size=4, baselines="mean", max_examples_per_batch=3
    )
    with pytest.warns(DeprecationWarning, match="`baselines`"):
        old = relevance_curve(
            model, x, attr, 0, patch_size=4, baseline="mean", max_examples_per_batch=3
        )
    assert torch.equal(new.scores, old.scores)
    rec = Recorder(model)
    with pytest.warns(DeprecationWarning, match="`max_examples_per_batch`"):
        relevance_gap(rec, x, attr, 0, patch_size=4, batch_size=2)
    assert rec.calls == 2 * math.ceil(2 * 5 / 2)
    with pytest.raises(TypeError, match="only one of"), pytest.warns(DeprecationWarning):
        relevance_curve(model, x, attr, 0, baselines="mean", baseline="blur")
