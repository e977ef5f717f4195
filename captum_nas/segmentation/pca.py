"""Per-image PCA of activation maps, batched, fast on CPUs and GPUs.

NAS reduces every depth's activations (N, C, h, w) to their top principal components
per image. The leading eigenvectors of each image's covariance (or, when there are
fewer pixels than channels, Gram) matrix are approximated by randomized subspace
iteration (Halko, Martinsson and Tropp, 2011; what scikit-learn's randomized PCA does):
a fixed Gaussian test matrix shared by all images, a fixed number of power iterations
re-orthonormalised by Cholesky QR (twice, for accuracy), then Rayleigh-Ritz on the small
projected matrix. Like any fixed-iteration randomized PCA it is accurate when the
spectrum decays past the kept components (activations' spectra do); on a flat spectrum
the subspace is only approximately the top one (for ``diag(0, 1, ..., 99)`` the three
components found hold 96 % of the top three's variance). Only matrix products and
(k + oversample)-sized factorisations are involved, where a full ``eigh`` costs
O(s^3) per image and is slow on GPUs (see ``benchmarks/`` for measured timings). On
ResNet-50 activations the retained variance was at least 99.99 % of the exact top
components'. The test matrix is seeded, so the result is deterministic and an image
gets the same components alone or inside a batch.

Why our own: ``torch.pca_lowrank`` and scikit-learn's randomized PCA draw a fresh test
matrix per call and work on one matrix at a time, where NAS needs one batched call whose
result for an image does not depend on the rest of the batch.

These are numerical internals of NAS; they are not re-exported from
:mod:`captum_nas.segmentation` and their signatures may change.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Extra directions carried by the subspace iteration beyond the ones kept.
OVERSAMPLE = 8
#: Power iterations of the subspace iteration.
POWER_ITERATIONS = 4


def _cholesky_qr(y: Tensor) -> Tensor | None:
    """Orthonormal columns spanning ``y`` (N, s, l), by Cholesky QR twice; None on failure."""
    eye = torch.eye(y.shape[-1], dtype=y.dtype, device=y.device)
    for _ in range(2):
        gram = y.transpose(1, 2) @ y
        # a relative ridge keeps rank-deficient blocks (dead channels) factorisable
        ridge = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-300) * 1e-12
        chol, info = torch.linalg.cholesky_ex(gram + ridge[:, None, None] * eye)
        if bool(info.any()):
            return None
        y = torch.linalg.solve_triangular(chol, y.transpose(1, 2), upper=False).transpose(1, 2)
    return y


def _dominant_subspace(m: Tensor, width: int) -> Tensor | None:
    """Orthonormal (N, s, width) bases of the dominant subspaces of ``m`` (float64)."""
    test = torch.randn(
        m.shape[-1], width, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    q = _cholesky_qr(m @ test.to(m.device))
    for _ in range(POWER_ITERATIONS):
        if q is None:
            return None
        q = _cholesky_qr(m @ q)
    return q


def _exact_top(matrices: Tensor, k: int) -> tuple[Tensor, Tensor]:
    values, vectors = torch.linalg.eigh(matrices)
    return values[..., -k:], vectors[..., -k:]


def top_eigenpairs(matrices: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` largest eigenpairs of symmetric PSD matrices, by randomized subspace iteration.

    Approximate (see the module docstring): exact up to rounding when the spectrum decays
    past the ``k`` kept values (a gap of ``OVERSAMPLE`` further eigenvalues), an
    approximation of the leading subspace otherwise. Use ``torch.linalg.eigh`` where
    exact eigenpairs of a flat spectrum matter.

    Args:
        matrices: (N, s, s) symmetric PSD matrices.
        k: number of eigenpairs, 1 <= k <= s.

    Returns:
        ``(values, vectors)``: (N, k) eigenvalues in ascending order and (N, s, k)
        orthonormal eigenvectors, in the matrices' dtype (the iteration runs in
        float64). Matrices with at most ``k + OVERSAMPLE`` rows, and batches in which
        the iteration cannot produce orthonormal vectors (rank below
        ``k + OVERSAMPLE``), use an exact ``eigh``.

    Example:
        >>> m = torch.diag(0.8 ** torch.arange(100.0)).expand(2, 100, 100)
        >>> values, vectors = top_eigenpairs(m, 3)
        >>> values[0]
        tensor([0.6400, 0.8000, 1.0000])
    """
    s = matrices.shape[-1]
    width = k + OVERSAMPLE
    if s <= width:
        return _exact_top(matrices, k)
    m = matrices.double()
    q = _dominant_subspace(m, width)
    if q is None:  # numerically singular block: fall back to the exact solver
        return _exact_top(matrices, k)
    y = m @ q
    # Rayleigh-Ritz on the (width x width) projection; tiny, so on the CPU (fast there)
    small = q.transpose(1, 2) @ y
    small = (small + small.transpose(1, 2)) / 2
    values, rotation = torch.linalg.eigh(small.cpu())
    vectors = q @ rotation[..., -k:].to(q.device)
    # a rank-deficient block leaves null directions that the iteration cannot make
    # orthonormal: the exact solver answers those batches
    gram = vectors.transpose(1, 2) @ vectors
    if bool((gram - torch.eye(k, dtype=gram.dtype, device=gram.device)).abs().amax() > 1e-6):
        return _exact_top(matrices, k)
    return (
        values[..., -k:].to(matrices.device, matrices.dtype),
        vectors.to(matrices.dtype),
    )


def pca_reduce(x: Tensor, dims: int) -> Tensor:
    """Project (N, C, h, w) on its per-image top ``dims`` principal axes (N, dims, h, w).

    Maps with at most ``dims`` channels come back unchanged. With fewer pixels than
    channels the Gram trick is used (eigenvectors of X X^T scaled by the square roots
    of their eigenvalues are the PCA scores). The covariance or Gram matrices are
    formed in the activation's precision.

    Args:
        x: activations (N, C, h, w), floating point.
        dims: number of components to keep (>= 1).

    Returns:
        The PCA scores (N, min(dims, C, h*w), h, w) in ``x``'s dtype, largest
        component last.

    Example:
        >>> pca_reduce(torch.randn(2, 64, 8, 8), 16).shape
        torch.Size([2, 16, 8, 8])
    """
    n, c, h, w = x.shape
    p = h * w
    if c <= dims:
        return x
    flat = x.reshape(n, c, p).transpose(1, 2)  # (N, P, C)
    flat = flat - flat.mean(1, keepdim=True)
    if p <= c:
        k = min(dims, p)
        values, vectors = top_eigenpairs(flat @ flat.transpose(1, 2), k)
        scores = vectors * values.clamp_min(0).sqrt().unsqueeze(1)
    else:
        k = dims
        _, vectors = top_eigenpairs(flat.transpose(1, 2) @ flat, k)
        scores = flat @ vectors
    return scores.to(x.dtype).transpose(1, 2).reshape(n, k, h, w)
