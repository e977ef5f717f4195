"""Colour-based segmenters from scikit-image, behind the segmenter contract.

They run per image on the CPU with numpy (by nature) and return LongTensor ids
(N, 1, H, W) on the inputs' device, contiguous per image. Since models take
normalised inputs, each accepts ``to_image`` (a callable mapping inputs to images in
[0, 1]) or ``mean``/``std`` to undo the normalisation; by default every image is
min-max rescaled to [0, 1].
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import torch
from torch import Tensor

from captum_nas._signature import expand_options
from captum_nas._validation import (
    check_image_batch,
    check_number,
    check_positive_int,
    check_seed,
)
from captum_nas.images import check_image_recovery
from captum_nas.segmentation.base import relabel_contiguous

if TYPE_CHECKING:
    from typing_extensions import Unpack


class ImageRecovery(TypedDict, total=False):
    """How a segmenter recovers images in [0, 1] from the (normalised) inputs."""

    to_image: Callable[[Tensor], Tensor] | None
    mean: Sequence[float] | None
    std: Sequence[float] | None


class _SkimageSegmenter:
    """Shared machinery: input checks, conversion to images, per-image loop."""

    #: numbers of image channels the scikit-image function accepts (None: any)
    _channels: tuple[int, ...] | None = None

    def __init__(
        self,
        *,
        to_image: Callable[[Tensor], Tensor] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        self._normalizer = check_image_recovery(to_image, mean, std)
        self._to_image = to_image

    def images(self, inputs: Tensor) -> Tensor:
        """The inputs as images in [0, 1], shape (N, C, H, W), float32 on the CPU."""
        x = inputs.detach().float().cpu()
        if self._to_image is not None:
            img = self._to_image(x)
        elif self._normalizer is not None:
            img = self._normalizer.inverse(x)
        else:
            lo = x.amin((1, 2, 3), keepdim=True)
            hi = x.amax((1, 2, 3), keepdim=True)
            img = (x - lo) / (hi - lo).clamp_min(1e-12)
        if not isinstance(img, Tensor) or img.shape[0] != x.shape[0] or img.dim() != 4:
            raise ValueError("`to_image` must return a (N, C, H, W) tensor for (N, C, H, W) inputs")
        return img.float().clamp(0.0, 1.0)

    def _segment_one(self, image: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, inputs: Tensor) -> Tensor:
        """Segment ``inputs`` (N, C, H, W) into LongTensor ids (N, 1, H, W)."""
        x = check_image_batch(inputs)
        imgs = self.images(x)
        if self._channels is not None and imgs.shape[1] not in self._channels:
            raise ValueError(
                f"`inputs`: {type(self).__name__} needs grey (1 channel) or RGB (3 channel) "
                f"images, got {imgs.shape[1]} channels (shape {tuple(x.shape)}); pass "
                "`to_image=` to map the inputs to such images"
            )
        labels = []
        for img in imgs:
            arr = img.permute(1, 2, 0).numpy()
            if arr.shape[-1] == 1:
                arr = arr[..., 0]
            labels.append(torch.from_numpy(np.ascontiguousarray(self._segment_one(arr))).long())
        seg = torch.stack(labels).unsqueeze(1)
        return relabel_contiguous(seg).to(inputs.device)


def _channel_axis(image: np.ndarray) -> int | None:
    return -1 if image.ndim == 3 else None


class _ChannelAxisSegmenter(_SkimageSegmenter):
    """A ``skimage.segmentation`` function that takes grey (H, W) and colour (H, W, C)
    images alike, told apart by its ``channel_axis`` argument."""

    #: the function's name in ``skimage.segmentation``
    _function: str

    def _options(self) -> dict[str, Any]:
        """The function's keyword arguments set by the segmenter's options."""
        raise NotImplementedError

    def _passed_through(self) -> dict[str, Any]:
        """Further keyword arguments given by the user, passed on as they are."""
        return {}

    def _segment_one(self, image: np.ndarray) -> np.ndarray:
        import skimage.segmentation

        function = getattr(skimage.segmentation, self._function)
        return function(
            image, **self._options(), channel_axis=_channel_axis(image), **self._passed_through()
        )


class SLICSegmenter(_ChannelAxisSegmenter):
    """SLIC superpixels (``skimage.segmentation.slic``).

    Args:
        n_segments: approximate number of segments (SLIC may return fewer or more).
        compactness: balance of colour and space proximity.
        sigma: Gaussian smoothing before segmenting.
        to_image, mean, std: how to recover images in [0, 1] from the inputs.
        **slic_kwargs: passed to ``skimage.segmentation.slic``.

    Example:
        >>> inputs = (images - 0.5) / 0.25  # normalised with mean 0.5, std 0.25
        >>> SLICSegmenter(n_segments=8, mean=(0.5,) * 3, std=(0.25,) * 3)(inputs).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self,
        n_segments: int = 32,
        *,
        compactness: float = 10.0,
        sigma: float = 1.0,
        to_image: Callable[[Tensor], Tensor] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        **slic_kwargs: Any,
    ) -> None:
        super().__init__(to_image=to_image, mean=mean, std=std)
        self.n_segments = check_positive_int(n_segments, "n_segments")
        self.compactness = check_number(compactness, "compactness", minimum=0.0, strict_min=True)
        self.sigma = check_number(sigma, "sigma", minimum=0.0)
        self.kwargs = slic_kwargs

    _function = "slic"

    def _options(self) -> dict[str, Any]:
        return {
            "n_segments": self.n_segments,
            "compactness": self.compactness,
            "sigma": self.sigma,
            "start_label": 0,
        }

    def _passed_through(self) -> dict[str, Any]:
        return self.kwargs


