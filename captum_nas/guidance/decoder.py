"""The tied-weight LRP decoder of a classifier: differentiable heatmaps of every class.

:class:`LRPDecoder` reads a classifier's layers once (a traced forward pass) and runs
its own forward through them, saving what LRP needs; the relevance pass then runs the
layers backwards as a decoder that shares the classifier's weights:

============================================  ==============================================
classifier layer                              decoder step (relevance)
============================================  ==============================================
``nn.Linear``                                 transposed linear (``s @ W``), no bias
``nn.Conv2d``                                 transposed convolution, same kernel, no bias
``nn.MaxPool2d``                              unpooling with the forward's indices
``nn.AvgPool2d``, ``nn.AdaptiveAvgPool2d``    adjoint of the average pooling
``nn.BatchNorm1d/2d``                         element-wise rescaling
``nn.ReLU``, ``nn.Dropout``, ``nn.Identity``  relevance passes unchanged
``nn.Flatten`` (or ``torch.flatten``)         reshape back
torchvision ``BasicBlock``, ``Bottleneck``    relevance split between the residual branch
                                              and the skip in proportion to their
                                              contributions, then both decoded and summed
============================================  ==============================================

The classifier's ``forward`` must be a chain of these layers (containers are followed;
reshapes between layers are allowed). The decoder checks this on its first call: an
unsupported layer raises a ``TypeError`` naming it, and a forward that is not such a
chain (a functional residual, a layer used twice) raises a ``ValueError``.

Example:
    >>> import torch.nn.functional as F
    >>> decoder = LRPDecoder(model)                       # LRP-epsilon, bias detached
    >>> out = decoder(images)                             # all classes
    >>> out.heatmaps.shape                                # (N, n_classes, H, W)
    torch.Size([2, 5, 32, 32])
    >>> pixel_labels = torch.randint(0, 5, (2, 32, 32))   # a class for every pixel
    >>> loss = F.cross_entropy(out.heatmaps, pixel_labels)  # trains the classifier
    >>> loss.backward()
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_nas._model_state import preserved_model_state
from captum_nas._validation import check_image_batch, check_tensor, describe
from captum_nas.guidance.lrp import (
    DEFAULT_EPSILON,
    LRPRule,
    affine_relevance,
    linear_adjoint,
    pool_relevance,
    scaled_relevance,
    stabilize,
    unpool,
)

try:  # torchvision is a dependency, but keep the decoder importable without it
    from torchvision.models.resnet import BasicBlock, Bottleneck

    _BLOCKS: tuple[type[nn.Module], ...] = (BasicBlock, Bottleneck)
except ImportError:  # pragma: no cover - depends on the environment
    _BLOCKS = ()

_PASS_THROUGH = (nn.ReLU, nn.Dropout, nn.Identity)
_LEAVES = (
    nn.Linear,
    nn.Conv2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Flatten,
    *_PASS_THROUGH,
)

#: Layer types the decoder handles (torchvision's residual blocks included when installed).
SUPPORTED_LAYERS: tuple[type[nn.Module], ...] = (*_LEAVES, *_BLOCKS)


# ----------------------------------------------------------------------------- steps
class _Step:
    """One classifier layer: forward (saving what LRP needs) and relevance backwards."""

    #: the decoder operation of this step, unless :attr:`decoder_op` computes it
    _op: ClassVar[str] = "identity"

    def __init__(self, name: str, module: nn.Module) -> None:
        self.name = name
        self.module = module

    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        """Run the layer; save its input and output for the relevance pass."""
        z = self.module(x)
        return z, (x, z)

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        raise NotImplementedError

    @property
    def decoder_op(self) -> str:
        """What the decoder does at this step (one line, for listings of the steps)."""
        return self._op


class _Linear(_Step):
    module: nn.Linear

    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        shape = x.shape[1:]
        if x.dim() > 2:  # a flatten written in the model's forward()
            x = torch.flatten(x, 1)
        z = self.module(x)
        return z, (x, z, shape)

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        x, z, shape = saved
        m = self.module
        r_in = affine_relevance(
            x,
            z,
            r,
            m.weight,
            m.bias,
            lambda a, w: F.linear(a, w),
            lambda s, w: F.linear(s, w.t()),
            rule,
        )
        return r_in.reshape(*r_in.shape[:2], *shape)

    @property
    def decoder_op(self) -> str:
        return f"transposed linear {self.module.out_features}->{self.module.in_features}"


class _Conv(_Step):
    module: nn.Conv2d

    def __init__(self, name: str, module: nn.Conv2d) -> None:
        super().__init__(name, module)
        if module.padding_mode != "zeros":
            raise TypeError(
                f"layer {name!r} (Conv2d) uses padding_mode={module.padding_mode!r}; the LRP "
                "decoder supports only zero padding"
            )
        pad = module.padding
        if isinstance(pad, str):
            if pad == "valid":
                pad = (0, 0)
            else:  # "same": symmetric only for odd effective kernels and stride 1
                eff = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size)]
                if any(e % 2 for e in eff):
                    raise TypeError(
                        f"layer {name!r} (Conv2d) uses padding='same' with an even kernel "
                        "(asymmetric padding), which the LRP decoder does not support"
                    )
                pad = (eff[0] // 2, eff[1] // 2)
        self.padding: tuple[int, int] = (int(pad[0]), int(pad[1]))

    def _conv(self, a: Tensor, w: Tensor) -> Tensor:
        m = self.module
        return F.conv2d(a, w, None, m.stride, self.padding, m.dilation, m.groups)

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        x, z = saved
        m = self.module
        out_pad = tuple(
            x.shape[2 + i]
            - (
                (z.shape[2 + i] - 1) * m.stride[i]
                - 2 * self.padding[i]
                + m.dilation[i] * (m.kernel_size[i] - 1)
                + 1
            )
            for i in range(2)
        )

        def transpose(s: Tensor, w: Tensor) -> Tensor:
            return F.conv_transpose2d(
                s, w, None, m.stride, self.padding, out_pad, m.groups, m.dilation
            )

        bias = None if m.bias is None else m.bias.view(1, -1, 1, 1)
        return affine_relevance(x, z, r, m.weight, bias, self._conv, transpose, rule)

    @property
    def decoder_op(self) -> str:
        m = self.module
        return f"transposed conv {m.out_channels}->{m.in_channels} k={tuple(m.kernel_size)}"


class _BatchNorm(_Step):
    _op = "batch-norm rescaling"
    module: nn.BatchNorm2d

    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        m = self.module
        dims = [0, *range(2, x.dim())]
        if m.training or not m.track_running_stats or m.running_var is None:
            var = x.detach().var(dim=dims, unbiased=False)
        else:
            var = m.running_var
        z = m(x)
        shape = [1, -1] + [1] * (x.dim() - 2)
        return z, (x, z, var.view(shape))  # (1, C, ...): not indexed by `select`

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        x, z, var = saved
        m = self.module
        shape = [1, -1] + [1] * (x.dim() - 2)
        scale = torch.rsqrt(var + m.eps)
        if m.weight is not None:
            scale = m.weight.view(shape) * scale
        shift = None if m.bias is None else m.bias.view(shape)
        return scaled_relevance(x, z, r, scale, shift, rule)


class _MaxPool(_Step):
    _op = "unpooling with the forward's indices"
    module: nn.MaxPool2d

    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        m = self.module
        z, idx = F.max_pool2d(
            x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, return_indices=True
        )
        return z, (x, z, idx)

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        x, z, idx = saved
        return pool_relevance(x, z, r, lambda s: unpool(s, idx, x.shape), rule)


class _AvgPool(_Step):
    _op = "adjoint of average pooling"

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        x, z = saved
        m = self.module
        if isinstance(m, nn.AdaptiveAvgPool2d) and z.shape[-2:] == (1, 1):
            area = x.shape[-2] * x.shape[-1]

            def transpose(s: Tensor) -> Tensor:
                return (s / area).expand(*s.shape[:2], *x.shape[-2:])
        else:

            def transpose(s: Tensor) -> Tensor:
                return linear_adjoint(m, x, s)

        return pool_relevance(x, z, r, transpose, rule)


class _Flatten(_Step):
    _op = "reshape"
    module: nn.Flatten

    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        return self.module(x), x.shape[1:]

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        return r.reshape(*r.shape[:2], *saved)


class _PassThrough(_Step):
    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        if isinstance(self.module, nn.ReLU):
            return F.relu(x), None  # never in place: the saved activations must survive
        return self.module(x), None

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        return r


class _Residual(_Step):
    """torchvision ``BasicBlock`` / ``Bottleneck``: ``relu(main(x) + skip(x))``."""

    _op = "residual split (skip vs branch by contribution)"

    def __init__(self, name: str, module: nn.Module) -> None:
        super().__init__(name, module)
        names = ["conv1", "bn1", "relu", "conv2", "bn2"]
        if hasattr(module, "conv3"):
            names += ["relu", "conv3", "bn3"]
        self.main = [_make_step(f"{name}.{n}", getattr(module, n)) for n in names]
        down = getattr(module, "downsample", None)
        self.skip: list[_Step] = []
        if down is not None:
            layers = list(down) if isinstance(down, nn.Sequential) else [down]
            for i, layer in enumerate(layers):
                self.skip.append(_make_step(f"{name}.downsample.{i}", layer))

    def forward(self, x: Tensor) -> tuple[Tensor, Any]:
        main, main_saved = _run(self.main, x)
        skip, skip_saved = _run(self.skip, x)
        return F.relu(main + skip), (main, skip, main_saved, skip_saved)

    def relevance(self, r: Tensor, saved: Any, rule: LRPRule) -> Tensor:
        main, skip, main_saved, skip_saved = saved
        s = r / stabilize(main + skip, rule.epsilon).unsqueeze(0)
        r_main = _back(self.main, main_saved, main.unsqueeze(0) * s, rule)
        r_skip = _back(self.skip, skip_saved, skip.unsqueeze(0) * s, rule)
        return r_main + r_skip


def _run(steps: Sequence[_Step], x: Tensor) -> tuple[Tensor, list[Any]]:
    saved = []
    for step in steps:
        x, s = step.forward(x)
        saved.append(s)
    return x, saved


def _back(steps: Sequence[_Step], saved: Sequence[Any], r: Tensor, rule: LRPRule) -> Tensor:
    for step, s in zip(reversed(steps), reversed(saved)):
        r = step.relevance(r, s, rule)
    return r


def _make_step(name: str, module: nn.Module) -> _Step:
    if _BLOCKS and isinstance(module, _BLOCKS):
        return _Residual(name, module)
    if isinstance(module, nn.Linear):
        return _Linear(name, module)
    if isinstance(module, nn.Conv2d):
        return _Conv(name, module)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _BatchNorm(name, module)
    if isinstance(module, nn.MaxPool2d):
        return _MaxPool(name, module)
    if isinstance(module, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return _AvgPool(name, module)
    if isinstance(module, nn.Flatten):
        return _Flatten(name, module)
    if isinstance(module, _PASS_THROUGH):
        return _PassThrough(name, module)
    supported = ", ".join(t.__name__ for t in SUPPORTED_LAYERS)
    raise TypeError(
        f"layer {name!r} ({type(module).__name__}) is not supported by the LRP decoder; "
        f"supported layers: {supported}"
    )


def _units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf modules and residual blocks (not descended into), in registration order."""
    out: list[tuple[str, nn.Module]] = []

    def visit(prefix: str, module: nn.Module) -> None:
        children = list(module.named_children())
        if (_BLOCKS and isinstance(module, _BLOCKS)) or not children:
            out.append((prefix, module))
            return
        for child_name, child in children:
            visit(f"{prefix}.{child_name}" if prefix else child_name, child)

    visit("", model)
    return out


