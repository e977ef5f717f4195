"""NAS's faster refinement, colour, seeding and k-means: the original segments.

On real photographs (the photo benchmark's composites, EfficientNet-Lite0), with the
defaults and with ``LEGACY_NAS_OPTIONS``, the segments equal those computed with the
test-only copies of the original code (``tests/segmentation/reference_nas.py``).
"""

import pytest
import torch
from torch import nn

from captum_nas.datasets import PHOTOS_NORMALIZER, render_photos
from captum_nas.segmentation import NASSegmenter, kmeans, nas
from captum_nas.segmentation.nas import LEGACY_NAS_OPTIONS
from tests.segmentation.reference_nas import (
    reference_batched_kmeans,
    reference_kmeans_pp,
    reference_refine_labels,
    reference_rgb_to_lab,
)


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    return PHOTOS_NORMALIZER(render_photos(list(range(4)), seed=0).images)


def _reference_kmeans(x: torch.Tensor, k: int, **options: object) -> kmeans.KMeansResult:
    """The reference k-means, for the options it knows (run to a fixed point, all seeds)."""
    assert options.pop("tol") == 0.0 and options.pop("seed_points") is None
    return reference_batched_kmeans(x, k, **options)


#: the defaults with k-means run to a fixed point and seeded from every point, as the
#: original code did; ``LEGACY_NAS_OPTIONS`` are the first release's defaults
EXACT_KMEANS = {"tol": 0.0, "seed_points": None}


@pytest.mark.parametrize(
    "options",
    [EXACT_KMEANS, {**LEGACY_NAS_OPTIONS, **EXACT_KMEANS}],
    ids=["defaults", "legacy"],
)
def test_segments_equal_the_reference_implementation(
    lite0: nn.Module, photos: torch.Tensor, options: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    seg = NASSegmenter(lite0, n_segments=16, to_image=PHOTOS_NORMALIZER.inverse, **options)
    acts = seg._activations(photos, seg.layers_for(photos))
    ours = seg.segment(photos, activations=acts)
    with monkeypatch.context() as m:
        m.setattr(kmeans, "_kmeans_pp", reference_kmeans_pp)
        m.setattr(nas, "batched_kmeans", _reference_kmeans)
        m.setattr(nas, "refine_labels", reference_refine_labels)
        m.setattr(nas, "color_features", lambda images: reference_rgb_to_lab(images) / 100.0)
        ref = seg.segment(photos, activations=acts)
    assert torch.equal(ours.segments, ref.segments)
    assert torch.equal(ours.centroids, ref.centroids)
    assert ours.segments.amax() > 8  # a real segmentation, not a trivial one
