"""The torch lasso against scikit-learn's Lasso on small problems."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from captum_nas.interpretation.lasso import lasso

sklearn_linear = pytest.importorskip("sklearn.linear_model")


def _problem(
    seed: int = 0, n: int = 60, d: int = 10, k: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.zeros(d, k, dtype=torch.float64)
    w[0, 0], w[3, 1], w[5, 2], w[6, 2] = 2.0, -1.0, 1.5, 0.5
    y = x @ w + 0.1 * torch.randn(n, k, generator=g, dtype=torch.float64) + 0.3
    return x, y


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.02, 0.2])
def test_parity_with_sklearn_lasso(positive: bool, fit_intercept: bool, alpha: float) -> None:
    x, y = _problem()
    fit = lasso(x, y, alpha, positive=positive, fit_intercept=fit_intercept, tol=1e-12)
    ref = sklearn_linear.Lasso(
        alpha=alpha, positive=positive, fit_intercept=fit_intercept, tol=1e-12, max_iter=100000
    ).fit(x.numpy(), y.numpy())
    assert fit.converged
    np.testing.assert_allclose(fit.coef.numpy(), ref.coef_, atol=1e-6)
    np.testing.assert_allclose(
        fit.intercept.numpy(), np.broadcast_to(ref.intercept_, (3,)), atol=1e-6
    )


def test_single_output_matches_multitask_lasso() -> None:
    # with one output the group penalty of MultiTaskLasso is the plain L1 penalty
    x, y = _problem(seed=1)
    fit = lasso(x, y[:, :1], 0.05, tol=1e-12)
    ref = sklearn_linear.MultiTaskLasso(alpha=0.05, tol=1e-12, max_iter=100000).fit(
        x.numpy(), y[:, :1].numpy()
    )
    np.testing.assert_allclose(fit.coef.numpy(), ref.coef_, atol=1e-6)


def test_one_dimensional_target_and_dtype() -> None:
    x, y = _problem(seed=2)
    fit = lasso(x.float(), y[:, 0].float(), 0.05)
    assert fit.coef.shape == (10,) and fit.coef.dtype == torch.float32
    assert fit.intercept.shape == ()
    # the true support of output 0 is feature 0 alone
    assert torch.nonzero(fit.coef.abs() > 1e-3).flatten().tolist() == [0]


def test_large_penalty_gives_zero_weights() -> None:
    x, y = _problem(seed=3)
    # alpha_max = max |X_c' y_c| / n: at and above it every weight is zero
    xc, yc = x - x.mean(0), y - y.mean(0)
    alpha_max = float((xc.T @ yc).abs().max() / x.shape[0])
    fit = lasso(x, y, alpha_max * 1.01)
    assert torch.count_nonzero(fit.coef) == 0
    np.testing.assert_allclose(fit.intercept.numpy(), y.mean(0).numpy(), atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": torch.zeros(5), "y": torch.zeros(5)}, "`x`"),
        ({"x": torch.zeros(5, 2), "y": torch.zeros(4)}, "`y`"),
        ({"x": torch.zeros(5, 2), "y": torch.zeros(5), "alpha": -1.0}, "alpha"),
        ({"x": torch.full((5, 2), float("nan")), "y": torch.zeros(5)}, "finite"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    kwargs.setdefault("alpha", 0.1)
    with pytest.raises(ValueError, match=match):
        lasso(**kwargs)
