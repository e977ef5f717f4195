"""NAS* classes with their defaults on a small slice of the photo benchmark.

Pins the direction measured on the benchmark (``benchmarks/table_nas.py``, K = 16): the
NAS-pooled map localises the object at IoU 0.7 more often than the unpooled map.
"""

import pytest
import torch
from torch import nn

from captum_nas.attr import NASGradCam, NASIntegratedGradients
from captum_nas.datasets import PHOTOS_NORMALIZER, render_photos
from captum_nas.evaluation.methods import default_gradcam_layer
from captum_nas.metrics import max_box_acc_v1_v2

INDICES = list(range(8))


@pytest.fixture(scope="module")
def photos():
    batch = render_photos(INDICES, seed=0)
    return PHOTOS_NORMALIZER(batch.images), batch


def _acc70(maps: torch.Tensor, boxes: torch.Tensor) -> float:
    _, v2 = max_box_acc_v1_v2(maps.sum(1, keepdim=True).abs(), [b.reshape(1, 4) for b in boxes])
    return float(v2.max_box_acc[2])


def test_nas_gradcam_pooled_beats_unpooled(lite0: nn.Module, photos) -> None:
    x, batch = photos
    cam = NASGradCam(lite0, default_gradcam_layer(lite0), n_segments=16)
    res = cam.attribute(x, target=batch.labels, return_result=True)
    assert _acc70(res.map, batch.boxes) > _acc70(res.pixel_map, batch.boxes)


@pytest.mark.slow
def test_nas_integrated_gradients_pooled_beats_unpooled(lite0: nn.Module, photos) -> None:
    x, batch = photos
    ig = NASIntegratedGradients(lite0, n_segments=16)
    res = ig.attribute(x, target=batch.labels, n_steps=8, return_result=True)
    assert _acc70(res.map, batch.boxes) > _acc70(res.pixel_map, batch.boxes)
