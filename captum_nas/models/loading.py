"""Model loading by name: the built-in models, torchvision architectures, your own code.

A model *spec* is one of:

- ``efficientnet-lite0``: pretrained EfficientNet-Lite0 (offline weights), ImageNet classes;
- ``reference``: the synthetic-flowers reference classifier (6 classes);
  ``reference-double`` its 12-class sibling, offered only when its checkpoint is
  shipped (see :func:`available_models`) or given with ``weights=``;
  with ``weights=PATH`` either loads a retrained checkpoint (``captum-nas
  train-reference --out PATH``, or a plain state_dict);
- a torchvision architecture name (``resnet18``, ``vgg11``, ...) with ``weights=PATH`` (a
  state_dict or a checkpoint dict holding one); without weights only when
  ``random_weights=True``;
- ``module:callable``: a zero-argument callable returning an ``nn.Module`` or a
  :class:`LoadedModel` (``weights=PATH`` is then loaded into the returned module).

Random weights (``random_weights=True``) are drawn under ``seed``: the same seed gives
the same network. Errors are ``ValueError`` / ``TypeError`` / ``FileNotFoundError``
with one-line messages; the command line only turns them into exit codes.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_nas._checkpoint import read_torch_file
from captum_nas.images import IMAGENET_NORMALIZER, Normalizer

__all__ = [
    "BUILTIN_MODELS",
    "LoadedModel",
    "available_models",
    "file_sha256",
    "load_model",
    "read_state_dict",
    "resolve_device",
]

#: Specs that are not torchvision names.
BUILTIN_MODELS = ("efficientnet-lite0", "reference", "reference-double")


@dataclass
class LoadedModel:
    """A classifier ready to explain.

    Attributes:
        model: the ``nn.Module`` in eval mode.
        normalizer: maps images in [0, 1] to the model's inputs (and back).
        class_names: one name per output.
        input_size: the image side the model expects (square images).
        name: the spec it was loaded from.
        weights: path of the weights file loaded (``None``: built-in or random weights).
        weights_sha256: SHA-256 of that file (``None`` without a file).
        random_weights: the weights are random (drawn under ``seed``).
        seed: the seed of random weights.
        extra: anything else a loader wants to record.
    """

    model: nn.Module
    normalizer: Normalizer
    class_names: tuple[str, ...]
    input_size: int = 224
    name: str = ""
    weights: str | None = None
    weights_sha256: str | None = None
    random_weights: bool = False
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        """Number of outputs (classes) of the model."""
        return len(self.class_names)

    def describe(self) -> dict[str, Any]:
        """What identifies this model's weights, as JSON-able values (for run records)."""
        return {
            "name": self.name,
            "weights": self.weights,
            "weights_sha256": self.weights_sha256,
            "random_weights": self.random_weights,
            "seed": self.seed if self.random_weights else None,
            "input_size": self.input_size,
            "n_classes": self.n_classes,
        }


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def available_models() -> tuple[str, ...]:
    """The built-in model names usable without ``weights=`` in this installation.

    ``reference-double`` is listed only when its checkpoint is shipped.
    """
    from captum_nas.models.reference import reference_checkpoint_path

    names = ["efficientnet-lite0"]
    for variant, name in (("single", "reference"), ("double", "reference-double")):
        if reference_checkpoint_path(variant).is_file():
            names.append(name)
    return tuple(names)


def _generic_names(n: int) -> tuple[str, ...]:
    return tuple(f"class {i}" for i in range(n))


