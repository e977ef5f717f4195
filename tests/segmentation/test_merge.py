import numpy as np
import torch
from torch import nn

from captum_nas.segmentation import NASSegmenter, is_contiguous
from captum_nas.segmentation.merge import merge_superpixels, superpixel_adjacency, ward_merge


def test_adjacency_pairs() -> None:
    lab = np.array([[0, 0, 1], [2, 2, 1], [2, 3, 3]])
    assert superpixel_adjacency(lab).tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]


def test_ward_merges_the_cheapest_adjacent_pair_first() -> None:
    feats = np.array([[0.0], [0.1], [5.0], [5.2]])
    pairs = np.array([[0, 1], [1, 2], [2, 3]])
    assert ward_merge(feats, np.ones(4), pairs, 2).tolist() == [0, 0, 1, 1]
    # sizes weigh the cost: merging a big node costs more than merging a small one
    sizes = np.array([1.0, 1.0, 100.0, 1.0])
    feats = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert ward_merge(feats, sizes, pairs, 3).tolist() == [0, 0, 1, 2]
    # nodes that are not adjacent are never merged, even if they are identical
    same = np.zeros((3, 1))
    assert ward_merge(same, np.ones(3), np.array([[0, 1]]), 1).tolist() == [0, 0, 1]


def test_merge_superpixels_follows_the_embedding() -> None:
    # 4 vertical stripes of superpixels; the embedding is 0 on the left half, 1 on the right
    sp = torch.arange(4).repeat_interleave(4).repeat(8, 1)[None]  # (1, 8, 16)
    emb = torch.zeros(1, 2, 4, 8)
    emb[:, :, :, 4:] = 1.0
    out = merge_superpixels(sp, emb, 2)[0]
    assert torch.equal(out[:, :8], torch.zeros(8, 8, dtype=torch.long))
    assert torch.equal(out[:, 8:], torch.ones(8, 8, dtype=torch.long))


def test_slic_merge_mode(tiny_cnn: nn.Module) -> None:
    x = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    res = NASSegmenter(tiny_cnn, n_segments=4, mode="slic-merge", superpixels=30).segment(x)
    assert res.segments.shape == (2, 1, 48, 48) and is_contiguous(res.segments)
    assert all(len(torch.unique(s)) <= 4 for s in res.segments)
    assert res.grid_labels.shape == (2, 24, 24)
