"""Batched k-means in torch: every image of a batch is clustered at once.

k-means++ seeding draws its uniforms from a generator seeded with ``seed`` and uses
the same draws for every image, so clustering an image inside a batch gives the same
result as clustering it alone. Distances are ``||x||^2 - 2 x.c + ||c||^2`` by matmul;
the Lloyd assignment drops the constant ``||x||^2`` (one fused ``baddbmm`` per step) and
the centre update sums members with one ``index_add_`` over the flattened batch.

With ``groups``, clustering is constrained: a point may only join a centre of its own
group (assignment distances to other groups' centres are masked, not penalised, so no
precision is lost), and seeding first gives every group one centre (uniformly among
the points of groups still without one), then continues by k-means++ within groups.
This is the refinement step of hierarchical NAS.

Why our own: scikit-learn's and other k-means work on one image at a time on the CPU;
this one clusters a whole batch in one call on any device, with group constraints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from captum_nas._validation import check_number, check_positive_int, check_tensor
from captum_nas.segmentation.base import batch_ids


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


def check_tol(tol: float) -> float:
    """``tol`` of :func:`batched_kmeans` as a float in [0, 1), or a ``ValueError``."""
    tol = check_number(tol, "tol", minimum=0.0, maximum=1.0)
    if tol >= 1.0:
        raise ValueError(f"`tol` must be in [0, 1), got {tol}")
    return tol


def cluster_means(points: Tensor, labels: Tensor, n_labels: int) -> tuple[Tensor, Tensor]:
    """Mean of every label's points and how many points each label has.

    One ``index_add_`` over the flattened batch (whole rows of D features per point,
    accumulated in point order, so an image's sums do not depend on the batch).

    Args:
        points: (N, P, D) features.
        labels: (N, P) ids in ``0..n_labels-1``.
        n_labels: number of ids.

    Returns:
        The means (N, n_labels, D), zeros for an id without points, and the counts
        (N, n_labels) in the points' dtype.

    Example:
        >>> means, counts = cluster_means(torch.tensor([[[0.0], [2.0], [5.0]]]),
        ...                               torch.tensor([[0, 0, 1]]), 3)
        >>> means.flatten().tolist(), counts.flatten().tolist()
        ([1.0, 5.0, 0.0], [2.0, 1.0, 0.0])
    """
    n, p, d = points.shape
    flat = batch_ids(labels, n_labels)
    sums = torch.zeros(n * n_labels, d, dtype=points.dtype, device=points.device)
    sums.index_add_(0, flat, points.reshape(n * p, d))
    counts = torch.bincount(flat, minlength=n * n_labels).to(points.dtype)
    means = sums / counts.clamp_min(1).unsqueeze(-1)
    return means.reshape(n, n_labels, d), counts.reshape(n, n_labels)


def inertia(points: Tensor, centroids: Tensor, labels: Tensor) -> Tensor:
    """Sum of squared distances (N,) of the points (N, P, D) to their centre (N, K, D).

    From direct differences: the matmul expansion cancels badly far from 0. Each point's
    centre is fetched as a whole row (``index_select``: 3x faster than a ``gather`` of
    single elements, the same values), one image at a time into one buffer.
    """
    n, p, d = points.shape
    out = points.new_empty(n)
    buf = points.new_empty(p, d)
    for i in range(n):
        diff = torch.index_select(centroids[i], 0, labels[i], out=buf)
        torch.sub(points[i], diff, out=diff)
        out[i] = diff.mul_(diff).sum()
    return out


def seeding_candidates(x: Tensor, k: int, seed_points: int | None) -> Tensor:
    """The points (N, P', D) the k-means++ seeding draws from: every ``ceil(P / m)``-th
    point for ``m = max(seed_points, k)``, or all of them (``seed_points`` None or at
    least P, or a stride that would leave fewer than ``k``)."""
    p = x.shape[1]
    if seed_points is None or seed_points >= p:
        return x
    candidates = x[:, :: math.ceil(p / max(seed_points, k))].contiguous()
    return x if candidates.shape[1] < k else candidates


#: bytes of points whose distances are computed at once in the k-means++ seeding on CPU
#: (about an L2 cache: the difference buffer is written and read again while cached)
_SEED_BLOCK_BYTES = 1 << 21


def _sq_dist_to(x: Tensor, centre: Tensor, buf: Tensor, out: Tensor) -> Tensor:
    """Squared distances ``out`` (N, P) of points (N, P, D) to one centre per image (N, D).

    Direct differences (exact, no cancellation), written into ``buf`` and squared by a
    multiply: ``** 2`` on a large tensor is several times slower on CPU. On CPU the rows
    go in blocks of about ``_SEED_BLOCK_BYTES`` (``buf`` holds one block), so the
    difference is read back from the cache instead of memory; each row's sum is the
    same either way (a row is reduced on its own).
    """
    n, p, _ = x.shape
    if buf.dim() == 3:  # the whole batch at once
        torch.sub(x, centre.unsqueeze(1), out=buf)
        return torch.sum(buf.mul_(buf), -1, out=out)
    rows = buf.shape[0]
    for i in range(n):
        for start in range(0, p, rows):
            stop = min(p, start + rows)
            b = buf[: stop - start]
            torch.sub(x[i, start:stop], centre[i], out=b)
            torch.sum(b.mul_(b), -1, out=out[i, start:stop])
    return out


def _seed_buffer(x: Tensor) -> Tensor:
    """The difference buffer of :func:`_sq_dist_to`: one block of rows on CPU, else all."""
    _, p, d = x.shape
    if x.device.type != "cpu" or x.numel() * x.element_size() <= _SEED_BLOCK_BYTES:
        return torch.empty_like(x)
    rows = max(1, min(p, _SEED_BLOCK_BYTES // (d * x.element_size())))
    return torch.empty(rows, d, dtype=x.dtype, device=x.device)


def _kmeans_pp(
    x: Tensor, k: int, generator: torch.Generator, groups: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """k-means++ centres (N, K, D), and with ``groups`` the group of each centre (N, K)."""
    n, p, _ = x.shape
    # one uniform per step, shared by all images (batch == one-by-one)
    uniforms = torch.rand(k, generator=generator, dtype=torch.float64).to(x.device)
    batch = torch.arange(n, device=x.device)
    first = (uniforms[0] * p).long().clamp_(max=p - 1).expand(n)
    centres = [x[batch, first]]
    buf = _seed_buffer(x)
    closest = _sq_dist_to(x, centres[0], buf, x.new_empty(n, p))
    dist = torch.empty_like(closest)
    centre_groups: list[Tensor] = []
    if groups is not None:
        centre_groups.append(groups[batch, first])
        closest = closest.masked_fill(groups != centre_groups[0].unsqueeze(1), math.inf)
    # degenerate images (all points identical) fall back to uniform sampling
    uniform_cdf = torch.arange(1, p + 1, device=x.device, dtype=torch.float64).expand(n, p)
    for step in range(1, k):
        weights = closest.double()
        if groups is not None:
            # points of groups without a centre yet come first, drawn uniformly
            uncovered = torch.isinf(weights)
            weights = torch.where(uncovered.any(1, keepdim=True), uncovered.double(), weights)
        cdf = weights.cumsum(1)
        total = cdf[:, -1:]
        degenerate = total <= 0
        cdf = torch.where(degenerate, uniform_cdf, cdf)
        total = torch.where(degenerate, torch.full_like(total, float(p)), total)
        idx = torch.searchsorted(cdf, uniforms[step] * total).squeeze(1).clamp_(max=p - 1)
        centre = x[batch, idx]
        centres.append(centre)
        dist = _sq_dist_to(x, centre, buf, dist)
        if groups is not None:
            centre_groups.append(groups[batch, idx])
            dist = dist.masked_fill(groups != centre_groups[-1].unsqueeze(1), math.inf)
        torch.minimum(closest, dist, out=closest)
    return torch.stack(centres, 1), torch.stack(centre_groups, 1) if groups is not None else None


#: images whose assignment scores are computed and reduced at once on CPU
_ASSIGN_IMAGES = 2


def _score_buffer(x: Tensor, k: int) -> Tensor:
    """The assignment's score buffer (B, P, K) for points ``x`` (N, P, D): the images
    whose scores are computed at once (two on CPU, all elsewhere)."""
    n = x.shape[0]
    step = _ASSIGN_IMAGES if x.device.type == "cpu" else n
    return x.new_empty(max(1, min(n, step)), x.shape[1], k)


def _assign(
    x: Tensor, c: Tensor, allowed: Tensor | None = None, buf: Tensor | None = None
) -> Tensor:
    """Nearest centre per point: argmin of ``||c||^2 - 2 x.c`` (``||x||^2`` is constant).

    ``allowed`` (N, P, K) bool restricts each point to some centres. The scores of as
    many images as ``buf`` holds (default :func:`_score_buffer`: two on CPU, so the
    buffer stays in the cache between the product and the argmin) are computed and
    reduced at a time; the same values as over the whole batch.
    """
    cc = (c * c).sum(-1).unsqueeze(1)
    n = x.shape[0]
    buf = _score_buffer(x, c.shape[1]) if buf is None else buf
    step = buf.shape[0]
    labels = torch.empty(n, x.shape[1], dtype=torch.long, device=x.device)
    # ``min`` over the last dimension returns the same indices as ``argmin`` (the first
    # minimum, NaN first) and on CPU runs about a quarter faster; the values are dropped
    best = x.new_empty(step, x.shape[1])
    ct = c.transpose(1, 2)
    for i in range(0, n, step):
        j = min(n, i + step)
        d = torch.baddbmm(cc[i:j], x[i:j], ct[i:j], alpha=-2.0, out=buf[: j - i])
        if allowed is not None:
            d = d.masked_fill_(~allowed[i:j], math.inf)
        torch.min(d, -1, out=(best[: j - i], labels[i:j]))
    return labels


def batched_kmeans(
    x: Tensor,
    n_clusters: int,
    *,
    max_iter: int = 30,
    seed: int = 0,
    init: Tensor | None = None,
    groups: Tensor | None = None,
    tol: float = 0.0,
    seed_points: int | None = None,
) -> KMeansResult:
    """Cluster each of N point sets (N, P, D) into ``n_clusters`` groups.

    Lloyd iterations run per image until at most ``tol * P`` of its points change
    cluster in one step (``tol = 0``: until none does), or ``max_iter``. Empty clusters
    keep their previous centre.

    Args:
        x: points (N, P, D), floating point.
        n_clusters: K, 1 <= K <= P.
        max_iter: maximum Lloyd iterations (>= 1).
        seed: seed of the k-means++ seeding.
        init: optional initial centres (N, K, D) instead of k-means++.
        groups: optional LongTensor (N, P) of group ids: points join only centres seeded
            in their own group, and every group gets at least one centre (so ``K`` must
            be at least the number of groups in each image). Not with ``init``.
        tol: fraction of an image's points, in [0, 1), that may still change cluster in
            the last Lloyd step when it stops (0: run to a fixed point). Most of the
            iterations of a fixed point move a handful of border points; ``0.01`` stops
            an image once fewer than 1 % of its points move.
        seed_points: the k-means++ seeding draws its centres from at most this many
            points of each image, taken at an even stride through them (``None``: from
            all points); the Lloyd iterations use every point. Seeding costs one pass
            over the candidates per centre, so a subset makes it proportionally cheaper.
            Not with ``groups`` (every group must keep its candidates).

    Returns:
        A :class:`KMeansResult`.

    Example:
        >>> x = torch.tensor([[[0.0], [0.1], [5.0], [5.1]]])
        >>> batched_kmeans(x, 2).labels
        tensor([[1, 1, 0, 0]])
    """
    check_tensor(x, "x")
    if x.dim() != 3:
        raise ValueError(f"`x` must have shape (N, P, D), got {tuple(x.shape)}")
    n, p, d = x.shape
    k = check_positive_int(n_clusters, "n_clusters")
    if k > p:
        raise ValueError(f"`n_clusters` ({k}) cannot exceed the number of points per image ({p})")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_tol(tol)
    max_moved = math.floor(tol * p)  # an image stops when at most this many points move
    if seed_points is not None:
        seed_points = check_positive_int(seed_points, "seed_points")
        if groups is not None:
            raise ValueError("`seed_points` and `groups` cannot be combined")
    if not x.is_floating_point():
        raise TypeError(f"`x` must be floating point, got {x.dtype}")
    x = x.detach()  # clustering is not differentiated through
    allowed: Tensor | None = None
    if groups is not None:
        if init is not None:
            raise ValueError("`groups` and `init` cannot be combined")
        if not isinstance(groups, Tensor) or tuple(groups.shape) != (n, p):
            got = tuple(groups.shape) if isinstance(groups, Tensor) else type(groups).__name__
            raise ValueError(f"`groups` must be a tensor of shape {(n, p)}, got {got}")
        if groups.is_floating_point() or groups.dtype == torch.bool:
            raise TypeError(f"`groups` must hold integer ids, got {groups.dtype}")
        groups = groups.to(x.device, torch.long)
        n_groups = int(max(len(g.unique()) for g in groups)) if n else 0
        if n_groups > k:
            raise ValueError(
                f"`n_clusters` ({k}) must be at least the number of groups per image "
                f"({n_groups}) when `groups` is given"
            )
    if init is not None:
        if tuple(init.shape) != (n, k, d):
            raise ValueError(f"`init` must have shape {(n, k, d)}, got {tuple(init.shape)}")
        centroids = init.to(x.dtype).clone()
    else:
        gen = torch.Generator().manual_seed(int(seed))
        candidates = seeding_candidates(x, k, seed_points)
        centroids, centre_groups = _kmeans_pp(candidates, k, gen, groups)
        if groups is not None and centre_groups is not None:
            allowed = groups.unsqueeze(2) == centre_groups.unsqueeze(1)  # (N, P, K)

    # the assignment's scores, reused by every iteration (a few images at a time on CPU)
    scores = _score_buffer(x, k)
    labels = _assign(x, centroids, allowed, scores)
    # only images whose assignment still moves are iterated: a converged image is at a
    # fixed point of Lloyd's step, so dropping it gives the same result as iterating it,
    # and a batch costs what its images cost one by one
    active = torch.arange(n, device=x.device)
    xa, ca, la, aa = x, centroids, labels, allowed
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        new, counts = cluster_means(xa, la, k)
        ca = torch.where((counts > 0).unsqueeze(-1), new, ca)
        new_la = _assign(xa, ca, aa, scores)
        moved = (new_la != la).sum(1) > max_moved
        la = new_la
        centroids[active] = ca
        labels[active] = la
        if not bool(moved.any()):
            break
        if not bool(moved.all()):
            keep = moved.nonzero().squeeze(1)
            active, xa, ca, la = active[keep], xa[keep], ca[keep], la[keep]
            aa = None if aa is None else aa[keep]
    return KMeansResult(
        labels=labels, centroids=centroids, inertia=inertia(x, centroids, labels), n_iter=n_iter
    )
