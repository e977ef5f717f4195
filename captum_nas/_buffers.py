"""Buffers of a model recorded and put back: the model-state guard leaves no trace in
BatchNorm running statistics (see :func:`captum_nas._model_state.preserved_model_state`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def snapshot_buffers(model: nn.Module) -> Callable[[], None]:
    """Record every buffer of ``model``; the returned function puts them back.

    Captum runs the model as the user left it, so a submodule in train mode (BatchNorm)
    updates its running statistics and ``num_batches_tracked`` on every perturbed
    input. The restore function copies the recorded values back into the same tensor
    objects (only where they changed, so autograd graphs that saved an unchanged
    buffer stay valid), puts back buffers that were replaced or deleted, and deletes
    buffers that were added.

    Args:
        model: the module whose buffers (of all submodules) to record.

    Returns:
        A function without arguments that restores the buffers.

    Example:
        >>> bn = torch.nn.BatchNorm1d(2).train()
        >>> restore = snapshot_buffers(bn)
        >>> _ = bn(torch.randn(4, 2))
        >>> restore()
        >>> int(bn.num_batches_tracked), bn.running_mean.tolist()
        (0, [0.0, 0.0])
    """
    saved = [
        (
            module,
            {
                name: (buf, None if buf is None else buf.detach().clone())
                for name, buf in module._buffers.items()
            },
        )
        for module in model.modules()
    ]

    def restore() -> None:
        with torch.no_grad():
            for module, entries in saved:
                current = module._buffers
                for name in [k for k in current if k not in entries]:
                    del current[name]
                for name, (buf, value) in entries.items():
                    if buf is not None and value is not None and not torch.equal(buf, value):
                        if buf.is_inference():
                            with torch.inference_mode():
                                buf.copy_(value)
                        else:
                            buf.copy_(value)
                    current[name] = buf

    return restore


__all__ = ["snapshot_buffers"]