def trace_steps(model: nn.Module, example: Tensor) -> list[_Step]:
    """The chain of decoder steps of ``model``, read from one forward pass on ``example``.

    The model runs once in eval mode without gradients (its state is restored). The
    layers that ran, in the order they ran, become the steps; a layer that is not
    supported raises ``TypeError`` naming it, a layer that ran twice raises
    ``ValueError``.
    """
    units = _units(model)
    order: list[int] = []
    handles = []
    with preserved_model_state(model), torch.no_grad():
        model.eval()
        for i, (_, module) in enumerate(units):
            handles.append(module.register_forward_pre_hook(lambda *_, i=i: order.append(i)))
        try:
            model(example)
        finally:
            for h in handles:
                h.remove()
    seen: set[int] = set()
    steps = []
    for i in order:
        name, module = units[i]
        if i in seen:
            raise ValueError(
                f"layer {name!r} ({type(module).__name__}) runs more than once in the forward "
                "pass; the LRP decoder needs every layer to run once (use separate modules)"
            )
        seen.add(i)
        steps.append(_make_step(name or type(module).__name__, module))
    if not steps:
        raise ValueError("the model ran no layer during its forward pass")
    return steps


# --------------------------------------------------------------------------- decoder
@dataclass(frozen=True)
class LRPOutput:
    """Result of :meth:`LRPDecoder.forward`.

    Attributes:
        logits: (N, n_classes) classifier outputs of the decoder's own forward pass
            (with the autograd graph: use them for the classification loss).
        relevance: (N, K, C, H, W) relevance of each explained class per input channel.
        classes: (N, K) class explained by each heatmap.
    """

    logits: Tensor
    relevance: Tensor
    classes: Tensor

    @property
    def heatmaps(self) -> Tensor:
        """(N, K, H, W) heatmaps: relevance summed over input channels."""
        return self.relevance.sum(2)


