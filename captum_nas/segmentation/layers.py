"""Choice of the layers whose activations NAS clusters.

``auto_layers`` runs one probe forward and records every module call with its input
and output resolution and its enclosing calls. For each spatial resolution produced
by downsampling the input (``floor`` or ``ceil`` of ``H / 2**k``, k >= 1, 1x1 excluded)
it keeps the last call producing it, where a call is eligible when

* it is the module's last call in the forward (so a hook records that tensor),
* no enclosing block runs at that resolution only as its input side (e.g. the first
  1x1 convolution of a strided ResNet bottleneck is not a stage output),
* no enclosing resolution-preserving block has it as an internal other shape
  (padding layers, channels-last permutes).

On torchvision ResNet/VGG/MobileNet/EfficientNet/ConvNeXt/DenseNet and on
EfficientNet-Lite this gives the natural stage outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from captum_nas._model_state import preserved_model_state, resolve_layer


@dataclass
class _Call:
    name: str
    parent: int | None
    res_in: tuple[int, int] | None = None
    res_out: tuple[int, int] | None = None
    children: list[int] = field(default_factory=list)


def _res(obj: object) -> tuple[int, int] | None:
    if isinstance(obj, (tuple, list)):
        obj = obj[0] if obj else None
    if isinstance(obj, Tensor) and obj.dim() == 4:
        return int(obj.shape[-2]), int(obj.shape[-1])
    return None


def _probe_calls(model: nn.Module, probe: Tensor) -> list[_Call]:
    calls: list[_Call] = []
    stack: list[int] = []
    handles = []

    def pre_hook(name: str) -> Callable[[nn.Module, tuple[object, ...]], None]:
        def hook(_m: nn.Module, args: tuple[object, ...]) -> None:
            parent = stack[-1] if stack else None
            calls.append(_Call(name, parent, res_in=_res(args)))
            if parent is not None:
                calls[parent].children.append(len(calls) - 1)
            stack.append(len(calls) - 1)

        return hook

    def post_hook(_m: nn.Module, _args: object, out: object) -> None:
        index = stack.pop()
        calls[index].res_out = _res(out)

    with preserved_model_state(model):
        try:
            for name, module in model.named_modules():
                if name:
                    handles.append(module.register_forward_pre_hook(pre_hook(name)))
                    handles.append(module.register_forward_hook(post_hook))
            model.eval()
            with torch.no_grad():
                model(probe)
        finally:
            for h in handles:
                h.remove()
    return calls


def _downsampled_sizes(size: int) -> set[int]:
    out: set[int] = set()
    k = 1
    while size / 2**k >= 1:
        out.add(size // 2**k)
        out.add(-(-size // 2**k))
        k += 1
    return out


def auto_layers(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> list[str]:
    """Names of the stage outputs of ``model`` for inputs of shape (C, H, W).

    Args:
        model: the classifier.
        input_shape: (C, H, W) of one input image.
        device: device of the probe (default: the model's parameters' device).
        dtype: dtype of the probe.

    Returns:
        Dotted names ordered from the finest resolution to the coarsest.

    Raises:
        ValueError: the model produces no 4-D activation at a downsampled resolution
            other than 1x1.

    Example:
        >>> import torchvision
        >>> auto_layers(torchvision.models.resnet50(), (3, 224, 224))
        ['relu', 'layer1', 'layer2', 'layer3', 'layer4']
    """
    c, h, w = (int(s) for s in input_shape)
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    calls = _probe_calls(model, torch.zeros(1, c, h, w, device=device, dtype=dtype))
    ok_h, ok_w = _downsampled_sizes(h), _downsampled_sizes(w)
    last_call = {call.name: i for i, call in enumerate(calls)}

    def eligible(i: int) -> bool:
        call = calls[i]
        res = call.res_out
        if res is None or res == (1, 1) or res[0] not in ok_h or res[1] not in ok_w:
            return False
        if last_call[call.name] != i:
            return False
        parent = call.parent
        while parent is not None:
            anc = calls[parent]
            if anc.res_in is not None and anc.res_out is not None:
                if anc.res_in != anc.res_out and res == anc.res_in:
                    return False
                if anc.res_in == anc.res_out and res != anc.res_out:
                    return False
            parent = anc.parent
        return True

    # completion order: a container's output hook fires after its children
    finished: list[int] = []
    _post_order(calls, finished)
    best: dict[tuple[int, int], str] = {}
    for i in finished:
        if eligible(i):
            res_out = calls[i].res_out
            assert res_out is not None
            best[res_out] = calls[i].name
    if not best:
        raise ValueError(
            f"model has no spatial activations for inputs of shape {(c, h, w)}: no module "
            "outputs a 4-D tensor at a downsampled resolution larger than 1x1; pass "
            "`layers=` explicitly or use larger images"
        )
    names: list[str] = []
    for _res_key, name in sorted(best.items(), key=lambda kv: -(kv[0][0] * kv[0][1])):
        if name not in names:
            names.append(name)
    return names


def _post_order(calls: list[_Call], out: list[int]) -> None:
    roots = [i for i, call in enumerate(calls) if call.parent is None]
    stack: list[tuple[int, bool]] = [(i, False) for i in reversed(roots)]
    while stack:
        i, expanded = stack.pop()
        if expanded:
            out.append(i)
            continue
        stack.append((i, True))
        stack.extend((child, False) for child in reversed(calls[i].children))


def resolve_layers(model: nn.Module, layers: Sequence[str | nn.Module]) -> list[nn.Module]:
    """Modules of ``model`` named (or given) in ``layers``; errors list close names.

    Internal to NAS (not re-exported from :mod:`captum_nas.segmentation`); the
    signature may change.
    """
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    if len(layers) == 0:
        raise ValueError("`layers` is empty: give at least one layer or 'auto'")
    return [resolve_layer(model, layer, "layers") for layer in layers]
