"""Batched k-means in torch: every image of a batch is clustered at once.

k-means++ seeding draws its uniforms from a generator seeded with ``seed`` and uses
the same draws for every image, so clustering an image inside a batch gives the same
result as clustering it alone. Distances are ``||x||^2 - 2 x.c + ||c||^2`` by matmul.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from captum_nas._validation import check_positive_int, check_tensor


@dataclass
class KMeansResult:
    """Output of :func:`batched_kmeans`.

    Attributes:
        labels: LongTensor (N, P), cluster of each point.
        centroids: (N, K, D) cluster centres.
        inertia: (N,) sum of squared distances of points to their centre.
        n_iter: Lloyd iterations run.
    """

    labels: Tensor
    centroids: Tensor
    inertia: Tensor
    n_iter: int


def squared_distances(x: Tensor, c: Tensor) -> Tensor:
    """Squared Euclidean distances (N, P, K) between points (N, P, D) and centres (N, K, D)."""
    d = (x * x).sum(-1, keepdim=True) - 2.0 * torch.bmm(x, c.transpose(1, 2))
    d = d + (c * c).sum(-1).unsqueeze(1)
    return d.clamp_min_(0.0)


def _kmeans_pp(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    n, p, _ = x.shape
    # one uniform per step, shared by all images (batch == one-by-one)
    uniforms = torch.rand(k, generator=generator, dtype=torch.float64).to(x.device)
    batch = torch.arange(n, device=x.device)
    first = (uniforms[0] * p).long().clamp_(max=p - 1).expand(n)
    centres = [x[batch, first]]
    closest = ((x - centres[0].unsqueeze(1)) ** 2).sum(-1)
    for step in range(1, k):
        weights = closest.double()
        cdf = weights.cumsum(1)
        total = cdf[:, -1:]
        # degenerate images (all points identical) fall back to uniform sampling
        uniform_cdf = torch.arange(1, p + 1, device=x.device, dtype=torch.float64).expand(n, p)
        degenerate = total <= 0
        cdf = torch.where(degenerate, uniform_cdf, cdf)
        total = torch.where(degenerate, torch.full_like(total, float(p)), total)
        idx = torch.searchsorted(cdf, uniforms[step] * total).squeeze(1).clamp_(max=p - 1)
        centre = x[batch, idx]
        centres.append(centre)
        closest = torch.minimum(closest, ((x - centre.unsqueeze(1)) ** 2).sum(-1))
    return torch.stack(centres, 1)


def batched_kmeans(
    x: Tensor,
    n_clusters: int,
    *,
    max_iter: int = 30,
    seed: int = 0,
    init: Tensor | None = None,
) -> KMeansResult:
    """Cluster each of N point sets (N, P, D) into ``n_clusters`` groups.

    Lloyd iterations run until no assignment changes in any image or ``max_iter``.
    Empty clusters keep their previous centre.

    Args:
        x: points (N, P, D), floating point.
        n_clusters: K, 1 <= K <= P.
        max_iter: maximum Lloyd iterations (>= 1).
        seed: seed of the k-means++ seeding.
        init: optional initial centres (N, K, D) instead of k-means++.

    Returns:
        A :class:`KMeansResult`.

    Example:
        >>> x = torch.tensor([[[0.0], [0.1], [5.0], [5.1]]])
        >>> batched_kmeans(x, 2).labels
        tensor([[0, 0, 1, 1]])  # up to the order of the clusters
    """
    check_tensor(x, "x")
    if x.dim() != 3:
        raise ValueError(f"`x` must have shape (N, P, D), got {tuple(x.shape)}")
    n, p, d = x.shape
    k = check_positive_int(n_clusters, "n_clusters")
    if k > p:
        raise ValueError(f"`n_clusters` ({k}) cannot exceed the number of points per image ({p})")
    max_iter = check_positive_int(max_iter, "max_iter")
    if not x.is_floating_point():
        raise TypeError(f"`x` must be floating point, got {x.dtype}")
    if init is not None:
        if tuple(init.shape) != (n, k, d):
            raise ValueError(f"`init` must have shape {(n, k, d)}, got {tuple(init.shape)}")
        centroids = init.to(x.dtype).clone()
    else:
        gen = torch.Generator().manual_seed(int(seed))
        centroids = _kmeans_pp(x, k, gen)

    labels = squared_distances(x, centroids).argmin(-1)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        sums = torch.zeros(n, k, d, dtype=x.dtype, device=x.device)
        sums.scatter_add_(1, labels.unsqueeze(-1).expand(n, p, d), x)
        counts = torch.zeros(n, k, dtype=x.dtype, device=x.device)
        counts.scatter_add_(1, labels, torch.ones_like(labels, dtype=x.dtype))
        nonempty = counts > 0
        new = sums / counts.clamp_min(1).unsqueeze(-1)
        centroids = torch.where(nonempty.unsqueeze(-1), new, centroids)
        new_labels = squared_distances(x, centroids).argmin(-1)
        changed = bool((new_labels != labels).any())
        labels = new_labels
        if not changed:
            break
    # inertia from direct differences: the matmul expansion cancels badly far from 0
    assigned = centroids.gather(1, labels.unsqueeze(-1).expand(n, p, d))
    inertia = ((x - assigned) ** 2).sum((1, 2))
    return KMeansResult(labels=labels, centroids=centroids, inertia=inertia, n_iter=n_iter)
