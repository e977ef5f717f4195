"""Square-patch segmentation in pure torch."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from captum_nas._validation import check_image_batch, check_positive_int


def grid_shape(height: int, width: int, n_segments: int) -> tuple[int, int]:
    """Rows and columns of a grid of about ``n_segments`` near-square cells.

    Args:
        height: image height.
        width: image width.
        n_segments: wanted number of cells.

    Returns:
        (rows, cols) with rows <= height, cols <= width.
    """
    rows = max(1, round(math.sqrt(n_segments * height / width)))
    cols = max(1, round(n_segments / rows))
    return min(rows, height), min(cols, width)


def grid_mask(
    height: int, width: int, rows: int, cols: int, device: torch.device | str | None = None
) -> Tensor:
    """Ids (1, 1, H, W) of a rows x cols grid, row-major, cells of near-equal size."""
    ys = torch.div(torch.arange(height, device=device) * rows, height, rounding_mode="floor")
    xs = torch.div(torch.arange(width, device=device) * cols, width, rounding_mode="floor")
    return (ys[:, None] * cols + xs[None, :]).reshape(1, 1, height, width)


class GridSegmenter:
    """Split every image into a grid of near-square patches.

    Args:
        n_segments: wanted number of patches (the grid is rows x cols with
            rows/cols following the image's aspect ratio). Ignored when
            ``patch_size`` is given.
        patch_size: side of the square patches in pixels (last row/column may be
            smaller); keyword-only.

    Example:
        >>> GridSegmenter(n_segments=4)(torch.zeros(1, 3, 4, 4))[0, 0]
        tensor([[0, 0, 1, 1],
                [0, 0, 1, 1],
                [2, 2, 3, 3],
                [2, 2, 3, 3]])
    """

    def __init__(self, n_segments: int = 49, *, patch_size: int | None = None) -> None:
        self.n_segments = check_positive_int(n_segments, "n_segments")
        self.patch_size = (
            None if patch_size is None else check_positive_int(patch_size, "patch_size")
        )

    def __repr__(self) -> str:
        if self.patch_size is not None:
            return f"GridSegmenter(patch_size={self.patch_size})"
        return f"GridSegmenter(n_segments={self.n_segments})"

    def __call__(self, inputs: Tensor) -> Tensor:
        """Segment ``inputs`` (N, C, H, W) into LongTensor ids (N, 1, H, W)."""
        x = check_image_batch(inputs, allow_integer=True, finite=False)
        n, _, h, w = x.shape
        if self.patch_size is not None:
            ys = torch.div(torch.arange(h, device=x.device), self.patch_size, rounding_mode="floor")
            xs = torch.div(torch.arange(w, device=x.device), self.patch_size, rounding_mode="floor")
            cols = math.ceil(w / self.patch_size)
            mask = (ys[:, None] * cols + xs[None, :]).reshape(1, 1, h, w)
        else:
            if self.n_segments > h * w:
                raise ValueError(
                    f"`n_segments` ({self.n_segments}) exceeds the number of pixels ({h}x{w})"
                )
            rows, cols = grid_shape(h, w, self.n_segments)
            mask = grid_mask(h, w, rows, cols, device=x.device)
        return mask.expand(n, 1, h, w).contiguous()
