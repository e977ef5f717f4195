import pytest
import torch

from captum_nas.segmentation import batched_kmeans
from captum_nas.segmentation.kmeans import squared_distances


def _blobs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.arange(3).repeat_interleave(20)
    pts = centres[truth] + 0.1 * torch.randn(60, 2, generator=g)
    return pts, truth


def _same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.equal(a[:, None] == a[None, :], b[:, None] == b[None, :]))


def test_recovers_separated_blobs_for_every_image() -> None:
    pts = torch.stack([_blobs(s)[0] for s in range(4)])
    truth = _blobs(0)[1]
    res = batched_kmeans(pts, 3, seed=1)
    for i in range(4):
        assert _same_partition(res.labels[i], truth)
    # centroids are the blob means, inertia is the sum of squared deviations
    for i in range(4):
        for k in range(3):
            members = pts[i][res.labels[i] == k]
            assert torch.allclose(res.centroids[i, k], members.mean(0), atol=1e-5)
    expected = ((pts - res.centroids.gather(1, res.labels[..., None].expand(-1, -1, 2))) ** 2).sum(
        (1, 2)
    )
    assert torch.allclose(res.inertia, expected, rtol=1e-5)


def test_hand_computed_one_dimension() -> None:
    x = torch.tensor([[[0.0], [1.0], [9.0], [11.0]]])
    res = batched_kmeans(x, 2, init=torch.tensor([[[0.0], [10.0]]]))
    assert res.labels.tolist() == [[0, 0, 1, 1]]
    assert res.centroids.flatten().tolist() == [0.5, 10.0]
    assert res.inertia.item() == pytest.approx(0.25 * 2 + 1.0 * 2)


def test_squared_distances_match_cdist() -> None:
    x, c = torch.randn(2, 7, 3, dtype=torch.float64), torch.randn(2, 4, 3, dtype=torch.float64)
    assert torch.allclose(squared_distances(x, c), torch.cdist(x, c) ** 2, atol=1e-10)


def test_seed_determinism_and_batch_equals_single() -> None:
    pts = torch.randn(5, 200, 4)
    a = batched_kmeans(pts, 6, seed=3)
    b = batched_kmeans(pts, 6, seed=3)
    assert torch.equal(a.labels, b.labels)
    assert not torch.equal(batched_kmeans(pts, 6, seed=4).labels, a.labels)
    single = torch.cat([batched_kmeans(pts[i : i + 1], 6, seed=3).labels for i in range(5)])
    assert torch.equal(single, a.labels)


