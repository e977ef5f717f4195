"""Multi-output lasso in torch (FISTA with adaptive restart), batched over outputs.

Solves, for every output column ``k`` independently (the objective of scikit-learn's
``Lasso`` with a 2-D target)::

    min_{w_k, b_k}  1 / (2 n) * ||y_k - X w_k - b_k||^2 + alpha * ||w_k||_1   [w_k >= 0]

on any device: the Gram matrix ``X^T X / n`` is formed once and every iteration is
one (d, d) x (d, K) product, so the cost does not grow with the number of samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from captum_nas._validation import check_number, check_positive_int, check_tensor, describe

_CHECK_EVERY = 25


@dataclass(frozen=True)
class LassoFit:
    """Result of :func:`lasso`.

    Attributes:
        coef: (K, d) weights, one row per output.
        intercept: (K,) intercepts (zeros without ``fit_intercept``).
        n_iter: FISTA iterations run.
        converged: whether the largest coefficient change fell under ``tol``.
    """

    coef: Tensor
    intercept: Tensor
    n_iter: int
    converged: bool


def _duality_gap(
    w: Tensor, gram: Tensor, xty: Tensor, yty: Tensor, alpha: float, positive: bool
) -> Tensor:
    """Duality gap (K,) of the lasso at ``w`` (d, K), from the Gram form of the problem."""
    gw = gram @ w
    wg = (w * gw).sum(0)  # w' G w
    wx = (w * xty).sum(0)  # w' X'y / n
    r2 = yty - 2.0 * wx + wg  # ||r||^2 / n
    ry = yty - wx  # r'y / n
    xr = xty - gw  # X'r / n
    dual_norm = xr.amax(0).clamp_min(0.0) if positive else xr.abs().amax(0)
    s = torch.ones_like(r2) if alpha == 0 else (alpha / dual_norm.clamp_min(1e-300)).clamp(max=1.0)
    primal = 0.5 * r2 + alpha * w.abs().sum(0)
    dual = s * ry - 0.5 * s * s * r2
    return primal - dual


def _work_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def lasso(
    x: Tensor,
    y: Tensor,
    alpha: float,
    *,
    positive: bool = False,
    fit_intercept: bool = True,
    max_iter: int = 20000,
    tol: float = 1e-4,
) -> LassoFit:
    """Fit a lasso per output column of ``y`` (scikit-learn's ``Lasso`` objective).

    Args:
        x: (n, d) design matrix.
        y: (n,) or (n, K) targets.
        alpha: L1 penalty (> = 0), on the scale of scikit-learn's ``alpha``.
        positive: constrain the weights to be >= 0.
        fit_intercept: fit an unpenalised intercept (centres ``x`` and ``y``).
        max_iter: maximum FISTA iterations.
        tol: stop when every output's duality gap (checked every 25 iterations) is
            below ``tol * max_k ||y_k||^2 / n`` (scikit-learn's criterion).

    Returns:
        A :class:`LassoFit` with float tensors on ``x``'s device, in ``x``'s dtype.

    Example:
        >>> fit = lasso(torch.randn(100, 5), torch.randn(100, 2), alpha=0.1)
        >>> fit.coef.shape
        torch.Size([2, 5])
    """
    check_tensor(x, "x")
    check_tensor(y, "y")
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"`x` must be a non-empty (n, d) matrix, got {describe(x)}")
    if not x.is_floating_point():
        raise TypeError(f"`x` must be floating point, got dtype {x.dtype}")
    squeeze = y.dim() == 1
    y2 = y.unsqueeze(1) if squeeze else y
    if y2.dim() != 2 or y2.shape[0] != x.shape[0]:
        raise ValueError(
            f"`y` must have shape ({x.shape[0]},) or ({x.shape[0]}, K) to match `x`, "
            f"got {tuple(y.shape)}"
        )
    alpha = check_number(alpha, "alpha", minimum=0.0)
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_number(tol, "tol", minimum=0.0, strict_min=True)
    if not bool(torch.isfinite(x).all()) or not bool(torch.isfinite(y2.float()).all()):
        raise ValueError("`x` and `y` must be finite")

    dt = _work_dtype(x.device)
    xs = x.to(dt)
    ys = y2.to(device=x.device, dtype=dt)
    n = xs.shape[0]
    if fit_intercept:
        x_mean = xs.mean(0)
        y_mean = ys.mean(0)
        xs = xs - x_mean
        ys = ys - y_mean
    gram = xs.T @ xs / n  # (d, d)
    xty = xs.T @ ys / n  # (d, K)
    yty = (ys * ys).sum(0) / n  # (K,)
    scale = max(float(yty.max()), torch.finfo(dt).tiny)
    lipschitz = float(torch.linalg.eigvalsh(gram)[-1]) if gram.numel() else 0.0
    d, k = xty.shape
    w = torch.zeros(d, k, dtype=dt, device=x.device)
    converged = lipschitz <= 0.0
    it = 0
    if not converged:
        step = 1.0 / lipschitz
        thresh = alpha * step
        z = w.clone()
        t = torch.ones(k, dtype=dt, device=x.device)  # momentum per output column
        for it in range(1, max_iter + 1):
            v = z - step * (gram @ z - xty)
            w_new = (
                (v - thresh).clamp_min(0.0)
                if positive
                else torch.sign(v) * (v.abs() - thresh).clamp_min(0.0)
            )
            delta = w_new - w
            # adaptive restart (O'Donoghue and Candes), per column, without a host sync
            t = torch.where(((z - w_new) * delta).sum(0) > 0, torch.ones_like(t), t)
            t_new = (1.0 + torch.sqrt(1.0 + 4.0 * t * t)) / 2.0
            z = w_new + ((t - 1.0) / t_new) * delta
            w, t = w_new, t_new
            if it % _CHECK_EVERY == 0 or it == max_iter:
                if float(_duality_gap(w, gram, xty, yty, alpha, positive).max()) <= tol * scale:
                    converged = True
                    break
    coef = w.T.contiguous()
    if fit_intercept:
        intercept = y_mean - coef @ x_mean
    else:
        intercept = torch.zeros(k, dtype=dt, device=x.device)
    out_dtype = x.dtype
    return LassoFit(
        coef=(coef[0] if squeeze else coef).to(out_dtype),
        intercept=(intercept[0] if squeeze else intercept).to(out_dtype),
        n_iter=it,
        converged=converged,
    )
