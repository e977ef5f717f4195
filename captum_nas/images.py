"""Image loading, resizing and (de)normalisation helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.util import img_as_float32
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from captum_nas._validation import check_image_batch, check_positive_int

SAMPLE_IMAGES = ("chelsea", "coffee", "astronaut", "rocket", "cat", "immunohistochemistry")


@dataclass(frozen=True)
class Normalizer:
    """Per-channel normalisation ``(x - mean) / std`` and its inverse.

    Args:
        mean: one value per channel, for images in [0, 1].
        std: one value per channel.

    Example:
        >>> norm = Normalizer((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
        >>> norm.inverse(norm(torch.ones(1, 3, 2, 2))).unique()
        tensor([1.])
    """

    mean: Sequence[float]
    std: Sequence[float]

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        c = x.shape[-3]
        if c != len(self.mean):
            raise ValueError(f"image has {c} channels, the normaliser expects {len(self.mean)}")
        shape = (c, 1, 1)
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape)
        return mean, std

    def __call__(self, images: Tensor) -> Tensor:
        """Normalise images in [0, 1] of shape (..., C, H, W)."""
        mean, std = self._stats(images)
        return (images - mean) / std

    def inverse(self, inputs: Tensor) -> Tensor:
        """Recover images in [0, 1] from normalised inputs (clamped)."""
        mean, std = self._stats(inputs)
        return (inputs * std + mean).clamp(0.0, 1.0)


IMAGENET_NORMALIZER = Normalizer((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def check_image_recovery(
    to_image: Callable[[Tensor], Tensor] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> Normalizer | None:
    """Check a segmenter's way back from inputs to images: ``to_image`` or ``mean``/``std``.

    Args:
        to_image: callable mapping inputs to images in [0, 1], or None.
        mean: per-channel mean of the inputs' normalisation, or None.
        std: per-channel std (> 0), given together with ``mean``.

    Returns:
        The :class:`Normalizer` of ``mean``/``std``, or None when they are not given.

    Raises:
        ValueError: both ways are given, ``mean`` without ``std`` (or the reverse), or a
            std value <= 0.
        TypeError: ``to_image`` is not callable.

    Example:
        >>> check_image_recovery(None, (0.5,), (0.25,))
        Normalizer(mean=(0.5,), std=(0.25,))
    """
    if to_image is not None and (mean is not None or std is not None):
        raise ValueError("give either `to_image` or `mean`/`std`, not both")
    if (mean is None) != (std is None):
        raise ValueError("`mean` and `std` must be given together")
    if to_image is not None and not callable(to_image):
        raise TypeError(f"`to_image` must be callable, got {type(to_image).__name__}")
    if mean is None or std is None:
        return None
    if any(float(v) <= 0 for v in std):
        raise ValueError(f"`std` values must be > 0, got {list(std)}")
    return Normalizer(tuple(float(v) for v in mean), tuple(float(v) for v in std))


def to_float_image(array: np.ndarray) -> Tensor:
    """An image array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as (3, H, W) in [0, 1].

    uint8, uint16 and bool arrays are scaled by scikit-image's ``img_as_float32``
    (0..255, 0..65535, False/True). Float arrays must already lie in [0, 1]: values
    outside (0..255 floats, negative values, NaN) raise instead of being guessed at.
    Grey images are repeated over three channels and an alpha channel is dropped.

    Raises:
        ValueError: another shape, or float values outside [0, 1] or not finite.
        TypeError: another dtype (signed integers, complex, object).

    Example:
        >>> to_float_image(np.full((2, 2), 255, dtype=np.uint8)).unique()
        tensor([1.])
        >>> try:
        ...     to_float_image(np.full((2, 2), 127.5))
        ... except ValueError as err:
        ...     print(str(err).split(";")[0])
        float image values must lie in [0, 1], got 127.5 .. 127.5
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape (H, W[, 1|3|4]), got {arr.shape}")
    arr = np.repeat(arr, 3, -1) if arr.shape[-1] == 1 else arr[..., :3]
    if arr.dtype in (np.uint8, np.uint16, np.bool_):
        img = torch.from_numpy(img_as_float32(arr))
    elif np.issubdtype(arr.dtype, np.floating):
        img = torch.from_numpy(arr.astype(np.float32))
        if img.numel():
            low, high = float(img.min()), float(img.max())
            if not (np.isfinite(low) and np.isfinite(high)):
                raise ValueError("float image values must be finite, got NaN or Inf")
            if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
                raise ValueError(
                    f"float image values must lie in [0, 1], got {low:g} .. {high:g}; scale "
                    "0..255 data by 1/255 (or pass uint8)"
                )
    else:
        raise TypeError(
            f"image arrays must be uint8 (0..255), uint16 (0..65535), bool or floats in "
            f"[0, 1], got dtype {arr.dtype}"
        )
    return img.permute(2, 0, 1).contiguous().clamp(0.0, 1.0)


#: float images may overshoot [0, 1] by this much (rounding of resampled data); clamped
_FLOAT_SLACK = 1e-4


def resize_image(image: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Resize (C, H, W) or (N, C, H, W) images with antialiasing (torchvision's resize).

    ``size`` as an int resizes the shorter side to ``size`` then centre-crops a square
    (torchvision's ``resize`` + ``center_crop``, the ImageNet evaluation transform); a
    pair (H, W) resizes exactly. Bilinear, antialiased, clamped to [0, 1].

    Example:
        >>> resize_image(torch.rand(3, 40, 60), 20).shape
        torch.Size([3, 20, 20])
        >>> resize_image(torch.rand(2, 3, 40, 60), (10, 30)).shape
        torch.Size([2, 3, 10, 30])
    """
    x = image.unsqueeze(0) if image.dim() == 3 else image
    check_image_batch(x, "image")
    if isinstance(size, int):
        s = check_positive_int(size, "size")
        x = TF.center_crop(TF.resize(x, [s], antialias=True), [s, s])
    else:
        x = TF.resize(x, [int(v) for v in size], antialias=True)
    x = x.clamp(0.0, 1.0).contiguous()
    return x[0] if image.dim() == 3 else x


def _pixels(image: Image.Image) -> np.ndarray:
    """The pixels of an opened Pillow image in a form :func:`to_float_image` reads."""
    mode = image.mode
    if mode in ("L", "RGB", "F") or mode.startswith("I;16"):
        return np.asarray(image)  # uint8, uint16 or float32 as stored
    if mode == "I":  # 32-bit integers: what Pillow makes of 16-bit grey files
        arr = np.asarray(image)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(f"32-bit integer pixels {arr.min()} .. {arr.max()} do not fit 16 bits")
        return arr.astype(np.uint16)
    if mode in ("1", "LA", "La"):
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGB"))  # Pillow's conversions: CMYK, palette, YCbCr, ...


def read_image_array(path: str | Path) -> np.ndarray:
    """The pixels of an image file as Pillow decodes and converts them.

    Colour images come as (H, W, 3) uint8 RGB through Pillow's own conversions (CMYK,
    palette, YCbCr, alpha dropped); grey ones as (H, W) uint8, uint16 (16-bit files)
    or float32 (32-bit float files). Multi-frame files give their first frame.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not an image Pillow can decode completely (truncated,
            another format); the message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file not found: {p}")
    try:
        with Image.open(p) as image:
            image.load()
            return _pixels(image)
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, ...
        raise ValueError(f"cannot read {p} as an image: {err}") from err


def load_image(path: str | Path, size: int | tuple[int, int] | None = 224) -> Tensor:
    """Read an image file as a (3, H, W) float tensor in [0, 1], resized when ``size``.

    Pixels are read by :func:`read_image_array` and scaled by :func:`to_float_image`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or its pixels are not an image
            (a float file with values outside [0, 1]); the message names the file.
    """
    arr = read_image_array(path)
    try:
        img = to_float_image(arr)
    except (ValueError, TypeError) as err:
        raise ValueError(f"cannot read {path} as an image: {err}") from err
    return img if size is None else resize_image(img, size)


def sample_image(name: str = "chelsea", size: int | tuple[int, int] | None = 224) -> Tensor:
    """One of scikit-image's sample photographs as (3, H, W) in [0, 1].

    Args:
        name: a name in :data:`SAMPLE_IMAGES` (default: ``"chelsea"``, a cat).
        size: resize as in :func:`resize_image`; ``None`` keeps the original size.
    """
    from skimage import data

    if name not in SAMPLE_IMAGES:
        raise ValueError(f"`name` must be one of {SAMPLE_IMAGES}, got {name!r}")
    img = to_float_image(getattr(data, name)())
    return img if size is None else resize_image(img, size)
