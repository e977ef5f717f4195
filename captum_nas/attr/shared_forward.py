"""One forward for the attribution and the segmenter: capture NAS's activations in passing.

Most attributions run the model on the unmodified inputs once (Saliency, InputXGradient,
GuidedBackprop, Deconvolution, LRP and the layer methods such as GradCAM; DeepLift with
the baselines appended to the same batch; Occlusion's reference pass; Integrated
Gradients when one of its steps sits at alpha = 1 on a zero baseline). NAS needs
exactly the activations of that forward. :class:`CleanForwardCapture` hooks the NAS
layers for the duration of one ``attribute`` call and keeps their outputs from the first
forward of the model whose input *is* the inputs (the same values, as a whole batch or as
one aligned block of N images of a larger batch), so NAS does not run a forward of its
own. Hooks are always removed on exit; nothing is kept from other forwards.

Exactness: activations taken from a forward of exactly the inputs' batch are bitwise the
ones NAS's own forward computes (same kernels; the no-grad mode does not change the
arithmetic), so the segments are equal. Activations cut out of a larger batch (DeepLift's
[inputs; baselines], Integrated Gradients' steps) are equal as long as the backend's
per-image result does not depend on the batch size; on CPU this held for a batch of 2N
on ResNet-18 and EfficientNet-Lite0 but not for every batch size, so a border pixel can
in rare cases change. Set ``share_forward=False`` on the wrapper to always segment with
NAS's own forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from captum_nas._model_state import ActivationCapture

#: elements compared before a full comparison of a candidate block (a cheap filter)
_PROBE = 4096


def _probe(t: Tensor) -> Tensor:
    flat = t.reshape(t.shape[0], -1)
    step = max(1, flat.shape[1] // _PROBE)
    return flat[:, ::step]


def matching_block(candidate: Any, inputs: Tensor) -> int | None:
    """Index j of the block ``candidate[j*N:(j+1)*N]`` equal to ``inputs`` (N, ...), or None.

    ``candidate`` matches when it has the inputs' trailing shape, dtype and device and a
    batch that is a multiple of N, and one aligned block of N rows holds exactly the
    inputs' values (the first such block).

    Example:
        >>> x = torch.arange(6.0).reshape(2, 3)
        >>> matching_block(torch.cat([torch.zeros(2, 3), x]), x)
        1
        >>> matching_block(x + 1, x) is None
        True
    """
    if not isinstance(candidate, Tensor) or candidate.dim() != inputs.dim():
        return None
    if candidate.shape[1:] != inputs.shape[1:] or candidate.dtype != inputs.dtype:
        return None
    if candidate.device != inputs.device:
        return None
    n, b = inputs.shape[0], candidate.shape[0]
    if n == 0 or b % n != 0:
        return None
    with torch.no_grad():
        if candidate is inputs:
            return 0
        probe = _probe(inputs)
        for j in range(b // n):
            block = candidate[j * n : (j + 1) * n]
            if torch.equal(_probe(block), probe) and torch.equal(block, inputs):
                return j
    return None


class CleanForwardCapture(ActivationCapture):
    """Record the outputs of ``layers`` during the first forward of ``model`` on ``inputs``.

    A context manager: on entry, forward hooks go on ``layers`` (buffering each forward's
    outputs) and on ``model`` (which, after each forward, checks the input the model
    actually received, after any pre-hooks such as DeepLift's, against ``inputs``); on
    exit all hooks are removed. After the block, :attr:`activations` holds the layers'
    outputs (N, ...) for the inputs, or ``None`` when no forward ran on them.

    Args:
        model: the module whose forward is watched.
        layers: submodules whose outputs are recorded (NAS's layers).
        inputs: the unmodified inputs (N, C, H, W).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
        >>> x = torch.randn(2, 3, 8, 8)
        >>> with CleanForwardCapture(net, [net[0]], x) as cap:
        ...     _ = net(torch.zeros_like(x))  # not the inputs: ignored
        ...     _ = net(x)
        >>> torch.equal(cap.activations[0], net[0](x))
        True
    """

    def __init__(self, model: nn.Module, layers: Sequence[nn.Module], inputs: Tensor) -> None:
        super().__init__(layers)
        self.model = model
        self.inputs = inputs
        self.activations: list[Tensor] | None = None

    def _hook(self, index: int) -> Any:
        record = super()._hook(index)  # buffers each forward's outputs in ``_store``

        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if self.activations is None:
                record(module, args, output)

        return hook

    def _model_hook(self, _module: nn.Module, args: Any, _output: Any) -> None:
        pending, self._store = self._store, {}
        if self.activations is not None or not args or len(pending) != len(self.layers):
            return
        j = matching_block(args[0], self.inputs)
        if j is None:
            return
        n = self.inputs.shape[0]
        acts = [pending[i] for i in range(len(self.layers))]
        if any(a.dim() == 0 or a.shape[0] != args[0].shape[0] for a in acts):
            return  # a layer whose output is not per image: leave it to NAS's own forward
        if args[0].shape[0] != n:  # a block of a larger batch: keep only that block
            acts = [a[j * n : (j + 1) * n].clone() for a in acts]
        self.activations = acts

    def __enter__(self) -> CleanForwardCapture:
        super().__enter__()
        try:
            self._handles.append(self.model.register_forward_hook(self._model_hook))
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Remove all hooks and drop buffered outputs (idempotent)."""
        super().remove()
        self._store = {}
