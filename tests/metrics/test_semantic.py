"""Tests for the semi-supervised semantic mass over segments."""

from __future__ import annotations

import pytest
import torch

from captum_nas.metrics.semantic import semantic_mass


def _fixture() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # one image 2x6, segments 0 | 1 | 2 as column pairs, segment 3 absent
    seg = torch.tensor([[[[0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]]]])
    maps = torch.tensor([[[4.0, 4.0, 1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0, -5.0, 0.0]]])
    labels = torch.full((1, 2, 6), -1)
    labels[0, 0, 0] = 1  # segment 0: object
    labels[0, 0, 2] = 0  # segment 1: background
    # segment 2: unlabelled
    return maps, seg, labels


def test_majority_vote_and_mass_unlabelled_as_background() -> None:
    maps, seg, labels = _fixture()
    res = semantic_mass(maps, seg, labels)
    assert res.segment_labels.tolist() == [[1, 0, -1]]
    # positive mass: segment 0 = 8, segment 1 = 4, segment 2 = 4 (the -5 is ignored)
    assert res.mass.tolist() == [pytest.approx(8 / 16)]
    assert res.area_fraction.tolist() == [pytest.approx(4 / 12)]
    expected = torch.zeros(1, 2, 6, dtype=torch.bool)
    expected[0, :, 0:2] = True
    assert torch.equal(res.object_mask, expected)


def test_unlabelled_excluded() -> None:
    maps, seg, labels = _fixture()
    res = semantic_mass(maps, seg, labels, unlabelled="exclude")
    assert res.mass.tolist() == [pytest.approx(8 / 12)]
    assert res.area_fraction.tolist() == [pytest.approx(4 / 8)]


def test_vote_ties_go_to_background_and_majority_wins() -> None:
    maps, seg, labels = _fixture()
    labels[0, 1, 0] = 0  # segment 0 now 1 object vs 1 background: tie
    labels[0, 0, 4] = 1
    labels[0, 0, 5] = 1
    labels[0, 1, 4] = 0  # segment 2: 2 object vs 1 background
    res = semantic_mass(maps, seg, labels)
    assert res.segment_labels.tolist() == [[0, 0, 1]]
    assert res.mass.tolist() == [pytest.approx(4 / 16)]


def test_no_object_or_no_positive_mass_scores_zero() -> None:
    maps, seg, labels = _fixture()
    labels[0, 0, 0] = 0
    assert semantic_mass(maps, seg, labels).mass.tolist() == [0.0]
    _, _, labels = _fixture()
    assert semantic_mass(-maps.abs(), seg, labels).mass.tolist() == [0.0]


def test_batch_broadcast_segments_and_layouts() -> None:
    maps, seg, labels = _fixture()
    maps2 = torch.cat([maps, maps.flip(-1)]).double()
    labels2 = torch.cat([labels, labels])
    res = semantic_mass(maps2.unsqueeze(1), seg, labels2.unsqueeze(1))
    assert res.mass.dtype == torch.float64
    assert res.mass[0].item() == pytest.approx(8 / 16)
    # flipped map: segment 0 holds 2 + 2 positive mass out of 16
    assert res.mass[1].item() == pytest.approx(4 / 16)
    same = semantic_mass(maps2, seg[:, 0].expand(2, 2, 6), labels2)
    assert torch.equal(same.mass, res.mass)


def test_rejects_bad_inputs() -> None:
    maps, seg, labels = _fixture()
    with pytest.raises(ValueError, match="unlabelled"):
        semantic_mass(maps, seg, labels, unlabelled="ignore")
    with pytest.raises(ValueError, match="only 1"):
        semantic_mass(maps, seg, labels * 2)
    with pytest.raises(TypeError, match="integer"):
        semantic_mass(maps, seg, labels.float())
    with pytest.raises(ValueError, match="labelled_pixels"):
        semantic_mass(maps, seg, labels[:, :1])
    with pytest.raises(ValueError, match="spatial size"):
        semantic_mass(maps, seg[..., :3], labels)
    with pytest.raises(TypeError, match="integer"):
        semantic_mass(maps, seg.float(), labels)
    with pytest.raises(ValueError, match="NaN"):
        semantic_mass(maps * float("nan"), seg, labels)
