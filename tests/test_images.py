"""Tests for image conversion, resizing and loading (``captum_nas.images``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from captum_nas.images import (
    IMAGENET_NORMALIZER,
    SAMPLE_IMAGES,
    Normalizer,
    load_image,
    resize_image,
    sample_image,
    to_float_image,
)


def test_to_float_image_scales_by_dtype() -> None:
    u8 = np.array([[0, 51, 255]], dtype=np.uint8)
    assert to_float_image(u8)[0, 0].tolist() == pytest.approx([0.0, 0.2, 1.0])
    u16 = np.array([[0, 65535]], dtype=np.uint16)
    assert to_float_image(u16)[0].tolist() == [[0.0, 1.0]]
    f = np.array([[0.25, 0.5]], dtype=np.float64)
    assert to_float_image(f)[0].tolist() == [[0.25, 0.5]]
    # floats outside [0, 1] are refused, not guessed to be 0..255
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got 0 .. 127.5"):
        to_float_image(np.array([[0.0, 127.5]]))


def test_to_float_image_channels() -> None:
    grey = to_float_image(np.zeros((2, 3), dtype=np.uint8))
    assert grey.shape == (3, 2, 3)
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[..., 1] = 255
    out = to_float_image(rgba)
    assert out.shape == (3, 2, 2)
    assert out[1].eq(1).all() and out[0].eq(0).all() and out[2].eq(0).all()
    with pytest.raises(ValueError, match="shape"):
        to_float_image(np.zeros((2, 2, 2)))


def test_resize_image_matches_pillow_bilinear() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (3, 40, 60), generator=gen, dtype=torch.uint8)
    ours = resize_image(x.float() / 255, (16, 24))
    pil = Image.fromarray(x.permute(1, 2, 0).numpy()).resize((24, 16), Image.BILINEAR)
    ref = torch.from_numpy(np.array(pil)).permute(2, 0, 1).float() / 255
    assert ours.shape == (3, 16, 24)
    assert (ours - ref).abs().max() < 2.5 / 255


def test_resize_image_int_size_keeps_the_centre() -> None:
    ramp = torch.arange(60, dtype=torch.float32).expand(1, 40, 60) / 59
    out = resize_image(ramp.expand(3, 40, 60), 20)
    assert out.shape == (3, 20, 20)
    # the crop is centred: the ramp is symmetric about 0.5
    assert torch.allclose(out + out.flip(-1), torch.ones_like(out), atol=1e-5)
    # a constant image stays constant, and a batch keeps its batch dimension
    const = resize_image(torch.full((2, 3, 33, 17), 0.3), 8)
    assert const.shape == (2, 3, 8, 8) and torch.allclose(const, torch.tensor(0.3))


def test_resize_image_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="size"):
        resize_image(torch.rand(3, 8, 8), 0)
    with pytest.raises(TypeError, match="image"):
        resize_image(torch.zeros(3, 8, 8, dtype=torch.long), 4)


def test_load_image_round_trip(tmp_path: Path) -> None:
    gen = np.random.default_rng(0)
    arr = gen.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(arr).save(path)
    img = load_image(path, size=None)
    assert torch.allclose(img, torch.from_numpy(arr).permute(2, 0, 1).float() / 255, atol=1e-7)
    assert load_image(path, size=6).shape == (3, 6, 6)
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="cannot read"):
        load_image(bad)


def test_sample_image_names() -> None:
    assert "chelsea" in SAMPLE_IMAGES
    assert sample_image("chelsea", size=32).shape == (3, 32, 32)
    with pytest.raises(ValueError, match="name"):
        sample_image("no-such-image")


def test_normalizer_round_trip_and_checks() -> None:
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    y = IMAGENET_NORMALIZER(x)
    mean = torch.tensor(IMAGENET_NORMALIZER.mean).view(3, 1, 1)
    std = torch.tensor(IMAGENET_NORMALIZER.std).view(3, 1, 1)
    assert torch.allclose(y * std + mean, x, atol=1e-6)
    assert torch.allclose(IMAGENET_NORMALIZER.inverse(y), x, atol=1e-6)
    with pytest.raises(ValueError, match="channels"):
        Normalizer((0.5,), (0.5,))(x)