def _n_outputs(model: nn.Module, size: int) -> int:
    with torch.no_grad():
        out = model(torch.zeros(1, 3, size, size))
    if not isinstance(out, Tensor) or out.dim() != 2:
        raise ValueError(
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
        ValueError: the file is not a readable state_dict or checkpoint.
    """
    p = Path(path)
    loaded = read_torch_file(
        p, "a state_dict or checkpoint (save `model.state_dict()` with torch.save)"
    )
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{p} holds a {type(loaded).__name__}, expected a state_dict (a dict)")
    checkpoint = dict(loaded)
    state: Any = checkpoint
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(checkpoint.get(key), Mapping):
            state = checkpoint[key]
            break
    tensors = {str(k): v for k, v in state.items() if isinstance(v, Tensor)}
    if not tensors:
        raise ValueError(f"{p} holds no tensors; expected a state_dict")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors, checkpoint


def _load_into(model: nn.Module, state: Mapping[str, Tensor], path: str | Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = "; ".join(lines[1:3]) if len(lines) > 1 else (lines[0] if lines else "")
        raise ValueError(f"weights in {path} do not fit the model: {detail}") from err


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
    )


def _reference(variant: str, weights: str | None, random_weights: bool) -> LoadedModel:
    from captum_nas.datasets import CLASS_NAMES, FLOWERS_NORMALIZER
    from captum_nas.models.reference import (
        FlowerCNN,
        reference_checkpoint_info,
        reference_checkpoint_path,
        reference_model,
    )

    name = "reference" if variant == "single" else f"reference-{variant}"
    names = CLASS_NAMES[variant]
    size = 128
    if weights is not None:
        state, checkpoint = read_state_dict(weights)
        meta = checkpoint.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        widths = meta.get("widths")
        n_out = int(meta.get("n_classes", len(names)))
        model = (
            FlowerCNN(n_out, widths=tuple(int(w) for w in widths)) if widths else FlowerCNN(n_out)
        )
        _load_into(model, state, weights)
        if meta.get("variant", variant) != variant:
            raise ValueError(
                f"{weights} holds a reference checkpoint of variant {meta.get('variant')!r}; "
                f"use --model reference{'-double' if meta.get('variant') == 'double' else ''}"
            )
        size = int(meta.get("image_size", size))
        return LoadedModel(model.eval(), FLOWERS_NORMALIZER, names, size, name)
    if random_weights:
        return LoadedModel(
            reference_model(variant, pretrained=False), FLOWERS_NORMALIZER, names, size, name
        )
    if not reference_checkpoint_path(variant).is_file():
        raise FileNotFoundError(
            f"--model {name}: no checkpoint is shipped in this installation "
            f"({reference_checkpoint_path(variant).name}); train one with `captum-nas "
            f"train-reference --variant {variant} --out PATH` and pass --weights PATH"
        )
    model = reference_model(variant)
    size = int(reference_checkpoint_info(variant).get("image_size", size))
    return LoadedModel(model, FLOWERS_NORMALIZER, names, size, name)


def _torchvision_names() -> list[str]:
    try:
        from torchvision import models
    except ImportError:  # pragma: no cover - depends on the environment
        return []
    return list(models.list_models(module=models))


def _last_linear_out(model: nn.Module, state: Mapping[str, Tensor]) -> int | None:
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        return None
    weight = state.get(f"{names[-1]}.weight")
    return int(weight.shape[0]) if weight is not None and weight.dim() == 2 else None


def _torchvision(name: str, weights: str | None, random_weights: bool) -> LoadedModel:
    from torchvision import models

    if weights is None and not random_weights:
        raise ValueError(
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
    return LoadedModel(model, IMAGENET_NORMALIZER, _class_names_for(n, checkpoint), size, name)


def _from_callable(spec: str, weights: str | None) -> LoadedModel:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"model spec {spec!r} must look like 'package.module:callable'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import module {module_name!r} of model {spec!r}: {err}") from err
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec!r} is not callable")
    result = obj()
    if isinstance(result, LoadedModel):
        loaded = result
    elif isinstance(result, nn.Module):
        loaded = LoadedModel(result, IMAGENET_NORMALIZER, (), 224, spec)
    else:
        raise TypeError(
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
    spec: str = "efficientnet-lite0",
    *,
    weights: str | Path | None = None,
    random_weights: bool = False,
    seed: int = 0,
) -> LoadedModel:
    """Load a classifier by spec (see the module docstring).

    Args:
        spec: ``efficientnet-lite0``, ``reference``, ``reference-double``, a torchvision
            architecture name, or ``module:callable``.
        weights: path of a state_dict or checkpoint (not for ``efficientnet-lite0``).
        random_weights: random weights (torchvision names and the reference models):
            the same ``seed`` gives the same network.
        seed: seed of the random weights (and of anything random while building).

    Returns:
        A :class:`LoadedModel` whose model is in eval mode, on the CPU.

    Raises:
        ValueError: unknown spec, missing weights, or weights that do not fit.
        TypeError: a ``module:callable`` that is not callable or returns no model.
        FileNotFoundError: ``weights`` does not exist, or no checkpoint is shipped for
            the built-in model.

    Example:
        >>> loaded = load_model("efficientnet-lite0")
        >>> loaded.class_names[285]
        'Egyptian cat'
    """
    from captum_nas.attr.registry import seeded

    if not isinstance(spec, str) or not spec:
        raise ValueError(f"model spec must be a non-empty string, got {spec!r}")
    if weights is not None and random_weights:
        raise ValueError("give either --weights or --random-weights, not both")
    path = None if weights is None else str(weights)
    with seeded(seed):
        if spec == "efficientnet-lite0":
            if path is not None or random_weights:
                raise ValueError(
                    "--weights / --random-weights are not used with the built-in model "
                    "'efficientnet-lite0' (its weights ship with the package)"
                )
            loaded = _efficientnet_lite0()
        elif spec in ("reference", "reference-double"):
            loaded = _reference("single" if spec == "reference" else "double", path, random_weights)
        elif ":" in spec:
            loaded = _from_callable(spec, path)
        elif spec in _torchvision_names():
            loaded = _torchvision(spec, path, random_weights)
        else:
            raise ValueError(
                f"unknown model {spec!r}; use {', '.join(available_models())}, a torchvision "
                "architecture name (e.g. resnet18 with --weights PATH) or 'module:callable'"
            )
    if path is not None:
        loaded.weights = path
        loaded.weights_sha256 = file_sha256(path)
    loaded.random_weights = bool(random_weights)
    loaded.seed = seed
    return loaded


def resolve_device(spec: str | torch.device) -> torch.device:
    """The torch device named ``spec``, checked to exist on this machine.

    Raises:
        ValueError: the name is not a device, or names a CUDA/MPS device that is absent.
    """
    try:
        device = torch.device(spec)
    except RuntimeError as err:
        raise ValueError(f"bad device {spec!r}: {err}") from None
    if device.type == "cuda" and (
        not torch.cuda.is_available()
        or (device.index is not None and device.index >= torch.cuda.device_count())
    ):
        raise ValueError(
            f"device {str(spec)!r}: CUDA is not available here "
            f"({torch.cuda.device_count()} CUDA devices); use cpu"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {str(spec)!r}: MPS is not available here; use cpu")
    return device
