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
