import pytest
import torch

from captum_nas.segmentation.pca import OVERSAMPLE, pca_reduce, top_eigenpairs


def _psd(n: int, s: int, *, decay: float = 0.9, rank: int | None = None, seed: int = 0):
    """Random PSD matrices with eigenvalues decay**i (i < rank) and known eigenvectors."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, s, s, generator=g, dtype=torch.float64))
    values = decay ** torch.arange(s, dtype=torch.float64)
    if rank is not None:
        values[rank:] = 0
    return (q * values) @ q.transpose(1, 2), values, q


def test_top_eigenpairs_match_the_exact_solution() -> None:
    m, values, q = _psd(3, 200)
    got_values, got_vectors = top_eigenpairs(m.float(), 10)
    assert got_values.shape == (3, 10) and got_vectors.shape == (3, 200, 10)
    assert got_vectors.dtype == torch.float32
    # ascending, like the tail of torch.linalg.eigh
    torch.testing.assert_close(got_values[0].double(), values[:10].flip(0), rtol=1e-4, atol=0)
    # the same eigenvectors up to sign
    cos = (got_vectors.double() * q[..., :10].flip(-1)).sum(1).abs()
    torch.testing.assert_close(cos, torch.ones_like(cos), rtol=0, atol=1e-4)


def test_rank_deficient_matrices_do_not_break_it() -> None:
    # rank 5 < the 8 + OVERSAMPLE directions carried by the iteration: the exact
    # solver takes over, so the vectors stay orthonormal
    m, values, _ = _psd(2, 150, rank=5, seed=1)
    got_values, got_vectors = top_eigenpairs(m, 8)
    torch.testing.assert_close(
        got_values[1], torch.cat([torch.zeros(3), values[:5].flip(0)]).double(), atol=1e-8, rtol=0
    )
    gram = got_vectors.transpose(1, 2) @ got_vectors
    torch.testing.assert_close(
        gram, torch.eye(8, dtype=gram.dtype).expand_as(gram), atol=1e-6, rtol=0
    )


def test_small_matrices_use_the_exact_solver() -> None:
    s = 4 + OVERSAMPLE
    m, _, _ = _psd(2, s, seed=2)
    values, vectors = torch.linalg.eigh(m)
    got_values, got_vectors = top_eigenpairs(m, 4)
    assert torch.equal(got_values, values[..., -4:]) and torch.equal(got_vectors, vectors[..., -4:])


def test_pca_reduce_keeps_the_top_variance_and_distances() -> None:
    g = torch.Generator().manual_seed(3)
    # 96 channels with a decaying spectrum, on a 12x12 map (144 pixels > channels)
    basis = torch.randn(96, 96, generator=g)
    x = (torch.randn(2, 144, 96, generator=g) * 0.93 ** torch.arange(96.0)) @ basis
    x = x.transpose(1, 2).reshape(2, 96, 12, 12)
    got = pca_reduce(x, 16)
    assert got.shape == (2, 16, 12, 12) and got.dtype == x.dtype
    flat = x.reshape(2, 96, 144).transpose(1, 2).double()
    flat = flat - flat.mean(1, keepdim=True)
    _, vecs = torch.linalg.eigh(flat.transpose(1, 2) @ flat)
    exact = flat @ vecs[..., -16:]
    scores = got.reshape(2, 16, 144).transpose(1, 2).double()
    # the retained variance is the exact top-16 variance, and pairwise distances agree
    torch.testing.assert_close(
        scores.square().sum((1, 2)), exact.square().sum((1, 2)), rtol=1e-4, atol=0
    )
    torch.testing.assert_close(
        torch.cdist(scores, scores), torch.cdist(exact, exact), rtol=1e-3, atol=1e-3
    )


def test_pca_reduce_batch_equals_single_and_is_deterministic() -> None:
    x = torch.randn(4, 128, 10, 10, generator=torch.Generator().manual_seed(4))
    full = pca_reduce(x, 32)
    assert torch.equal(full, pca_reduce(x, 32))
    for i in range(4):
        assert torch.equal(pca_reduce(x[i : i + 1], 32)[0], full[i])


@pytest.mark.parametrize(
    ("shape", "dims", "out"), [((1, 8, 5, 5), 16, 8), ((2, 300, 4, 5), 32, 20)]
)
def test_pca_reduce_shapes(shape: tuple[int, ...], dims: int, out: int) -> None:
    x = torch.randn(*shape)
    got = pca_reduce(x, dims)
    assert got.shape == (shape[0], out, shape[2], shape[3])
    if shape[1] <= dims:
        assert got is x  # nothing to reduce


def test_flat_spectrum_gives_an_approximate_subspace_with_most_of_the_variance() -> None:
    # eigenvalues 0, 1, ..., 99: no gap after the top 3, so a fixed number of power
    # iterations only approximates the top subspace (documented); its variance is close
    m = torch.diag(torch.arange(100.0, dtype=torch.float64)).expand(1, 100, 100)
    values, vectors = top_eigenpairs(m, 3)
    captured = (vectors.transpose(1, 2) @ m @ vectors).diagonal(dim1=1, dim2=2).sum()
    assert 0.95 * 294 <= float(captured) < 294  # 97 + 98 + 99
    torch.testing.assert_close(values.sum(), captured)  # Ritz values are those variances
    gram = vectors.transpose(1, 2) @ vectors
    torch.testing.assert_close(gram, torch.eye(3, dtype=gram.dtype).expand_as(gram))


def test_decaying_spectrum_example_is_exact() -> None:
    m = torch.diag(0.8 ** torch.arange(100.0)).expand(2, 100, 100)
    values, _ = top_eigenpairs(m, 3)
    torch.testing.assert_close(values[0], torch.tensor([0.64, 0.8, 1.0]))
