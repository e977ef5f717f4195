"""The Explainer network: images ``(N, C, H, W)`` -> one mask logit map per class ``(N, K, H, W)``.

The paper uses DeepLabv3 (ResNet-50); on two CPU cores that would train for hours.
:class:`ExplainerNet` is a small U-Net-shaped encoder-decoder (four strided stages,
three decoder stages with skip connections, a 1x1 head at half resolution, bilinear
upsampling to the input size) that trains in minutes on the flowers. Any ``nn.Module``
mapping ``(N, C, H, W)`` to ``(N, K, H, W)`` can be used instead (a torchvision
segmentation model returning ``{"out": ...}`` too, see :func:`mask_logits`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_nas._validation import check_positive_int, check_widths, describe

#: Channel widths of the four encoder stages.
DEFAULT_WIDTHS = (8, 16, 32, 64)


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def _up_to(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class ExplainerNet(nn.Module):
    """Small encoder-decoder giving one mask logit map per class at the input size.

    Args:
        n_classes: number of masks ``K`` (the classifier's number of classes).
        in_channels: image channels.
        widths: channels of the four encoder stages (strides 2, 2, 2, 2).
        input_size: resize inputs to this side (bilinear, antialiased) before the
            encoder, so a network trained on small images explains larger ones the way
            it was trained; ``None`` works at the native size. The masks always come
            back at the input size.

    Example:
        >>> net = ExplainerNet(6).eval()
        >>> net(torch.zeros(2, 3, 128, 128)).shape
        torch.Size([2, 6, 128, 128])
    """

    def __init__(
        self,
        n_classes: int,
        *,
        in_channels: int = 3,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        w = check_widths(widths, 4, "encoder stages", n_classes=n_classes, in_channels=in_channels)
        self.n_classes = int(n_classes)
        self.in_channels = int(in_channels)
        self.widths = tuple(w)
        self.input_size = (
            None if input_size is None else check_positive_int(input_size, "input_size", minimum=16)
        )
        self.enc = nn.ModuleList(
            [_block(in_channels, w[0], 2), _block(w[0], w[1], 2), _block(w[1], w[2], 2)]
            + [_block(w[2], w[3], 2)]
        )
        self.dec = nn.ModuleList(
            [
                _block(w[3] + w[2], w[2], 1),
                _block(w[2] + w[1], w[1], 1),
                _block(w[1] + w[0], w[0], 1),
            ]
        )
        self.head = nn.Conv2d(w[0], n_classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m is not self.head:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able), to rebuild the network from a checkpoint."""
        return {
            "n_classes": self.n_classes,
            "in_channels": self.in_channels,
            "widths": list(self.widths),
            "input_size": self.input_size,
        }

    def forward(self, x: Tensor) -> Tensor:
        """Mask logits ``(N, n_classes, H, W)`` of images ``(N, in_channels, H, W)``."""
        skips = []
        h = x
        if self.input_size is not None and tuple(x.shape[-2:]) != (self.input_size,) * 2:
            h = F.interpolate(
                x, size=(self.input_size,) * 2, mode="bilinear", align_corners=False, antialias=True
            )
        for stage in self.enc:
            h = stage(h)
            skips.append(h)
        h = skips[-1]
        for stage, skip in zip(self.dec, reversed(skips[:-1])):
            h = stage(torch.cat([_up_to(h, skip), skip], 1))
        return F.interpolate(self.head(h), size=x.shape[-2:], mode="bilinear", align_corners=False)


def mask_logits(explainer: nn.Module, inputs: Tensor) -> Tensor:
    """Run ``explainer`` and check that it gives ``(N, K, H, W)`` logits at the inputs' size.

    A dict output (torchvision segmentation models) is read at its ``"out"`` key.

    Args:
        explainer: the Explainer network.
        inputs: images ``(N, C, H, W)``.

    Returns:
        The logits ``(N, K, H, W)``.

    Raises:
        ValueError: the output is not a 4-D tensor with the inputs' batch and spatial size.
    """
    out = explainer(inputs)
    if isinstance(out, dict) and "out" in out:
        out = out["out"]
    if not isinstance(out, Tensor) or out.dim() != 4:
        raise ValueError(f"the Explainer must return mask logits (N, K, H, W), got {describe(out)}")
    if out.shape[0] != inputs.shape[0] or out.shape[-2:] != inputs.shape[-2:]:
        raise ValueError(
            f"the Explainer returned masks of shape {tuple(out.shape)} for inputs of shape "
            f"{tuple(inputs.shape)}: masks must be (N, K, H, W) at the inputs' size "
            f"{tuple(inputs.shape[-2:])}"
        )
    return out
