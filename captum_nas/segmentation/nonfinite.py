"""Finiteness checks of what NAS clusters, with errors that name the likely cause.

k-means on NaN or Inf features puts every pixel in one cluster without a word: a NaN
weight, an Inf bias, inputs on a scale the model's dtype cannot hold, or weights that
make squared distances overflow would all give one segment. NAS checks the activations
it captured and the features it clusters, and raises a ``ValueError`` that names the
layer and the most likely cause instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from captum_nas._model_state import layer_name
from captum_nas._validation import all_finite


def _nonfinite_state(model: nn.Module) -> list[str]:
    """Names of the parameters and floating buffers of ``model`` holding NaN or Inf."""
    bad = [
        name
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    return bad


def _likely_cause(model: nn.Module, inputs: Tensor, dtype: torch.dtype) -> str:
    bad = _nonfinite_state(model)
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        return f"the model's parameters or buffers hold NaN or Inf values: {shown}"
    top = float(inputs.detach().abs().amax()) if inputs.numel() else 0.0
    largest = torch.finfo(dtype).max
    return (
        f"the inputs reach |x| = {top:.3g} and the model's arithmetic in {dtype} "
        f"(largest value {largest:.3g}) overflows on them; pass inputs normalised as "
        "the model was trained (values of order 1)"
    )


def check_finite_activations(
    acts: Sequence[Tensor], layers: Sequence[nn.Module], model: nn.Module, inputs: Tensor
) -> None:
    """Raise ``ValueError`` when a captured activation holds NaN or Inf values.

    Args:
        acts: the captured activations, one per layer.
        layers: the layers that produced them (named in the message; the names are only
            looked up when there is one to raise).
        model: the model (its parameters and buffers are searched for the cause).
        inputs: the inputs as given to the model.

    Example:
        >>> check_finite_activations([torch.ones(1, 2, 2, 2)], [model.layer1], model, images)
    """
    for act, layer in zip(acts, layers):
        if all_finite(act):
            continue
        bad = int((~torch.isfinite(act)).sum())
        cause = _likely_cause(model, inputs, act.dtype)
        name = layer_name(model, layer)
        raise ValueError(
            f"NAS: the activations of layer {name!r} contain NaN or Inf values ({bad} of "
            f"{act.numel()}) for these inputs, so no segments can be found; likely "
            f"cause: {cause}"
        )


def check_finite_features(points: Tensor, options: dict[str, float]) -> None:
    """Raise ``ValueError`` when the features to cluster, or their squared norms, are
    not finite (squared distances would be NaN or Inf and k-means would give one
    segment).

    Args:
        points: (N, P, D) features to cluster.
        options: the weights that scale them (named in the message).

    Example:
        >>> check_finite_features(torch.ones(1, 4, 3), {"spatial_weight": 0.3})
    """
    # the largest norm (one reduction, no squared copy of the points), squared in float64
    largest = float(torch.linalg.vector_norm(points, dim=-1).amax()) if points.numel() else 0.0
    squared = largest * largest
    if math.isfinite(squared) and squared < torch.finfo(torch.float32).max / 4:
        return
    shown = ", ".join(f"{k}={v:g}" for k, v in options.items())
    raise ValueError(
        "NAS: the features to cluster contain NaN or Inf values or are too large for "
        f"squared distances in float32 (largest squared norm {squared:.3g}); "
        f"check the weights ({shown}) and, with normalize='none', the activations' scale"
    )