class LRPDecoder(nn.Module):
    """Differentiable LRP heatmaps of a classifier: its tied-weight decoder.

    The classifier is the decoder's only submodule, so ``decoder.parameters()`` are the
    classifier's parameters and a loss on the heatmaps trains the classifier. The
    classifier is used as it is (train or eval mode, requires_grad flags): the decoder
    changes no state of it except what its own layers do in train mode (batch-norm
    running statistics, once per forward pass, as a normal forward would).

    Args:
        model: the classifier, a chain of :data:`SUPPORTED_LAYERS` returning (N, classes).
        rule: ``"epsilon"`` (default) or ``"alpha-beta"``, or an :class:`LRPRule`.
        epsilon: stabiliser of the epsilon rule (and of the alpha-beta denominators).
        alpha: alpha of the alpha-beta rule (``beta = alpha - 1``).
        detach_bias: biases enter the epsilon rule's denominators without gradient.

    Example:
        >>> decoder = LRPDecoder(model, epsilon=1e-6)
        >>> out = decoder(images, classes=[0, 3])   # heatmaps of classes 0 and 3
        >>> out.heatmaps.shape
        torch.Size([2, 2, 32, 32])
        >>> decoder(images, target=labels).heatmaps.shape   # one class per image
        torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        rule: str | LRPRule = "epsilon",
        epsilon: float = DEFAULT_EPSILON,
        alpha: float = 1.0,
        detach_bias: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be an nn.Module, got {describe(model)}")
        if isinstance(rule, LRPRule):
            self.rule = rule
        elif isinstance(rule, str):
            self.rule = LRPRule(
                rule,
                epsilon=epsilon,
                alpha=alpha if rule == "alpha-beta" else 1.0,
                beta=(alpha - 1.0) if rule == "alpha-beta" else 0.0,
                detach_bias=detach_bias,
            )
        else:
            raise TypeError(f"`rule` must be a str or an LRPRule, got {describe(rule)}")
        self.classifier = model
        self._steps: list[_Step] | None = None

    def steps(self, example: Tensor | None = None) -> list[tuple[str, str, str]]:
        """The decoder's steps as ``(layer name, layer type, decoder operation)``, input first.

        Args:
            example: an input batch to trace with (needed before the first call).
        """
        if self._steps is None:
            if example is None:
                raise ValueError("`example` is needed: the decoder has not traced the model yet")
            self._trace(example)
        assert self._steps is not None
        return [(s.name, type(s.module).__name__, s.decoder_op) for s in self._steps]

    def _trace(self, inputs: Tensor) -> None:
        steps = trace_steps(self.classifier, inputs[:2])
        with preserved_model_state(self.classifier), torch.no_grad():
            self.classifier.eval()
            expected = self.classifier(inputs[:2])
            try:
                got, _ = _run(steps, inputs[:2])
            except RuntimeError as err:
                raise ValueError(
                    "the classifier's forward is not a plain chain of its layers: running "
                    f"them in order fails ({str(err).splitlines()[0]})"
                ) from err
        if not isinstance(expected, Tensor) or expected.dim() != 2:
            raise ValueError(
                f"the classifier must return logits of shape (N, classes), got {describe(expected)}"
            )
        if got.shape != expected.shape or not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            raise ValueError(
                "the classifier's forward is not a plain chain of its layers (it adds, "
                "concatenates or transforms tensors between layers, e.g. a residual written "
                "in forward()); the LRP decoder supports chains of "
                f"{', '.join(t.__name__ for t in SUPPORTED_LAYERS)}"
            )
        self._steps = steps

    def _top_relevance(
        self, logits: Tensor, classes: Sequence[int] | Tensor | None, target: Any
    ) -> tuple[Tensor, Tensor]:
        n, n_out = logits.shape
        if classes is not None and target is not None:
            raise ValueError("pass either `classes` or `target`, not both")
        if target is not None:
            from captum_nas._validation import check_target

            t = check_target(target, n, device=logits.device)
            assert t is not None
            if int(t.max()) >= n_out:
                raise ValueError(f"`target` holds class {int(t.max())}, the model has {n_out}")
            chosen = t.view(n, 1)
        else:
            if classes is None:
                ids = list(range(n_out))
            elif isinstance(classes, Tensor):
                ids = [int(v) for v in classes.reshape(-1).tolist()]
            elif isinstance(classes, Sequence) and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in classes
            ):
                ids = [int(v) for v in classes]
            else:
                raise TypeError(
                    f"`classes` must be None, a sequence of ints or a tensor, got "
                    f"{describe(classes)}"
                )
            if not ids:
                raise ValueError("`classes` is empty")
            bad = [c for c in ids if not 0 <= c < n_out]
            if bad:
                raise ValueError(f"`classes` must be in [0, {n_out}), got {bad}")
            chosen = torch.tensor(ids, device=logits.device).view(1, -1).expand(n, -1)
        onehot = F.one_hot(chosen.t(), n_out).to(logits.dtype)  # (K, N, n_out)
        return onehot * logits.unsqueeze(0), chosen

    def forward(
        self,
        inputs: Tensor,
        classes: Sequence[int] | Tensor | None = None,
        *,
        target: Any = None,
    ) -> LRPOutput:
        """Logits and the LRP heatmaps of chosen classes, with the autograd graph kept.

        Args:
            inputs: (N, C, H, W) batch.
            classes: classes to explain for every image (default: all outputs).
            target: alternatively, one class per image (int, sequence or (N,) tensor):
                gives K = 1 heatmap per image.

        Returns:
            An :class:`LRPOutput`; its relevance of class ``k`` starts as the class logit
            (so the heatmap sums to the logit, up to the relevance absorbed by biases and
            epsilon).
        """
        check_image_batch(inputs, "inputs")
        if self._steps is None:
            self._trace(inputs)
        assert self._steps is not None
        logits, saved = _run(self._steps, inputs)
        return self.relevance_from(logits, saved, inputs, classes=classes, target=target)

    def run_forward(self, inputs: Tensor) -> tuple[Tensor, list[Any]]:
        """The decoder's forward pass only: logits and the saved activations.

        Use with :meth:`relevance_from` to compute heatmaps of several class groups
        (e.g. one class at a time) from one forward pass.
        """
        check_image_batch(inputs, "inputs")
        if self._steps is None:
            self._trace(inputs)
        assert self._steps is not None
        return _run(self._steps, inputs)

    @staticmethod
    def select(saved: list[Any], index: Tensor, batch_size: int) -> list[Any]:
        """The saved activations of :meth:`run_forward` restricted to images ``index``.

        Heatmaps are then computed for those images only (e.g. the pixel-labelled ones
        of a training batch), with ``relevance_from(logits[index], selected, inputs[index])``.
        """
        check_tensor(index, "index")

        def pick(value: Any) -> Any:
            if isinstance(value, Tensor):
                return value[index] if value.dim() > 0 and value.shape[0] == batch_size else value
            if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
                return type(value)(pick(v) for v in value)
            return value

        return [pick(v) for v in saved]

    def relevance_from(
        self,
        logits: Tensor,
        saved: list[Any],
        inputs: Tensor,
        *,
        classes: Sequence[int] | Tensor | None = None,
        target: Any = None,
    ) -> LRPOutput:
        """Heatmaps from a forward pass made by :meth:`run_forward` (see :meth:`forward`)."""
        check_tensor(logits, "logits")
        if self._steps is None:
            raise ValueError("run `run_forward` first")
        r, chosen = self._top_relevance(logits, classes, target)
        r = _back(self._steps, saved, r, self.rule)
        relevance = r.reshape(r.shape[0], *inputs.shape).transpose(0, 1)
        return LRPOutput(logits, relevance, chosen)


def lrp_heatmaps(
    model: nn.Module,
    inputs: Tensor,
    classes: Sequence[int] | Tensor | None = None,
    **options: Any,
) -> Tensor:
    """(N, K, H, W) differentiable LRP heatmaps of ``classes`` (default: all) in one call.

    A shortcut for ``LRPDecoder(model, **options)(inputs, classes).heatmaps``.

    Example:
        >>> maps = lrp_heatmaps(model, images)          # every class
        >>> maps.shape
        torch.Size([2, 5, 32, 32])
    """
    return LRPDecoder(model, **options)(inputs, classes).heatmaps
