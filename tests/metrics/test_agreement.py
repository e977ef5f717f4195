"""segment_agreement against scipy, with ties, pixel maps and absent segments."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from captum_nas.metrics.agreement import segment_agreement
from captum_nas.pooling import segment_pool


def test_matches_scipy_with_ties() -> None:
    torch.manual_seed(0)
    a = torch.randint(0, 5, (6, 15)).double()
    b = torch.randint(0, 5, (6, 15)).double() + 0.5 * a
    r = segment_agreement(a, b, top_k=3)
    for i in range(6):
        assert r.spearman[i].item() == pytest.approx(stats.spearmanr(a[i], b[i]).statistic)
        assert r.kendall[i].item() == pytest.approx(stats.kendalltau(a[i], b[i]).statistic)


def test_hand_computed_and_top_k() -> None:
    r = segment_agreement(torch.tensor([[1.0, 2, 3, 4]]), torch.tensor([[1.0, 2, 4, 3]]), top_k=2)
    assert r.spearman.item() == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert r.kendall.item() == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert r.top_k_overlap.item() == 1.0
    r1 = segment_agreement(torch.tensor([[1.0, 2, 3, 4]]), torch.tensor([[1.0, 2, 4, 3]]), top_k=1)
    assert r1.top_k_overlap.item() == 0.0


def test_pixel_maps_and_absent_segments() -> None:
    torch.manual_seed(1)
    seg = torch.randint(0, 6, (2, 1, 8, 8))
    seg[1][seg[1] == 5] = 4  # image 1 lacks segment 5
    a = torch.randn(2, 3, 8, 8)
    b = torch.randn(2, 1, 8, 8)
    r = segment_agreement(a, b, seg, top_k=10)
    sa = segment_pool(a, seg, channel_reduce="mean").scores
    sb = segment_pool(b, seg, channel_reduce="mean").scores
    assert r.spearman[0].item() == pytest.approx(stats.spearmanr(sa[0], sb[0]).statistic)
    assert r.kendall[1].item() == pytest.approx(stats.kendalltau(sa[1, :5], sb[1, :5]).statistic)
    assert r.top_k_overlap.tolist() == [1.0, 1.0]  # k capped at the segments present


def test_constant_scores_give_nan_and_bad_input_rejected() -> None:
    r = segment_agreement(torch.ones(1, 4), torch.arange(4.0)[None], top_k=2)
    assert torch.isnan(r.spearman).all() and torch.isnan(r.kendall).all()
    with pytest.raises(ValueError, match="segments"):
        segment_agreement(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="different shapes"):
        segment_agreement(torch.zeros(1, 3), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="top_k"):
        segment_agreement(torch.zeros(1, 3), torch.zeros(1, 3), top_k=0)
    with pytest.raises(ValueError, match="`a`"):
        segment_agreement(torch.zeros(3), torch.zeros(3))


def test_segment_agreement_is_exported_from_metrics() -> None:
    import captum_nas.metrics as metrics
    from captum_nas.metrics import agreement

    assert metrics.segment_agreement is agreement.segment_agreement
    assert metrics.SegmentAgreement is agreement.SegmentAgreement
    assert {"segment_agreement", "SegmentAgreement"} <= set(metrics.__all__)
