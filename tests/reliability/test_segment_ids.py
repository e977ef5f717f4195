"""Segment ids: cost set by the number of segments, never by the largest id.

Ids are relabelled to ``0..K_i-1`` per image where they enter (``feature_mask`` /
``segments`` of the NAS* classes, any segmenter's output, the segments of the
metrics) by one function, ``relabel_contiguous``. An id of ``10**9`` must cost what an
id of 2 costs (before, ``10**9`` asked for gigabytes), and ids with gaps must not give
Lime/KernelShap features that no pixel carries.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from captum_nas import attr as na
from captum_nas.attr.perturbation import TorchLinearRegression
from captum_nas.metrics import relevance_curve, semantic_mass
from captum_nas.pooling import segment_pool
from captum_nas.segmentation import GridSegmenter, relabel_contiguous
from tests.conftest import TinyCNN

H = W = 16
BIG = 10**9


def _three_ids(a: int, b: int, c: int) -> Tensor:
    """(1, 1, 16, 16) mask: left half ``a``, top right ``b``, bottom right ``c``."""
    seg = torch.full((1, 1, H, W), a, dtype=torch.long)
    seg[..., : H // 2, W // 2 :] = b
    seg[..., H // 2 :, W // 2 :] = c
    return seg


def _unique_inverse(seg: Tensor) -> Tensor:
    """Reference: ``torch.unique(return_inverse=True)`` image by image."""
    out = [torch.unique(s, return_inverse=True)[1] for s in seg]
    return torch.stack(out)


@pytest.mark.parametrize("high", [10, 300, BIG, 2**62])
def test_relabel_contiguous_equals_unique_per_image(high: int) -> None:
    g = torch.Generator().manual_seed(0)
    # 5 images of 6x7 with ids drawn from 4 random values each (gaps everywhere)
    values = torch.randint(0, high, (5, 4), generator=g)
    pick = torch.randint(0, 4, (5, 1, 6, 7), generator=g)
    seg = values.gather(1, pick.reshape(5, -1)).reshape(5, 1, 6, 7)
    out = relabel_contiguous(seg)
    assert torch.equal(out, _unique_inverse(seg))
    assert out.dtype == torch.long and out.shape == seg.shape


def test_relabel_contiguous_of_zero_seven_and_a_billion() -> None:
    seg = _three_ids(0, 7, BIG)
    assert torch.equal(relabel_contiguous(seg), _three_ids(0, 1, 2))
    # the order of the ids is kept, whatever their size
    assert torch.equal(relabel_contiguous(_three_ids(BIG, 0, 7)), _three_ids(2, 0, 1))


def _model() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN().eval()


def _inputs() -> Tensor:
    return torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("cls", [na.NASSaliency, na.NASIntegratedGradients, na.NASFeatureAblation])
@pytest.mark.parametrize("ids", [(0, 7, BIG), (3, 5, 9)])
def test_nas_classes_with_large_or_gapped_ids_equal_contiguous_ids(
    cls: Any, ids: tuple[int, int, int]
) -> None:
    model = _model()
    x = _inputs()
    method = cls(model, segmenter=GridSegmenter(4))
    contiguous = method.attribute(x, target=1, feature_mask=_three_ids(0, 1, 2))
    out, seg = method.attribute(x, target=1, feature_mask=_three_ids(*ids), return_segments=True)
    assert torch.equal(out, contiguous)
    assert torch.equal(seg, _three_ids(0, 1, 2).expand(2, 1, H, W))


def test_custom_segmenter_output_is_relabelled() -> None:
    model = _model()
    x = _inputs()

    def segmenter(images: Tensor) -> Tensor:
        return _three_ids(0, 7, BIG).expand(images.shape[0], 1, H, W)

    method = na.NASSaliency(model, segmenter=segmenter)
    assert torch.equal(method.segment(x), _three_ids(0, 1, 2).expand(2, 1, H, W))
    result = method.attribute(x, target=0, return_result=True)
    assert result.scores.shape == (2, 3)


class _Recording(TorchLinearRegression):
    """TorchLinearRegression that records the number of interpretable features."""

    def __init__(self, alpha: float) -> None:
        super().__init__(alpha)
        self.widths: list[int] = []

    def fit(self, train_data: Any, **kwargs: object) -> dict[str, float]:
        batch = next(iter(train_data))
        self.widths.append(int(batch[0].reshape(batch[0].shape[0], -1).shape[1]))
        return super().fit(train_data, **kwargs)


@pytest.mark.parametrize("kind", ["lime", "kernelshap"])
def test_lime_and_kernel_shap_sample_only_present_segments(kind: str) -> None:
    model = _model()
    x = _inputs()[:1]
    recorder = _Recording(alpha=1.0 if kind == "lime" else 0.0)
    if kind == "lime":
        method: Any = na.NASLime(model, recorder, segmenter=GridSegmenter(4))
    else:
        method = na.NASKernelShap(model, segmenter=GridSegmenter(4))
        method.attribution.interpretable_model = recorder
    results = []
    for ids in ((0, 7, BIG), (4, 9, 20), (0, 1, 2)):
        torch.manual_seed(3)
        results.append(method.attribute(x, target=2, feature_mask=_three_ids(*ids), n_samples=30))
    # three features (the three segments), never 10**9 + 1 or 21
    assert recorder.widths == [3, 3, 3]
    # the same seed draws the same coalitions: the same values whatever the ids
    assert torch.equal(results[0], results[2]) and torch.equal(results[1], results[2])


def test_semantic_mass_and_relevance_curve_with_a_billion() -> None:
    maps = torch.rand(2, H, W, generator=torch.Generator().manual_seed(2))
    labels = torch.zeros(2, H, W, dtype=torch.long)
    labels[:, :, : W // 2] = 1
    big = semantic_mass(maps, _three_ids(0, 7, BIG), labels)
    small = semantic_mass(maps, _three_ids(0, 1, 2), labels)
    assert torch.equal(big.mass, small.mass)

    model = _model()
    x = _inputs()
    attr = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(4))
    a = relevance_curve(model, x, attr, target=1, segments=_three_ids(BIG, 0, 7))
    b = relevance_curve(model, x, attr, target=1, segments=_three_ids(2, 0, 1))
    assert torch.equal(a.scores, b.scores) and torch.equal(a.n_units, b.n_units)


def test_segment_pool_rejects_ids_beyond_its_bound() -> None:
    attr = torch.rand(1, 1, H, W)
    with pytest.raises(ValueError, match=r"`segments` has id 1000000000, ids must be below 65536"):
        segment_pool(attr, _three_ids(0, 7, BIG))
    # on a 300x300 image the bound is its pixel count
    with pytest.raises(ValueError, match=r"has id 90000, ids must be below 90000"):
        segment_pool(torch.rand(1, 1, 300, 300), torch.full((1, 1, 300, 300), 90000))
    # the largest allowed id still works, with NaN for the gaps
    pooled = segment_pool(attr, _three_ids(0, 7, 2**16 - 1))
    assert pooled.scores.shape == (1, 1, 2**16)
    assert int(torch.isfinite(pooled.scores).sum()) == 3
    relabelled = segment_pool(attr, relabel_contiguous(_three_ids(0, 7, BIG)))
    assert torch.equal(relabelled.map, pooled.map)
