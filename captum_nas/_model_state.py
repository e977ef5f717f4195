"""Model-state safety: activation capture on named layers, restored state after any call.

Two reusable pieces:

* :func:`preserved_model_state` snapshots train/eval mode, ``requires_grad`` flags, the
  hook dictionaries and the attribute names of every submodule, and restores all of
  them on exit, also when an exception escapes.
* :class:`ActivationCapture` registers forward hooks on chosen layers, records their
  outputs and removes the hooks on exit.

Concurrency: every model has one re-entrant lock (:func:`model_lock`), held for the
whole of a :func:`preserved_model_state` block. Calls that guard the same model (NAS,
the NAS* classes, in any number of threads) therefore run one at a time on that
model, each seeing and restoring the state the user left, and a thread may nest
guards on the model it already holds. Different models run in parallel. The
state a guarded call changes (train/eval mode, hooks, Captum's temporary attributes,
LRP's weights) is shared by every thread using the model, so serialising the calls is
what keeps each one correct; for parallel work on one architecture, give each thread
its own copy of the model. :class:`ActivationCapture` records only the forward passes
run by the thread that entered it, so a forward of the same model in another thread
(the user's own code, outside any guard) never lands in its record.
"""

from __future__ import annotations

import difflib
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from captum_nas._buffers import snapshot_buffers

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_pre_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_state_dict_hooks",
)


_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The re-entrant lock of ``model``, created on first use (one per model object).

    :func:`preserved_model_state` holds it for its whole block; it is dropped with the
    model (weak reference).

    Example:
        >>> model_lock(model) is model_lock(model)
        True
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = threading.RLock()
            _LOCKS[model] = lock
        return lock


@contextmanager
def preserved_model_state(model: nn.Module) -> Iterator[nn.Module]:
    """Restore modes, ``requires_grad`` flags, hooks and attributes of ``model`` on exit.

    Hooks present on entry are kept; any hook added inside the block and not removed
    is removed on exit. Tensor hooks on parameters are left alone. Attributes that code
    inside the block added to a submodule are deleted, and those it deleted are put
    back (Captum's DeepLift leaves ``input``/``output`` tensors on modules when an
    exception escapes, its LRP leaves ``activations`` on every layer and deletes
    rules the user had set); attributes that existed before keep their current value.

    The block holds :func:`model_lock` of ``model``: guarded blocks on the same model
    in other threads wait until it ends (the same thread may nest them), so each block
    snapshots the state the user left and no other call can change it meanwhile.

    Args:
        model: the module to protect.

    Returns:
        A context manager yielding ``model``.

    Example:
        >>> with preserved_model_state(model):
        ...     _ = model.train()
        >>> model.training  # as before the block
        False
    """
    with model_lock(model):
        modules = list(model.modules())
        modes = [m.training for m in modules]
        params = list(model.parameters())
        flags = [p.requires_grad for p in params]
        # the hook dicts are instance attributes: read from ``vars`` (``getattr`` on a
        # module is several times slower), and the same copy of ``vars`` serves both
        attributes = [dict(vars(m)) for m in modules]
        hook_keys = [
            {attr: set(saved[attr]) for attr in _HOOK_DICTS if attr in saved}
            for saved in attributes
        ]
        restore_buffers = snapshot_buffers(model)  # BatchNorm statistics, also in train mode
        try:
            yield model
        finally:
            restore_buffers()
            for m, saved in zip(modules, attributes):
                current = vars(m)
                for key in [k for k in current if k not in saved]:
                    del current[key]
                for key, value in saved.items():
                    current.setdefault(key, value)
            for m, mode in zip(modules, modes):
                if m.training != mode:  # Module.__setattr__ is slow: only where changed
                    m.training = mode
            for p, flag in zip(params, flags):
                if p.requires_grad != flag:
                    p.requires_grad_(flag)
            for m, keys in zip(modules, hook_keys):
                for attr, before in keys.items():
                    hooks = vars(m)[attr]
                    for key in [k for k in hooks if k not in before]:
                        del hooks[key]


def named_module_lookup(model: nn.Module) -> dict[str, nn.Module]:
    """Map of dotted names to submodules (the root is ``""``)."""
    return dict(model.named_modules())


def resolve_layer(model: nn.Module, layer: str | nn.Module, name: str = "layers") -> nn.Module:
    """Return the submodule of ``model`` named by ``layer`` (a dotted name or a module).

    Raises:
        ValueError: the name is unknown (the message lists close valid names) or the
            module is not part of ``model``.
    """
    lookup = named_module_lookup(model)
    if isinstance(layer, str):
        if layer in lookup and layer != "":
            return lookup[layer]
        close = difflib.get_close_matches(layer, [k for k in lookup if k], n=5, cutoff=0.5)
        hint = f"; close valid names: {close}" if close else ""
        raise ValueError(f"`{name}`: model has no layer named {layer!r}{hint}")
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in lookup.values()):
            raise ValueError(
                f"`{name}`: module {type(layer).__name__} is not a submodule of the model"
            )
        return layer
    raise TypeError(f"`{name}` entries must be dotted names or nn.Module, got {type(layer)}")


def layer_name(model: nn.Module, layer: nn.Module) -> str:
    """Dotted name of ``layer`` inside ``model``."""
    for key, module in model.named_modules():
        if module is layer:
            return key or "<model>"
    return type(layer).__name__


def _first_tensor(output: Any) -> Tensor | None:
    if isinstance(output, Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    return None


class ActivationCapture:
    """Record the outputs of chosen layers during forward passes.

    Use as a context manager: hooks are registered on enter and always removed on
    exit. When a layer runs several times in one forward, its last output is kept.
    Only forward passes run by the thread that entered the context are recorded: a
    forward of the same layers in another thread at the same time is ignored.

    Args:
        layers: modules whose outputs to record.
        detach: detach recorded tensors from the graph.

    Example:
        >>> with ActivationCapture([model.layer1, model.layer2]) as cap:
        ...     _ = model(images)
        >>> [tuple(a.shape) for a in cap.outputs]
        [(2, 16, 8, 8), (2, 32, 4, 4)]
    """

    def __init__(self, layers: Sequence[nn.Module], *, detach: bool = True) -> None:
        self.layers = list(layers)
        self.detach = detach
        self._store: dict[int, Tensor] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._thread: int | None = None

    def _hook(self, index: int) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if threading.get_ident() != self._thread:
                return  # another thread's forward through the same layer
            tensor = _first_tensor(output)
            if tensor is not None:
                self._store[index] = tensor.detach() if self.detach else tensor

        return hook

    def __enter__(self) -> ActivationCapture:
        self._store.clear()
        self._thread = threading.get_ident()
        try:
            for i, layer in enumerate(self.layers):
                self._handles.append(layer.register_forward_hook(self._hook(i)))
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Remove all hooks (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    @property
    def outputs(self) -> list[Tensor]:
        """Recorded outputs in the order of ``layers``.

        Raises:
            RuntimeError: a layer did not run during the forward pass.
        """
        missing = [i for i in range(len(self.layers)) if i not in self._store]
        if missing:
            names = [type(self.layers[i]).__name__ for i in missing]
            raise RuntimeError(f"layers {names} produced no tensor output during the forward")
        return [self._store[i] for i in range(len(self.layers))]
