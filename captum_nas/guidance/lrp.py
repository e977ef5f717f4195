"""LRP propagation rules as differentiable tensor operations (the decoder's building blocks).

Relevance flows from a layer's output back to its input. Every function here takes
the layer's saved input ``x`` of shape ``(N, ...)`` and the relevance of its output
``r`` of shape ``(K, N, ...)``: ``K`` heatmaps (one per explained class) of the same
batch are propagated at once, broadcasting the saved activations over ``K``. All
operations are ordinary autograd operations, so a loss on the resulting heatmaps
trains the weights they use (the classifier's own weights: the decoder is tied).

Rules (Bach et al., 2015; Montavon et al., 2019):

* **LRP-epsilon** (default): ``R_i = sum_j x_i w_ij / (z_j + eps sign(z_j)) R_j`` with
  ``z = W x + b``. With ``detach_bias=True`` (default) the bias enters ``z`` as a constant,
  so the heatmap's gradient does not reach it (Yu et al., 2024); the values are those of
  Captum's ``EpsilonRule`` (``sign(0)`` counts as ``+1``, as in Captum).
* **LRP-alpha-beta**: positive and negative contributions ``(x_i w_ij)^+`` and
  ``(x_i w_ij)^-`` are normalised separately, ``R_i = sum_j (alpha a^+_ij / z^+_j -
  beta a^-_ij / z^-_j) R_j`` with ``alpha - beta = 1``; biases are ignored and inputs of
  either sign are handled (the split uses ``x^+`` and ``x^-``). Batch normalisation and
  pooling layers use the epsilon rule under both rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from captum_nas._validation import check_choice, check_number

RULES = ("epsilon", "alpha-beta")

#: Default epsilon of the epsilon rule (small: heatmaps close to the exact decomposition).
DEFAULT_EPSILON = 1e-6


@dataclass(frozen=True)
class LRPRule:
    """Which LRP rule the decoder applies to linear and convolution layers.

    Args:
        name: ``"epsilon"`` or ``"alpha-beta"``.
        epsilon: stabiliser added (with the sign of the denominator) to every
            denominator; > 0.
        alpha: weight of the positive contributions (alpha-beta rule); ``alpha - beta``
            must be 1.
        beta: weight of the negative contributions (alpha-beta rule), >= 0.
        detach_bias: the bias enters the epsilon rule's denominator without gradient.

    Example:
        >>> LRPRule("alpha-beta", alpha=2.0, beta=1.0)
        LRPRule(name='alpha-beta', epsilon=1e-06, alpha=2.0, beta=1.0, detach_bias=True)
    """

    name: str = "epsilon"
    epsilon: float = DEFAULT_EPSILON
    alpha: float = 1.0
    beta: float = 0.0
    detach_bias: bool = True

    def __post_init__(self) -> None:
        check_choice(self.name, "rule", RULES)
        check_number(self.epsilon, "epsilon", minimum=0.0, strict_min=True)
        check_number(self.alpha, "alpha", minimum=1.0)
        check_number(self.beta, "beta", minimum=0.0)
        if abs(self.alpha - self.beta - 1.0) > 1e-9:
            raise ValueError(
                f"`alpha` - `beta` must be 1 (relevance is conserved), got alpha={self.alpha}, "
                f"beta={self.beta}"
            )
        if not isinstance(self.detach_bias, bool):
            raise TypeError(f"`detach_bias` must be a bool, got {self.detach_bias!r}")


def stabilize(z: Tensor, epsilon: float) -> Tensor:
    """``z + epsilon * sign(z)`` with ``sign(0) = +1`` (Captum's stabiliser)."""
    sign = torch.where(z >= 0, 1.0, -1.0).to(z.dtype)
    return z + epsilon * sign


def flat(r: Tensor) -> Tensor:
    """(K, N, ...) relevance as a (K*N, ...) batch."""
    return r.reshape(r.shape[0] * r.shape[1], *r.shape[2:])


def unflat(t: Tensor, k: int) -> Tensor:
    """(K*N, ...) batch back to (K, N, ...)."""
    return t.reshape(k, t.shape[0] // k, *t.shape[1:])


LinearFn = Callable[[Tensor, Tensor], Tensor]


def affine_relevance(
    x: Tensor,
    z: Tensor,
    r: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    forward: LinearFn,
    transpose: LinearFn,
    rule: LRPRule,
) -> Tensor:
    """Relevance at the input of an affine layer ``z = forward(x, W) + b``.

    Args:
        x: the layer's input (N, ...).
        z: the layer's output with its bias (N, ...), as computed in the forward pass.
        r: relevance of the output (K, N, ...).
        weight: the layer's weight ``W`` (tied: the same parameter as the classifier's).
        bias: the layer's bias broadcastable to ``z``'s shape, or ``None``.
        forward: ``forward(x, W)`` without bias (used by the alpha-beta rule).
        transpose: the transposed map ``transpose(s, W)`` from outputs to inputs
            (a transposed linear or transposed convolution with the same weight).
        rule: the propagation rule.

    Returns:
        Relevance of the input, shape (K, N, ...) like ``x`` with a leading K.
    """
    k = r.shape[0]
    if rule.name == "epsilon":
        if bias is not None and rule.detach_bias:
            z = z - bias + bias.detach()
        s = r / stabilize(z, rule.epsilon).unsqueeze(0)
        return x.unsqueeze(0) * unflat(transpose(flat(s), weight), k)
    w_pos, w_neg = weight.clamp(min=0), weight.clamp(max=0)
    x_pos, x_neg = x.clamp(min=0), x.clamp(max=0)
    z_pos = forward(x_pos, w_pos) + forward(x_neg, w_neg)
    s_pos = flat(r / stabilize(z_pos, rule.epsilon).unsqueeze(0))
    out = rule.alpha * (
        x_pos.unsqueeze(0) * unflat(transpose(s_pos, w_pos), k)
        + x_neg.unsqueeze(0) * unflat(transpose(s_pos, w_neg), k)
    )
    if rule.beta:
        z_neg = forward(x_pos, w_neg) + forward(x_neg, w_pos)
        s_neg = flat(r / stabilize(z_neg, rule.epsilon).unsqueeze(0))
        out = out - rule.beta * (
            x_pos.unsqueeze(0) * unflat(transpose(s_neg, w_neg), k)
            + x_neg.unsqueeze(0) * unflat(transpose(s_neg, w_pos), k)
        )
    return out


def scaled_relevance(
    x: Tensor, z: Tensor, r: Tensor, scale: Tensor, shift: Tensor | None, rule: LRPRule
) -> Tensor:
    """Relevance at the input of an element-wise affine map ``z = scale * x + shift``.

    Used for batch normalisation (``scale = gamma / sqrt(var + eps)``); the epsilon
    rule applies under both rules, ``shift`` is the bias (detached when the rule says so).
    """
    if shift is not None and rule.detach_bias:
        z = z - shift + shift.detach()
    return x.unsqueeze(0) * scale * r / stabilize(z, rule.epsilon).unsqueeze(0)


def pool_relevance(
    x: Tensor, z: Tensor, r: Tensor, transpose: Callable[[Tensor], Tensor], rule: LRPRule
) -> Tensor:
    """Relevance at the input of a pooling layer (epsilon rule, as Captum applies it).

    Args:
        x: pooling input (N, C, H, W).
        z: pooling output (N, C, h, w).
        r: relevance of the output (K, N, C, h, w).
        transpose: maps a (K*N, C, h, w) batch to the input's (K*N, C, H, W) (the
            transposed pooling: unpooling with the forward's indices, or the adjoint of
            average pooling).
        rule: the propagation rule (its epsilon is used).
    """
    k = r.shape[0]
    s = r / stabilize(z, rule.epsilon).unsqueeze(0)
    return x.unsqueeze(0) * unflat(transpose(flat(s)), k)


def unpool(s: Tensor, indices: Tensor, size: torch.Size) -> Tensor:
    """Max-unpooling that sums values whose windows share a maximum (overlapping pools).

    Args:
        s: (B, C, h, w) values at the pooled positions.
        indices: (N, C, h, w) flat spatial indices returned by ``max_pool2d``; B is a
            multiple of N (K heatmaps of the same batch).
        size: the pooling input's shape (N, C, H, W).
    """
    b, c = s.shape[:2]
    n = indices.shape[0]
    idx = indices.reshape(1, n, c, -1).expand(b // n, n, c, -1).reshape(b, c, -1)
    out = s.new_zeros(b, c, size[-2] * size[-1])
    out = out.scatter_add(2, idx, s.reshape(b, c, -1))
    return out.reshape(b, c, size[-2], size[-1])


def linear_adjoint(fn: Callable[[Tensor], Tensor], like: Tensor, s: Tensor) -> Tensor:
    """The adjoint (transpose) of a linear map ``fn`` applied to ``s``, differentiable in ``s``.

    Args:
        fn: a linear function of a (B, ...) batch (e.g. average pooling).
        like: a tensor with the input's per-sample shape (the batch size is taken from ``s``).
        s: (B, ...) values in ``fn``'s output space.
    """
    probe = like.new_zeros((s.shape[0], *like.shape[1:])).requires_grad_(True)
    with torch.enable_grad():
        out = fn(probe)
        (adj,) = torch.autograd.grad(out, probe, s, create_graph=s.requires_grad)
    return adj
