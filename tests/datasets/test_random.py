import pytest
import torch

from captum_nas.datasets._random import derive_key, mix32, uniform


def test_mix32_matches_python_ints_and_is_injective() -> None:
    x = torch.arange(0, 1 << 16, dtype=torch.int64) * 65521 + 7
    mixed = mix32(x)
    assert mixed.min() >= 0 and mixed.max() < 2**32
    assert mixed.unique().numel() == x.numel()  # a bijection has no collisions
    for v in (0, 1, 12345, 2**32 - 1):
        assert int(mix32(torch.tensor([v]))[0]) == mix32(v)
    # avalanche: flipping one input bit flips about half of the output bits
    flipped = mix32(x ^ 1)
    bits = sum(int(((mixed ^ flipped) >> b & 1).sum()) for b in range(32))
    assert abs(bits / (32 * x.numel()) - 0.5) < 0.02


def test_derive_key_separates_parts() -> None:
    keys = {derive_key(s, p) for s in range(50) for p in range(3)}
    assert len(keys) == 150
    assert derive_key(0, 1) != derive_key(1, 0)
    assert derive_key(2**40) != derive_key(0)  # high words matter
    assert derive_key(0) != derive_key(0, 0)
    with pytest.raises(ValueError, match="non-negative"):
        derive_key(-1)


def test_uniform_rows_depend_only_on_their_index() -> None:
    key = derive_key(3)
    u = uniform(key, torch.arange(100), 7)
    assert u.shape == (100, 7) and u.dtype == torch.float32
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    picked = uniform(key, torch.tensor([42, 5, 99]), 7)
    assert torch.equal(picked, u[[42, 5, 99]])
    # more streams extend the rows without changing the first ones
    assert torch.equal(uniform(key, torch.arange(100), 10)[:, :7], u)
    assert not torch.equal(uniform(derive_key(4), torch.arange(100), 7), u)


def test_uniform_is_uniform_and_uncorrelated() -> None:
    u = uniform(derive_key(0), torch.arange(20000), 8)
    assert abs(float(u.mean()) - 0.5) < 0.005
    assert abs(float(u.var()) - 1 / 12) < 0.002
    hist = torch.histc(u[:, 0], bins=10, min=0.0, max=1.0)
    assert hist.min() > 1800 and hist.max() < 2200  # 2000 expected per bin
    corr = torch.corrcoef(u.T)
    off = corr - torch.eye(8)
    assert float(off.abs().max()) < 0.03
    lag = torch.corrcoef(torch.stack([u[:-1, 0], u[1:, 0]]))[0, 1]  # neighbouring indices
    assert abs(float(lag)) < 0.03
