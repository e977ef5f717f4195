"""NAS under a memory budget: chunked batches give the unchunked result."""

from __future__ import annotations

import pytest
import torch

from captum_nas._model_state import ActivationCapture
from captum_nas.segmentation import NASSegmenter
from tests.conftest import TinyCNN

# 360 bytes per pixel of a 32 x 32 image: a budget for two images per chunk
_TWO_IMAGES = 2 * 360 * 32 * 32


@pytest.mark.parametrize("mode", ["flat", "hierarchical"])
def test_chunked_under_a_budget_equals_unchunked(mode: str) -> None:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    whole = NASSegmenter(model, n_segments=6, mode=mode, memory_budget=None)
    chunked = NASSegmenter(model, n_segments=6, mode=mode, memory_budget=_TWO_IMAGES)
    assert chunked.chunk_size(x) == 2 and whole.chunk_size(x) == 5
    a, b = whole.segment(x), chunked.segment(x)
    assert torch.equal(a.segments, b.segments)
    assert torch.equal(a.grid_labels, b.grid_labels)
    assert len(a.levels) == len(b.levels)
    assert all(torch.equal(p, q) for p, q in zip(a.levels, b.levels))
    # batched matrix products may round differently in another batch size
    torch.testing.assert_close(a.embedding, b.embedding, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.centroids, b.centroids, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.inertia, b.inertia, rtol=1e-5, atol=1e-6)
    # precomputed activations are sliced the same way
    with ActivationCapture(chunked.layers_for(x)) as cap:
        model(x)
    assert torch.equal(chunked.segment(x, activations=cap.outputs).segments, a.segments)


def test_default_budget_and_validation() -> None:
    model = TinyCNN().eval()
    nas = NASSegmenter(model)
    assert nas.memory_budget == 2**30
    # 64 images of 448 px do not fit in 1 GiB at 360 bytes per pixel: 14 per chunk
    assert nas.chunk_size(torch.empty(64, 3, 448, 448)) == 14
    assert nas.chunk_size(torch.empty(16, 3, 224, 224)) >= 16
    with pytest.raises(ValueError, match="memory_budget"):
        NASSegmenter(model, memory_budget=0)
