"""Tests for the offline pretrained classifier (``captum_nas.models.pretrained``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_nas.images import sample_image
from captum_nas.models.pretrained import (
    EFFICIENTNET_LITE_NORMALIZER,
    efficientnet_lite0,
    imagenet_classes,
)


def test_imagenet_classes() -> None:
    names = imagenet_classes()
    assert len(names) == 1000 and len(set(names)) >= 998
    assert names[0] == "tench" and names[285] == "Egyptian cat"


def test_normalizer_maps_pixels_as_the_model_was_trained() -> None:
    # EfficientNet-Lite inputs are (pixel - 127) / 128 for pixels in 0..255
    levels = torch.tensor([0.0, 127.0, 255.0])
    out = EFFICIENTNET_LITE_NORMALIZER((levels / 255).expand(3, 1, 3))
    assert torch.allclose(out, ((levels - 127.0) / 128.0).expand(3, 1, 3), atol=1e-6)


@pytest.mark.slow
def test_pretrained_model_recognises_the_cat(lite0: nn.Module) -> None:
    assert not lite0.training
    x = EFFICIENTNET_LITE_NORMALIZER(sample_image("chelsea"))[None]
    with torch.no_grad():
        logits = lite0(x)
    assert logits.shape == (1, 1000)
    assert imagenet_classes()[int(logits.argmax())] == "Egyptian cat"


def test_untrained_model_has_other_weights(lite0: nn.Module) -> None:
    fresh = efficientnet_lite0(pretrained=False)
    assert not fresh.training
    a = dict(lite0.named_parameters())
    b = dict(fresh.named_parameters())
    assert a.keys() == b.keys()
    assert not torch.equal(a["_fc.weight"], b["_fc.weight"])
