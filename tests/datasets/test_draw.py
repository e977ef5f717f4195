import math

import pytest
import torch

from captum_nas.datasets import _draw as D


def test_pixel_grid_centres() -> None:
    xs, ys = D.pixel_grid(2, 3)
    assert xs.shape == (1, 1, 3) and ys.shape == (1, 2, 1)
    assert xs.flatten().tolist() == [0.5, 1.5, 2.5] and ys.flatten().tolist() == [0.5, 1.5]


def test_hsv_to_rgb_known_colours() -> None:
    hue = torch.tensor([0.0, 1 / 3, 2 / 3, 1 / 6, 0.5, 0.25, 0.9])
    sat = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.5, 1.0])
    val = torch.tensor([1.0, 1.0, 0.5, 1.0, 0.3, 0.8, 1.0])
    rgb = D.hsv_to_rgb(hue, sat, val)
    expected = torch.tensor(
        [
            [1.0, 0.0, 0.0],  # red
            [0.0, 1.0, 0.0],  # green
            [0.0, 0.0, 0.5],  # dark blue
            [1.0, 1.0, 0.0],  # yellow
            [0.3, 0.3, 0.3],  # grey
            [0.6, 0.8, 0.4],  # hue 90 degrees at half saturation
            [1.0, 0.0, 0.6],  # hue 324 degrees
        ]
    )
    assert torch.allclose(rgb, expected, atol=1e-6)


def test_ellipse_area_and_orientation() -> None:
    xs, ys = D.pixel_grid(200, 200)
    n = 3
    a, b = torch.tensor([60.0, 40.0, 30.0]), torch.tensor([20.0, 40.0, 10.0])
    angle = torch.tensor([0.0, 0.3, math.pi / 2])
    c, s = D.cos_sin(angle)
    mask = D.ellipse(xs - 100.0, ys - 100.0, a, b, c, s)
    assert mask.shape == (n, 200, 200) and set(mask.unique().tolist()) <= {0.0, 1.0}
    area = mask.sum((1, 2))
    assert torch.allclose(area, math.pi * a * b, rtol=0.02)
    # angle 0: long axis along x; angle pi/2: long axis along y
    assert mask[0, 100, 100 + 55] == 1 and mask[0, 100 + 25, 100] == 0
    assert mask[2, 100 + 25, 100] == 1 and mask[2, 100, 100 + 25] == 0


def test_bar_area() -> None:
    xs, ys = D.pixel_grid(100, 100)
    c, s = D.cos_sin(torch.tensor([0.0, math.pi / 4]))
    half_length, half_width = torch.tensor([40.0, 40.0]), torch.tensor([12.0, 12.0])
    mask = D.bar(xs - 50.0, ys - 50.0, half_length, half_width, c, s)
    assert torch.allclose(mask.sum((1, 2)), torch.tensor([80.0 * 24.0] * 2), rtol=0.03)
    assert mask[0, 50, 50 + 39] == 1 and mask[0, 50 + 13, 50] == 0
    assert mask[1, 50 + 25, 50 + 25] == 1 and mask[1, 50 + 25, 50 - 25] == 0


def test_grating_matches_plane_wave() -> None:
    xs, ys = D.pixel_grid(16, 20)
    freq, angle, phase = torch.tensor([0.7]), torch.tensor([0.4]), torch.tensor([1.1])
    c, s = D.cos_sin(angle)
    wave = D.grating(xs, ys, freq, c, s, phase)[0]
    expected = torch.sin(0.7 * (xs[0] * math.cos(0.4) + ys[0] * math.sin(0.4)) + 1.1)
    assert torch.allclose(wave, expected, atol=1e-5)


def test_chebyshev_cos() -> None:
    t = torch.linspace(0, math.pi, 50).reshape(1, 1, 50).expand(4, 1, 50)
    order = torch.tensor([5, 6, 7, 8])
    got = D.chebyshev_cos(torch.cos(t), order, range(5, 9))
    expected = torch.cos(order.reshape(-1, 1, 1) * t)
    assert torch.allclose(got, expected, atol=1e-4)


def test_le_is_float_indicator() -> None:
    a = torch.tensor([[0.5, 1.0, 1.5]])
    out = D.le(a, 1.0)
    assert out.dtype == torch.float32 and out.tolist() == [[1.0, 1.0, 0.0]]


@pytest.mark.parametrize("shape", [(5, 7), (1, 1), (4, 9)])
def test_boxes_from_masks(shape) -> None:
    h, w = shape
    masks = torch.zeros(3, 1, h, w, dtype=torch.bool)
    masks[0, 0, 0, 0] = True
    masks[1, 0, h - 1, w - 1] = True
    masks[1, 0, 0, w // 2] = True
    boxes = D.boxes_from_masks(masks)
    assert boxes.tolist() == [[0, 0, 1, 1], [w // 2, 0, w, h], [0, 0, 0, 0]]
