"""The reference classifier of the synthetic flowers, and its committed checkpoints.

:class:`FlowerCNN` is a small ResNet-shaped network (``stem``, ``layer1`` ..
``layer4``, ``avgpool``, ``fc``): stage outputs at 1/2, 1/2, 1/4, 1/8 and 1/16 of the
input size, so NAS finds four depths with :func:`captum_nas.segmentation.auto_layers`
and GradCAM on ``layer4`` gives an 8x8 map for 128x128 inputs.

:func:`reference_model` loads the checkpoint shipped in ``captum_nas/data`` (inputs:
images normalised with :data:`captum_nas.datasets.FLOWERS_NORMALIZER`, i.e. what
``render_flowers`` and ``FlowersDataset`` return by default). The "single" checkpoint
was produced by::

    from captum_nas.models import save_reference, train_reference
    model, history = train_reference("single", epochs=3, n_train=12000, batch_size=64,
                                     lr=3e-3, seed=0, image_size=128)
    save_reference(model, history)

(the CLI equivalent is ``captum-nas train-reference --variant single``); the exact call
and the measured test accuracy are stored in the checkpoint, see
:func:`reference_checkpoint_info`.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_nas._checkpoint import read_checkpoint
from captum_nas._validation import check_choice, check_widths
from captum_nas.datasets import VARIANTS, n_classes

#: Channel widths of stem, layer1, layer2, layer3, layer4.
DEFAULT_WIDTHS = (16, 16, 32, 64, 128)


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(*_conv_bn_relu(c_in, c_out, stride), *_conv_bn_relu(c_out, c_out, 1))


class FlowerCNN(nn.Module):
    """Small CNN: a strided stem, four stages of two 3x3 conv-BN-ReLU, average pool, linear.

    Args:
        n_classes: number of outputs.
        widths: channels of ``stem``, ``layer1``, ``layer2``, ``layer3``, ``layer4``.
        in_channels: input channels.

    Example:
        >>> model = FlowerCNN(6).eval()
        >>> model(torch.zeros(2, 3, 128, 128)).shape
        torch.Size([2, 6])
    """

    def __init__(
        self,
        n_classes: int = 6,
        *,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        w = check_widths(widths, 5, "stem, layer1..4", n_classes=n_classes, in_channels=in_channels)
        self.n_classes = int(n_classes)
        self.widths = tuple(w)
        self.stem = nn.Sequential(*_conv_bn_relu(in_channels, w[0], 2))
        self.layer1 = _stage(w[0], w[1], 1)
        self.layer2 = _stage(w[1], w[2], 2)
        self.layer3 = _stage(w[2], w[3], 2)
        self.layer4 = _stage(w[3], w[4], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w[4], n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, n_classes) of images (N, C, H, W)."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def reference_checkpoint_path(variant: str = "single") -> Path:
    """Path of the shipped checkpoint of ``variant`` (it may not exist for every variant)."""
    check_choice(variant, "variant", VARIANTS)
    root = resources.files("captum_nas").joinpath("data")
    return Path(str(root)) / f"reference_flowers_{variant}.pt"


def _read_checkpoint(path: Path) -> dict[str, Any]:
    return read_checkpoint(path, "a reference checkpoint")


def _packaged_checkpoint(variant: str) -> dict[str, Any]:
    path = reference_checkpoint_path(variant)
    if not path.is_file():
        shipped = sorted(p.name for p in path.parent.glob("reference_flowers_*.pt"))
        raise FileNotFoundError(
            f"no reference checkpoint for variant {variant!r} at {path} (shipped: {shipped}); "
            "train one with `captum-nas train-reference` or pass `pretrained=False`"
        )
    return _read_checkpoint(path)


def _model_from(checkpoint: dict[str, Any]) -> FlowerCNN:
    meta = checkpoint["metadata"]
    model = FlowerCNN(int(meta["n_classes"]), widths=tuple(meta["widths"]))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def reference_checkpoint_info(variant: str = "single") -> dict[str, Any]:
    """Metadata stored with the shipped checkpoint of ``variant``.

    Keys include ``variant``, ``image_size``, ``seed``, ``epochs``, ``n_train``,
    ``test_accuracy``, ``n_test``, ``call`` (the reproducing Python call) and ``history``.

    Raises:
        FileNotFoundError: no checkpoint is shipped for ``variant``.
    """
    check_choice(variant, "variant", VARIANTS)
    return dict(_packaged_checkpoint(variant)["metadata"])


def load_reference(path: str | Path) -> FlowerCNN:
    """A :class:`FlowerCNN` in eval mode from a checkpoint written by ``save_reference``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not such a checkpoint.
    """
    return _model_from(_read_checkpoint(Path(path)))


def reference_model(variant: str = "single", *, pretrained: bool = True) -> FlowerCNN:
    """The reference flower classifier in eval mode.

    Args:
        variant: ``"single"`` (6 classes) or ``"double"`` (12 classes).
        pretrained: load the shipped checkpoint (else random weights).

    Returns:
        A :class:`FlowerCNN` in eval mode, on CPU. Inputs: (N, 3, H, W) images
        normalised with :data:`captum_nas.datasets.FLOWERS_NORMALIZER`, best at the
        ``image_size`` in :func:`reference_checkpoint_info` (128).

    Raises:
        FileNotFoundError: ``pretrained`` and no checkpoint is shipped for ``variant``.

    Example:
        >>> from captum_nas.datasets import render_flowers
        >>> model = reference_model("single")
        >>> batch = render_flowers(4, split="test")
        >>> model(batch.images).argmax(1)  # doctest: +SKIP
    """
    check_choice(variant, "variant", VARIANTS)
    if not isinstance(pretrained, bool):
        raise TypeError(f"`pretrained` must be a bool, got {pretrained!r}")
    if not pretrained:
        return FlowerCNN(n_classes(variant)).eval()
    return _model_from(_packaged_checkpoint(variant))
