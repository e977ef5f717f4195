"""Batch invariance of NAS in every mode: image i alone == image i inside a batch.

Every per-image step of NAS (normalisation, PCA, k-means++ seeding, connectivity and
small-segment merging, refinement, SLIC and Ward merging) must not depend on the other
images of the batch. Before, ``connectivity=True`` chose the neighbour a small segment
joins by a score mixing border length and size with a scale set by the batch (number of
images x largest id), so some images changed when batched.
"""

from __future__ import annotations

import pytest
import torch

from captum_nas.segmentation import NASSegmenter, merge_small_segments
from tests.conftest import TinyCNN

N = 4


@pytest.mark.parametrize("refine", [None, 2], ids=["no-refine", "refine"])
@pytest.mark.parametrize("connectivity", [False, True], ids=["plain", "connected"])
@pytest.mark.parametrize("mode", ["flat", "hierarchical", "slic-merge"])
def test_image_alone_equals_image_in_a_batch(
    mode: str, connectivity: bool, refine: int | None
) -> None:
    torch.manual_seed(0)
    model = TinyCNN().eval()
    x = torch.randn(N, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    seg = NASSegmenter(
        model,
        n_segments=12,
        mode=mode,
        connectivity=connectivity,
        refine=refine,
        min_size=0.1 if connectivity else None,
        superpixels=40,
    )
    batched = seg(x)
    for i in range(N):
        assert torch.equal(seg(x[i : i + 1])[0], batched[i]), i
    # and in reverse order: the position in the batch does not matter either
    assert torch.equal(seg(x.flip(0)), batched.flip(0))


def test_merge_prefers_the_longest_border_whatever_the_batch() -> None:
    # segment 1 (3 px, column 0, rows 0-2) is small; it touches segment 2 (4 px) along
    # 3 pixel edges and segment 0 (113 px) along 1: it joins segment 2. The old score
    # border * (n_images * K + 1) + size picked the big segment 0 for a lone image
    # (1 * 4 + 113 > 3 * 4 + 4) and segment 2 inside a batch of 40.
    lab = torch.zeros(1, 4, 30, dtype=torch.long)
    lab[0, 0:3, 0] = 1
    lab[0, 0:4, 1] = 2
    expected = lab.clone()
    expected[expected == 1] = 2
    expected = torch.where(expected == 2, 1, expected)  # contiguous ids 0, 1
    assert torch.equal(merge_small_segments(lab, 4), expected)
    batch = torch.cat([lab, torch.randint(0, 5, (39, 4, 30), generator=torch.Generator())])
    assert torch.equal(merge_small_segments(batch, 4)[:1], expected)
