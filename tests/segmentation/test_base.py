import pytest
import torch

from captum_nas.segmentation import is_contiguous, n_segments_per_image, relabel_contiguous


def test_relabel_keeps_order_and_is_per_image() -> None:
    seg = torch.tensor([[[[3, 3, 7, 9]]], [[[5, 0, 0, 5]]]])
    out = relabel_contiguous(seg)
    assert out.tolist() == [[[[0, 0, 1, 2]]], [[[1, 0, 0, 1]]]]
    assert out.dtype == torch.long


def test_relabel_is_idempotent_and_checks() -> None:
    seg = torch.randint(0, 50, (3, 1, 6, 7))
    once = relabel_contiguous(seg)
    assert torch.equal(relabel_contiguous(once), once)
    assert is_contiguous(once)
    assert not is_contiguous(torch.tensor([[[[0, 2]]]]))
    # same partition: pixels equal before iff equal after
    flat, new = seg.reshape(3, -1), once.reshape(3, -1)
    assert torch.equal(flat[:, :, None] == flat[:, None, :], new[:, :, None] == new[:, None, :])


def test_relabel_rejects_negative_ids() -> None:
    with pytest.raises(ValueError, match="negative"):
        relabel_contiguous(torch.tensor([[[[-1, 0]]]]))


def test_n_segments_per_image() -> None:
    seg = torch.tensor([[[[0, 1, 2]]], [[[0, 0, 0]]]])
    assert n_segments_per_image(seg).tolist() == [3, 1]
    with pytest.raises(TypeError, match="segments"):
        n_segments_per_image(seg.float())
