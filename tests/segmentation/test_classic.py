import pytest
import torch

from captum_nas.images import Normalizer
from captum_nas.segmentation import (
    FelzenszwalbSegmenter,
    QuickshiftSegmenter,
    SLICSegmenter,
    WatershedSegmenter,
    is_contiguous,
)

NORM = Normalizer((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


def _two_colour_batch() -> torch.Tensor:
    """Left half red, right half blue (image 0); top/bottom (image 1); normalised."""
    img = torch.zeros(2, 3, 48, 64)
    img[0, 0, :, :32] = 1.0
    img[0, 2, :, 32:] = 1.0
    img[1, 1, :24] = 1.0
    img[1, 2, 24:] = 1.0
    return NORM(img)


SEGMENTERS = [
    lambda **kw: SLICSegmenter(4, compactness=1.0, **kw),
    lambda **kw: QuickshiftSegmenter(kernel_size=3, max_dist=10, **kw),
    lambda **kw: FelzenszwalbSegmenter(scale=100, min_pixels=20, **kw),
    lambda **kw: WatershedSegmenter(4, **kw),
]


@pytest.mark.parametrize("make", SEGMENTERS)
def test_no_segment_crosses_a_colour_edge(make) -> None:  # type: ignore[no-untyped-def]
    x = _two_colour_batch()
    seg = make(mean=NORM.mean, std=NORM.std)(x)
    assert seg.shape == (2, 1, 48, 64) and seg.dtype == torch.long
    assert is_contiguous(seg)
    # every segment lies on one side of the colour edge, outside the 1-pixel band
    # where smoothing (SLIC's sigma, Sobel's support) makes the edge ambiguous
    sides = [torch.zeros(48, 64, dtype=torch.bool), torch.zeros(48, 64, dtype=torch.bool)]
    sides[0][:, 32:] = True
    sides[1][24:] = True
    band = [torch.zeros(48, 64, dtype=torch.bool), torch.zeros(48, 64, dtype=torch.bool)]
    band[0][:, 31:33] = True
    band[1][23:25] = True
    for i in range(2):
        for k in seg[i, 0].unique():
            keep = (seg[i, 0] == k) & ~band[i]
            inside = sides[i][keep]
            assert inside.all() or (~inside).all()


def test_to_image_and_minmax_default_agree_on_unit_images() -> None:
    img = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    img[..., 0, 0] = 0.0
    img[..., 0, 1] = 1.0
    a = SLICSegmenter(8)(img)  # min-max rescale of an image already spanning [0, 1]
    b = SLICSegmenter(8, to_image=lambda x: x)(img)
    c = SLICSegmenter(8, mean=(0, 0, 0), std=(1, 1, 1))(img)
    assert torch.equal(a, b) and torch.equal(b, c)


def test_images_recovered_from_normalised_inputs() -> None:
    img = torch.rand(2, 3, 8, 8)
    seg = SLICSegmenter(4, mean=NORM.mean, std=NORM.std)
    assert torch.allclose(seg.images(NORM(img)), img, atol=1e-6)


def test_grayscale_input() -> None:
    x = torch.zeros(1, 1, 32, 32)
    x[..., 16:] = 1
    seg = FelzenszwalbSegmenter(min_pixels=10, sigma=0)(x)
    assert seg.shape == (1, 1, 32, 32)
    for k in seg.unique():
        side = x[0, 0][seg[0, 0] == k]
        assert bool((side == side[0]).all())


def test_errors() -> None:
    with pytest.raises(ValueError, match="either"):
        SLICSegmenter(4, to_image=lambda x: x, mean=(0,), std=(1,))
    with pytest.raises(ValueError, match="together"):
        SLICSegmenter(4, mean=(0, 0, 0))
    with pytest.raises(ValueError, match="std"):
        SLICSegmenter(4, mean=(0, 0, 0), std=(1, 0, 1))
    with pytest.raises(ValueError, match="compactness"):
        SLICSegmenter(4, compactness=0)
    with pytest.raises(ValueError, match="ratio"):
        QuickshiftSegmenter(ratio=2)
    with pytest.raises(ValueError, match="inputs"):
        SLICSegmenter(4)(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        SLICSegmenter(4)(torch.full((1, 3, 8, 8), float("nan")))


def test_felzenszwalb_min_size_is_a_deprecated_alias_of_min_pixels() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 24, 24, generator=gen)
    new = FelzenszwalbSegmenter(min_pixels=30, sigma=0)
    with pytest.warns(DeprecationWarning, match="min_pixels"):
        old = FelzenszwalbSegmenter(min_size=30, sigma=0)
    assert old.min_pixels == new.min_pixels == old.min_size == 30
    assert torch.equal(old(x), new(x))
    with pytest.raises(TypeError, match="only one"), pytest.warns(DeprecationWarning):
        FelzenszwalbSegmenter(min_pixels=20, min_size=30)