class QuickshiftSegmenter(_SkimageSegmenter):
    """Quickshift mode seeking (``skimage.segmentation.quickshift``), as LIME uses.

    Args:
        kernel_size: width of the Gaussian kernel in the density estimate.
        max_dist: cut-off distance of the tree; larger gives fewer segments.
        ratio: balance of colour and space proximity, in [0, 1].
        seed: seed (>= 0) of the random tie-breaking noise.
        to_image, mean, std: how to recover images in [0, 1] from the inputs; the
            images must have 1 (grey) or 3 (RGB) channels.
    """

    _channels = (1, 3)

    @expand_options(ImageRecovery, _SkimageSegmenter.__init__)
    def __init__(
        self,
        *,
        kernel_size: float = 4.0,
        max_dist: float = 200.0,
        ratio: float = 0.2,
        seed: int = 42,
        **image: Unpack[ImageRecovery],
    ) -> None:
        super().__init__(**image)
        self.kernel_size = check_number(kernel_size, "kernel_size", minimum=0.0, strict_min=True)
        self.max_dist = check_number(max_dist, "max_dist", minimum=0.0, strict_min=True)
        self.ratio = check_number(ratio, "ratio", minimum=0.0, maximum=1.0)
        self.seed = check_seed(seed)

    def _segment_one(self, image: np.ndarray) -> np.ndarray:
        from skimage.segmentation import quickshift

        rgb = image if image.ndim == 3 else np.stack([image] * 3, -1)
        return quickshift(
            rgb.astype(np.float64),
            kernel_size=self.kernel_size,
            max_dist=self.max_dist,
            ratio=self.ratio,
            rng=self.seed,
        )


class FelzenszwalbSegmenter(_ChannelAxisSegmenter):
    """Felzenszwalb's graph-based segmentation (``skimage.segmentation.felzenszwalb``).

    Args:
        scale: higher means larger segments.
        sigma: Gaussian smoothing before segmenting.
        min_pixels: minimum segment size in pixels (scikit-image's ``min_size``; named
            apart from NAS's size threshold, which is a fraction of its grid).
        to_image, mean, std: how to recover images in [0, 1] from the inputs.
        min_size: deprecated alias of ``min_pixels``.
    """

    @expand_options(ImageRecovery, _SkimageSegmenter.__init__, last=("min_size",))
    def __init__(
        self,
        *,
        scale: float = 100.0,
        sigma: float = 0.8,
        min_pixels: int = 50,
        min_size: int | None = None,
        **image: Unpack[ImageRecovery],
    ) -> None:
        super().__init__(**image)
        self.scale = check_number(scale, "scale", minimum=0.0, strict_min=True)
        self.sigma = check_number(sigma, "sigma", minimum=0.0)
        name = "min_pixels"
        if min_size is not None:
            warnings.warn(
                "`min_size` is deprecated and will be removed in a future release; use "
                "`min_pixels` (a size in pixels)",
                DeprecationWarning,
                stacklevel=2,
            )
            if min_pixels != 50:
                raise TypeError("give only one of `min_pixels` and its deprecated alias `min_size`")
            min_pixels, name = min_size, "min_size"
        self.min_pixels = check_positive_int(min_pixels, name)

    @property
    def min_size(self) -> int:
        """Deprecated alias of :attr:`min_pixels`."""
        return self.min_pixels

    _function = "felzenszwalb"

    def _options(self) -> dict[str, Any]:
        return {"scale": self.scale, "sigma": self.sigma, "min_size": self.min_pixels}


class WatershedSegmenter(_SkimageSegmenter):
    """Compact watershed on the Sobel gradient of the grey image, from a grid of markers.

    Args:
        n_segments: number of markers (segments).
        compactness: higher gives more regularly shaped segments.
        to_image, mean, std: how to recover grey (1 channel) or RGB (3 channel) images
            in [0, 1] from the inputs.
    """

    _channels = (1, 3)

    @expand_options(ImageRecovery, _SkimageSegmenter.__init__)
    def __init__(
        self,
        n_segments: int = 32,
        *,
        compactness: float = 1e-3,
        **image: Unpack[ImageRecovery],
    ) -> None:
        super().__init__(**image)
        self.n_segments = check_positive_int(n_segments, "n_segments")
        self.compactness = check_number(compactness, "compactness", minimum=0.0)

    def _segment_one(self, image: np.ndarray) -> np.ndarray:
        from skimage.color import rgb2gray
        from skimage.filters import sobel
        from skimage.segmentation import watershed

        grey = rgb2gray(image) if image.ndim == 3 else image
        if self.n_segments > grey.size:
            raise ValueError(
                f"`n_segments` ({self.n_segments}) exceeds the number of pixels ({grey.size})"
            )
        return watershed(sobel(grey), markers=self.n_segments, compactness=self.compactness) - 1
