"""Model loading for the command line, shared by ``explain``, ``evaluate`` and ``benchmark``.

A model *spec* is one of:

- ``efficientnet-lite0``: pretrained EfficientNet-Lite0 (offline weights), ImageNet classes;
- ``reference`` (or ``reference-double``): the synthetic-flowers reference classifier;
- a torchvision architecture name (``resnet18``, ``vgg11``, ...) with ``weights=PATH`` (a
  state_dict or a checkpoint dict holding one); without weights only when
  ``random_weights=True``;
- ``module:callable``: a zero-argument callable returning an ``nn.Module`` or a
  :class:`LoadedModel` (``weights=PATH`` is then loaded into the returned module).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_nas.cli import CLIError
from captum_nas.images import IMAGENET_NORMALIZER, Normalizer

#: Specs that are not torchvision names.
BUILTIN_MODELS = ("efficientnet-lite0", "reference", "reference-double")

#: GradCAM layers by torchvision family prefix (longest matching prefix wins).
_TORCHVISION_GRADCAM_LAYERS = {
    "resnet": "layer4",
    "resnext": "layer4",
    "wide_resnet": "layer4",
    "regnet": "trunk_output",
    "vgg": "features",
    "alexnet": "features",
    "densenet": "features",
    "squeezenet": "features",
    "mobilenet": "features",
    "efficientnet": "features",
    "convnext": "features",
    "mnasnet": "layers",
    "shufflenet": "conv5",
    "googlenet": "inception5b",
    "inception": "Mixed_7c",
}


@dataclass
class LoadedModel:
    """A classifier ready to explain.

    Attributes:
        model: the ``nn.Module`` in eval mode.
        normalizer: maps images in [0, 1] to the model's inputs (and back).
        class_names: one name per output.
        input_size: the image side the model expects (square images).
        name: the spec it was loaded from.
        gradcam_layer: a sensible default GradCAM layer name, or ``None`` (unknown).
    """

    model: nn.Module
    normalizer: Normalizer
    class_names: tuple[str, ...]
    input_size: int = 224
    name: str = ""
    gradcam_layer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _generic_names(n: int) -> tuple[str, ...]:
    return tuple(f"class {i}" for i in range(n))


def _n_outputs(model: nn.Module, size: int) -> int:
    with torch.no_grad():
        out = model(torch.zeros(1, 3, size, size))
    if not isinstance(out, Tensor) or out.dim() != 2:
        raise CLIError(
            f"the model must return logits of shape (N, classes), got "
            f"{getattr(out, 'shape', type(out).__name__)}"
        )
    return int(out.shape[1])


def _class_names_for(n: int, checkpoint: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    if checkpoint is not None:
        names = checkpoint.get("class_names")
        if isinstance(names, list | tuple) and len(names) == n:
            return tuple(str(v) for v in names)
    if n == 1000:
        from captum_nas.models.pretrained import imagenet_classes

        return imagenet_classes()
    return _generic_names(n)


def read_state_dict(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a state_dict, or a checkpoint dict holding one, saved with ``torch.save``.

    Recognised checkpoint keys: ``state_dict``, ``model_state_dict``, ``model``; a
    ``module.`` prefix (DataParallel) is removed. Only tensors and plain containers are
    unpickled (``weights_only=True``).

    Returns:
        ``(state_dict, checkpoint)`` where ``checkpoint`` is the whole loaded dict.

    Raises:
        FileNotFoundError: no such file.
        CLIError: the file is not a readable state_dict or checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file not found: {p}")
    try:
        loaded = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CLIError(
            f"cannot read {p} as a state_dict or checkpoint (save `model.state_dict()` "
            f"with torch.save): {first}"
        ) from err
    if not isinstance(loaded, Mapping):
        raise CLIError(f"{p} holds a {type(loaded).__name__}, expected a state_dict (a dict)")
    checkpoint = dict(loaded)
    state: Any = checkpoint
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(checkpoint.get(key), Mapping):
            state = checkpoint[key]
            break
    tensors = {str(k): v for k, v in state.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CLIError(f"{p} holds no tensors; expected a state_dict")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors, checkpoint


def _load_into(model: nn.Module, state: Mapping[str, Tensor], path: str | Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = "; ".join(lines[1:3]) if len(lines) > 1 else (lines[0] if lines else "")
        raise CLIError(f"weights in {path} do not fit the model: {detail}") from err


def _efficientnet_lite0() -> LoadedModel:
    from captum_nas.models.pretrained import (
        EFFICIENTNET_LITE_NORMALIZER,
        efficientnet_lite0,
        imagenet_classes,
    )

    return LoadedModel(
        efficientnet_lite0(pretrained=True),
        EFFICIENTNET_LITE_NORMALIZER,
        imagenet_classes(),
        224,
        "efficientnet-lite0",
        "_blocks.15",
    )


def _reference(variant: str) -> LoadedModel:
    try:
        from captum_nas.datasets import CLASS_NAMES, FLOWERS_NORMALIZER
        from captum_nas.models.reference import reference_checkpoint_info, reference_model
    except ImportError as err:
        raise CLIError(
            f"the reference model is not available in this installation ({err})"
        ) from err
    try:
        model = reference_model(variant)
        size = int(reference_checkpoint_info(variant).get("image_size", 128))
    except FileNotFoundError as err:
        raise CLIError(f"the reference model is not available: {err}") from err
    name = "reference" if variant == "single" else f"reference-{variant}"
    return LoadedModel(model, FLOWERS_NORMALIZER, CLASS_NAMES[variant], size, name, "layer4")


def _torchvision_names() -> list[str]:
    try:
        from torchvision import models
    except ImportError:  # pragma: no cover - depends on the environment
        return []
    return list(models.list_models(module=models))


def _torchvision_gradcam_layer(name: str) -> str | None:
    best = ""
    for prefix in _TORCHVISION_GRADCAM_LAYERS:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return _TORCHVISION_GRADCAM_LAYERS.get(best) if best else None


def _last_linear_out(model: nn.Module, state: Mapping[str, Tensor]) -> int | None:
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        return None
    weight = state.get(f"{names[-1]}.weight")
    return int(weight.shape[0]) if weight is not None and weight.dim() == 2 else None


def _torchvision(name: str, weights: str | None, random_weights: bool) -> LoadedModel:
    from torchvision import models

    if weights is None and not random_weights:
        raise CLIError(
            f"torchvision model {name!r} needs --weights PATH (no weights are downloaded); "
            "pass --random-weights to explain an untrained network"
        )
    size = 299 if name.startswith("inception") else 224
    extra_kwargs: dict[str, Any] = {}
    if name in ("googlenet", "inception_v3"):
        extra_kwargs = {"aux_logits": False, "init_weights": False}
    model: nn.Module = models.get_model(name, weights=None, **extra_kwargs)
    checkpoint: dict[str, Any] | None = None
    if weights is not None:
        state, checkpoint = read_state_dict(weights)
        n_out = _last_linear_out(model, state)
        if n_out is not None and n_out != 1000:
            model = models.get_model(name, weights=None, num_classes=n_out, **extra_kwargs)
        _load_into(model, state, weights)
    model.eval()
    n = _n_outputs(model, size)
    return LoadedModel(
        model,
        IMAGENET_NORMALIZER,
        _class_names_for(n, checkpoint),
        size,
        name,
        _torchvision_gradcam_layer(name),
    )


def _from_callable(spec: str, weights: str | None) -> LoadedModel:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CLIError(f"model spec {spec!r} must look like 'package.module:callable'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise CLIError(f"cannot import module {module_name!r} of model {spec!r}: {err}") from err
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CLIError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CLIError(f"{spec!r} is not callable")
    result = obj()
    if isinstance(result, LoadedModel):
        loaded = result
    elif isinstance(result, nn.Module):
        loaded = LoadedModel(result, IMAGENET_NORMALIZER, (), 224, spec, None)
    else:
        raise CLIError(
            f"{spec!r} returned a {type(result).__name__}; expected an nn.Module or a LoadedModel"
        )
    checkpoint: dict[str, Any] | None = None
    if weights is not None:
        state, checkpoint = read_state_dict(weights)
        _load_into(loaded.model, state, weights)
    loaded.model.eval()
    if not loaded.class_names:
        n = _n_outputs(loaded.model, loaded.input_size)
        names = getattr(loaded.model, "class_names", None)
        if isinstance(names, list | tuple) and len(names) == n:
            loaded.class_names = tuple(str(v) for v in names)
        else:
            loaded.class_names = _class_names_for(n, checkpoint)
    loaded.name = loaded.name or spec
    return loaded


def load_model(
    spec: str = "efficientnet-lite0", *, weights: str | None = None, random_weights: bool = False
) -> LoadedModel:
    """Load a classifier from a command-line model spec (see the module docstring).

    Args:
        spec: ``efficientnet-lite0``, ``reference``, ``reference-double``, a torchvision
            architecture name, or ``module:callable``.
        weights: path of a state_dict or checkpoint (torchvision names and
            ``module:callable`` only).
        random_weights: allow a torchvision architecture without ``weights``.

    Returns:
        A :class:`LoadedModel` whose model is in eval mode.

    Raises:
        CLIError: unknown spec, missing weights, or weights that do not fit.
        FileNotFoundError: ``weights`` does not exist.

    Example:
        >>> loaded = load_model("efficientnet-lite0")
        >>> loaded.class_names[285]
        'Egyptian cat'
    """
    if not isinstance(spec, str) or not spec:
        raise CLIError(f"model spec must be a non-empty string, got {spec!r}")
    if spec in BUILTIN_MODELS:
        if weights is not None:
            raise CLIError(f"--weights is not used with the built-in model {spec!r}")
        if spec == "efficientnet-lite0":
            return _efficientnet_lite0()
        return _reference("single" if spec == "reference" else "double")
    if ":" in spec:
        return _from_callable(spec, weights)
    available = _torchvision_names()
    if spec in available:
        return _torchvision(spec, weights, random_weights)
    raise CLIError(
        f"unknown model {spec!r}; use {', '.join(BUILTIN_MODELS)}, a torchvision "
        "architecture name (e.g. resnet18 with --weights PATH) or 'module:callable'"
    )


def parse_device(spec: str) -> torch.device:
    """The torch device named by ``--device``, checked to exist on this machine.

    Raises:
        CLIError: the name is not a device, or names a CUDA/MPS device that is absent.
    """
    try:
        device = torch.device(spec)
    except RuntimeError as err:
        raise CLIError(f"bad --device {spec!r}: {err}") from None
    if device.type == "cuda" and (
        not torch.cuda.is_available()
        or (device.index is not None and device.index >= torch.cuda.device_count())
    ):
        raise CLIError(
            f"--device {spec!r}: CUDA is not available here "
            f"({torch.cuda.device_count()} CUDA devices); use --device cpu"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise CLIError(f"--device {spec!r}: MPS is not available here; use --device cpu")
    return device