def test_identical_points_do_not_crash() -> None:
    res = batched_kmeans(torch.zeros(2, 10, 3), 3)
    assert res.labels.shape == (2, 10)
    assert torch.all(res.inertia == 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_clusters": 0}, ValueError, "n_clusters"),
        ({"n_clusters": 11}, ValueError, "cannot exceed"),
        ({"n_clusters": 2.5}, TypeError, "n_clusters"),
        ({"n_clusters": 2, "max_iter": 0}, ValueError, "max_iter"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        batched_kmeans(torch.randn(1, 10, 2), **kwargs)


def test_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(N, P, D\)"):
        batched_kmeans(torch.randn(10, 2), 2)
    with pytest.raises(ValueError, match="init"):
        batched_kmeans(torch.randn(1, 10, 2), 2, init=torch.zeros(1, 3, 2))


# -- constrained by groups (the refinement step of hierarchical NAS) ------------------
def test_groups_keep_clusters_inside_their_group() -> None:
    # group 0: two blobs at 0 and 10; group 1: one blob at 10.2, right next to group 0's
    # second blob. Unconstrained, K=3 would split group 0's first blob or merge the two
    # blobs near 10; with groups every cluster stays inside one group.
    x = torch.tensor([[[0.0], [0.1], [10.0], [10.1], [10.2], [10.3]]])
    groups = torch.tensor([[0, 0, 0, 0, 1, 1]])
    res = batched_kmeans(x, 3, groups=groups, seed=0)
    lab = res.labels[0].tolist()
    assert lab[0] == lab[1] and lab[2] == lab[3] and lab[4] == lab[5]
    assert len({lab[0], lab[2], lab[4]}) == 3
    torch.testing.assert_close(
        res.centroids[0, [lab[0], lab[2], lab[4]], 0], torch.tensor([0.05, 10.05, 10.25])
    )


def test_groups_each_get_a_centre_even_a_single_point() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 200, 3, generator=g)
    groups = torch.zeros(2, 200, dtype=torch.long)
    groups[:, 17] = 5  # a one-point group in the middle of the others
    groups[:, 100:] = 2
    for seed in range(5):
        res = batched_kmeans(x, 4, groups=groups, seed=seed)
        for i in range(2):
            lab = res.labels[i]
            # the lone point is a cluster of its own, and no cluster mixes groups
            assert int((lab == lab[17]).sum()) == 1
            for c in lab.unique():
                assert len(groups[i][lab == c].unique()) == 1


def test_groups_batch_equals_single_image() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 120, 2, generator=g)
    groups = (torch.arange(120) // 40).expand(3, 120).clone()
    groups[1] = groups[1].flip(0)
    full = batched_kmeans(x, 7, groups=groups, seed=3)
    for i in range(3):
        one = batched_kmeans(x[i : i + 1], 7, groups=groups[i : i + 1], seed=3)
        assert torch.equal(one.labels[0], full.labels[i])


def test_groups_bad_arguments() -> None:
    x = torch.randn(1, 6, 2)
    with pytest.raises(ValueError, match=r"groups.*shape"):
        batched_kmeans(x, 2, groups=torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(TypeError, match=r"groups.*integer"):
        batched_kmeans(x, 2, groups=torch.zeros(1, 6))
    with pytest.raises(ValueError, match="at least the number of groups"):
        batched_kmeans(x, 2, groups=torch.tensor([[0, 1, 2, 0, 1, 2]]))
    with pytest.raises(ValueError, match="cannot be combined"):
        batched_kmeans(x, 2, groups=torch.zeros(1, 6, dtype=torch.long), init=x[:, :2])


@pytest.mark.parametrize("block_bytes", [None, 200, 1000])
@pytest.mark.parametrize("grouped", [False, True])
def test_seeding_equals_the_whole_batch_reference(
    monkeypatch: pytest.MonkeyPatch, block_bytes: int | None, grouped: bool
) -> None:
    """Seeding distances computed in blocks of rows pick the same centres, bit for bit."""
    from captum_nas.segmentation import kmeans
    from tests.segmentation.reference_nas import reference_kmeans_pp

    if block_bytes is not None:  # force the blocked path (blocks of 7 and 35 rows)
        monkeypatch.setattr(kmeans, "_SEED_BLOCK_BYTES", block_bytes)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(3, 300, 7, generator=gen)
    groups = torch.randint(0, 3, (3, 300), generator=gen) if grouped else None
    ours, ours_groups = kmeans._kmeans_pp(x, 9, torch.Generator().manual_seed(5), groups)
    ref, ref_groups = reference_kmeans_pp(x, 9, torch.Generator().manual_seed(5), groups)
    assert torch.equal(ours, ref)
    assert (ours_groups is None) == (ref_groups is None)
    if ours_groups is not None and ref_groups is not None:
        assert torch.equal(ours_groups, ref_groups)


@pytest.mark.parametrize("seed", range(3))
def test_lloyd_equals_the_original_loop(seed: int) -> None:
    """The Lloyd loop (with its reused score buffer) gives the original k-means, bit for bit."""
    from captum_nas.segmentation.kmeans import _kmeans_pp
    from tests.segmentation.reference_nas import reference_lloyd

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 400, 5, generator=gen)
    x[1] += 3 * torch.randn(1, 5, generator=gen)  # images converging at different steps
    groups = torch.randint(0, 2, (4, 400), generator=gen) if seed == 2 else None
    for max_iter in (1, 2, 5, 30):
        ours = batched_kmeans(x, 7, seed=seed, max_iter=max_iter, groups=groups)
        init, init_groups = _kmeans_pp(x, 7, torch.Generator().manual_seed(seed), groups)
        allowed = None
        if groups is not None and init_groups is not None:
            allowed = groups.unsqueeze(2) == init_groups.unsqueeze(1)
        labels, centroids, inertia, n_iter = reference_lloyd(x, init, allowed, max_iter)
        assert torch.equal(ours.labels, labels)
        assert torch.equal(ours.centroids, centroids)
        assert torch.equal(ours.inertia, inertia)
        assert ours.n_iter == n_iter


def _lloyd_moves(x: torch.Tensor, init: torch.Tensor, steps: int) -> list[int]:
    """Points that change cluster in each of ``steps`` plain Lloyd steps (one image)."""
    c = init.clone()
    labels = torch.cdist(x, c).argmin(1)
    moves = []
    for _ in range(steps):
        for j in range(c.shape[0]):
            if (labels == j).any():
                c[j] = x[labels == j].mean(0)
        new = torch.cdist(x, c).argmin(1)
        moves.append(int((new != labels).sum()))
        labels = new
    return moves


def test_tol_stops_once_few_points_move() -> None:
    """``tol`` stops an image at the first step that moves at most ``tol * P`` points."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 300, 2, generator=gen)
    init = x[:, :8].clone()
    moves = _lloyd_moves(x[0].double(), init[0].double(), 30)
    exact = batched_kmeans(x, 8, init=init, max_iter=30)
    assert exact.n_iter == moves.index(0) + 1  # tol = 0 runs to a fixed point
    for tol in (0.01, 0.05):
        expected = next(i for i, m in enumerate(moves) if m <= tol * 300) + 1
        assert expected < exact.n_iter
        res = batched_kmeans(x, 8, init=init, max_iter=30, tol=tol)
        assert res.n_iter == expected
        assert torch.equal(res.labels, batched_kmeans(x, 8, init=init, max_iter=expected).labels)


def test_tol_batch_equals_single() -> None:
    pts = torch.randn(4, 250, 3, generator=torch.Generator().manual_seed(1))
    pts[2] *= 4
    batch = batched_kmeans(pts, 5, seed=2, tol=0.02)
    single = [batched_kmeans(pts[i : i + 1], 5, seed=2, tol=0.02) for i in range(4)]
    assert torch.equal(batch.labels, torch.cat([s.labels for s in single]))
    assert torch.equal(batch.centroids, torch.cat([s.centroids for s in single]))


def test_seed_points_seed_from_an_even_stride() -> None:
    """Seeding from ``seed_points`` is k-means++ on every ``ceil(P / m)``-th point."""
    from captum_nas.segmentation.kmeans import _kmeans_pp

    pts = torch.randn(3, 100, 2, generator=torch.Generator().manual_seed(2))
    for m, stride in ((25, 4), (30, 4), (50, 2)):
        init, _ = _kmeans_pp(pts[:, ::stride].contiguous(), 5, torch.Generator().manual_seed(7))
        assert all(
            bool((pts[i, ::stride] == init[i, j]).all(1).any()) for i in range(3) for j in range(5)
        )
        ours = batched_kmeans(pts, 5, seed=7, seed_points=m, max_iter=4)
        assert torch.equal(ours.labels, batched_kmeans(pts, 5, init=init, max_iter=4).labels)
    # more seed points than points, or fewer than clusters: every point is a candidate
    everything = batched_kmeans(pts, 5, seed=7)
    assert torch.equal(batched_kmeans(pts, 5, seed=7, seed_points=100).labels, everything.labels)
    assert torch.equal(
        batched_kmeans(pts, 5, seed=7, seed_points=3).labels,
        batched_kmeans(pts, 5, seed=7, seed_points=5).labels,
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tol": 1.0}, ValueError, "tol"),
        ({"tol": -0.1}, ValueError, "tol"),
        ({"tol": "0.1"}, TypeError, "tol"),
        ({"seed_points": 0}, ValueError, "seed_points"),
        ({"seed_points": 2.5}, TypeError, "seed_points"),
        ({"seed_points": 4, "groups": torch.zeros(1, 10, dtype=torch.long)}, ValueError, "groups"),
    ],
)
def test_bad_tol_and_seed_points(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        batched_kmeans(torch.randn(1, 10, 2), 2, **kwargs)


def test_assignment_picks_the_centre_argmin_picks() -> None:
    """Ties (a duplicate centre, integer points) and NaN points get argmin's index."""
    from captum_nas.segmentation.kmeans import _assign

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (5, 300, 4), generator=gen).float()
    c = torch.randint(0, 3, (5, 9, 4), generator=gen).float()
    c[:, 5] = c[:, 2]  # every point nearest to centre 2 ties with centre 5
    x[3, :10] = float("nan")
    scores = torch.baddbmm((c * c).sum(-1).unsqueeze(1), x, c.transpose(1, 2), alpha=-2.0)
    expected = torch.argmin(scores, -1)
    assert (expected == 5).sum() == 0 and (expected == 2).sum() > 0  # the ties are real
    assert torch.equal(_assign(x, c), expected)
