"""Argument checks shared by the public API.

Every check raises ``TypeError`` or ``ValueError`` naming the argument, what it got
and what was expected, so that bad input never turns into a plausible wrong answer.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_nas._types import FLOAT_DTYPES as _FLOAT_DTYPES


def describe(value: Any) -> str:
    """Short description of ``value`` for error messages."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:200]


def check_tensor(value: Any, name: str) -> Tensor:
    """Raise ``TypeError`` unless ``value`` is a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {describe(value)}")
    return value


def all_finite(values: Tensor) -> bool:
    """Whether every value of a floating tensor is finite, in one reduction when it is.

    A NaN or Inf value makes the sum NaN or Inf, so a finite sum means every value is
    finite; only a sum that is not (a NaN/Inf inside, or finite values whose sum
    overflows) needs the element-wise test.

    Example:
        >>> all_finite(torch.tensor([1.0, 2.0])), all_finite(torch.tensor([1.0, float("nan")]))
        (True, False)
    """
    values = values.detach()
    return math.isfinite(float(values.sum())) or bool(torch.isfinite(values).all())


def check_image_batch(
    inputs: Any, name: str = "inputs", *, allow_integer: bool = False, finite: bool = True
) -> Tensor:
    """Check a batch of images of shape (N, C, H, W).

    Args:
        inputs: the value to check.
        name: the argument name used in error messages.
        allow_integer: accept integer dtypes (e.g. uint8 images).
        finite: reject NaN and Inf values.

    Returns:
        The same tensor.
    """
    check_tensor(inputs, name)
    if inputs.dim() != 4:
        raise ValueError(
            f"`{name}` must have shape (N, C, H, W), got {inputs.dim()}-D shape "
            f"{tuple(inputs.shape)}"
        )
    if inputs.shape[0] == 0:
        raise ValueError(f"`{name}` is an empty batch (shape {tuple(inputs.shape)})")
    if min(inputs.shape[1:]) == 0:
        raise ValueError(f"`{name}` has an empty dimension: shape {tuple(inputs.shape)}")
    if inputs.dtype not in _FLOAT_DTYPES:
        if not allow_integer or inputs.dtype == torch.bool or inputs.is_complex():
            raise TypeError(
                f"`{name}` must be a floating point tensor, got dtype {inputs.dtype}; "
                "convert images with `.float()` (and normalise them as the model expects)"
            )
    if finite and inputs.dtype in _FLOAT_DTYPES and not all_finite(inputs):
        raise ValueError(f"`{name}` contains NaN or Inf values")
    return inputs


def check_image_input(inputs: Any, owner: str) -> tuple[Tensor, bool]:
    """Unwrap the ``inputs`` of a one-input attribution: a batch (N, C, H, W) or a 1-tuple.

    Args:
        inputs: a tensor, or a tuple that must hold exactly one tensor.
        owner: the class name used in error messages.

    Returns:
        The checked image batch (see :func:`check_image_batch`) and whether ``inputs``
        was a tuple (then the result is handed back as a 1-tuple, the Captum way).
    """
    if isinstance(inputs, tuple):
        if len(inputs) != 1:
            raise TypeError(
                f"`inputs`: {owner} takes one image tensor (N, C, H, W) or a 1-tuple of it, "
                f"got a tuple of {len(inputs)} tensors"
            )
        return check_image_batch(inputs[0]), True
    return check_image_batch(inputs), False


def check_segments(segments: Any, name: str = "segments", *, like: Tensor | None = None) -> Tensor:
    """Check a segment mask: integer tensor (N, 1, H, W) or (1, 1, H, W), ids >= 0.

    Args:
        segments: the value to check.
        name: the argument name used in error messages.
        like: when given, an (N, C, H, W) tensor the mask must match in batch size
            (or be broadcastable with N=1) and in spatial size.

    Returns:
        The mask as a ``torch.long`` tensor.
    """
    check_tensor(segments, name)
    if segments.is_floating_point() or segments.is_complex() or segments.dtype == torch.bool:
        raise TypeError(
            f"`{name}` must be an integer tensor of segment ids, got dtype {segments.dtype}"
        )
    if segments.dim() != 4 or segments.shape[1] != 1:
        raise ValueError(
            f"`{name}` must have shape (N, 1, H, W), got shape {tuple(segments.shape)}"
        )
    if segments.numel() == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(segments.shape)})")
    if int(segments.min()) < 0:
        raise ValueError(f"`{name}` has negative ids (min {int(segments.min())}); ids must be >= 0")
    if like is not None:
        n, _, h, w = like.shape
        if segments.shape[-2:] != (h, w):
            raise ValueError(
                f"`{name}` spatial size {tuple(segments.shape[-2:])} does not match the "
                f"inputs' {(h, w)}"
            )
        if segments.shape[0] not in (1, n):
            raise ValueError(
                f"`{name}` has batch size {segments.shape[0]}, expected 1 or {n} "
                "(the inputs' batch size)"
            )
    return segments.long()


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as int when it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}")
    return int(value)


def check_widths(
    widths: Any, count: int, what: str, *, n_classes: Any, in_channels: Any
) -> list[int]:
    """Check a network's shape: class and input-channel counts, and ``count`` positive
    channel widths (``what`` names them, for the error message)."""
    check_positive_int(n_classes, "n_classes")
    check_positive_int(in_channels, "in_channels")
    if len(widths) != count:
        raise ValueError(f"`widths` must have {count} entries ({what}), got {widths!r}")
    return [check_positive_int(c, "widths") for c in widths]


def lookup_name(kind: str, name: Any, table: Mapping[str, Any], lookup: Mapping[str, str]) -> Any:
    """The entry of a registry ``table`` named ``name`` (case-insensitive, via ``lookup``).

    Args:
        kind: what the registry holds, for messages (e.g. ``"method"``).
        name: the name asked for.
        table: canonical name -> entry.
        lookup: every accepted key (names and aliases, lower case) -> canonical name.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: unknown name; the message suggests close names.
    """
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key in lookup:
        return table[lookup[key]]
    close = difflib.get_close_matches(key, list(lookup), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown {kind} {name!r}{hint} Choose from: {', '.join(table)}")


#: the largest seed: numpy's ``RandomState`` takes 0..2**32 - 1 (torch takes more), and
#: a seed may reach both
MAX_SEED = 2**32 - 1


def check_seed(value: Any, name: str = "seed") -> int:
    """Return ``value`` as int when it is a valid random seed: an integer in
    ``0..2**32 - 1`` (:data:`MAX_SEED`, numpy's range; torch's is wider)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer >= 0 and <= 2**32 - 1, got {describe(value)}")
    seed = int(value)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"`{name}` must be an integer >= 0 and <= 2**32 - 1, got {seed}")
    return seed


def check_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
) -> float:
    """Return ``value`` as float when it is a finite real number in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {describe(value)}")
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"`{name}` must be finite, got {value}")
    if minimum is not None and (v <= minimum if strict_min else v < minimum):
        op = ">" if strict_min else ">="
        raise ValueError(f"`{name}` must be {op} {minimum}, got {value}")
    if maximum is not None and v > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}")
    return v


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` when it is one of ``choices``."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}")
    return value


#: the largest class id a target may hold (torch indexes with int64)
_MAX_CLASS_ID = 2**63 - 1

#: a normalised target: class ids per image, one multi-index for all images, one
#: multi-index per image, or nothing
NormalizedTarget = Tensor | tuple[int, ...] | list[tuple[int, ...]] | None


def _class_id(value: Any, where: str = "") -> int:
    """One class id (or multi-index entry) as a Python int in ``0..2**63-1``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"`target`{where} must hold integer class ids, got bool {value!r} (a bool would "
            "silently select class 0 or 1)"
        )
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"`target`{where} must hold integer class ids, got {describe(value)}")
        value = value.item()
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"`target`{where} must hold integer class ids, got {describe(value)}")
    v = int(value)
    if v < 0:
        raise ValueError(f"`target` must hold class ids >= 0, got {v}")
    if v > _MAX_CLASS_ID:
        raise ValueError(f"`target` {v} is too large for a class id (at most 2**63 - 1)")
    return v


def _multi_index(value: tuple[Any, ...]) -> tuple[int, ...]:
    if len(value) == 0:
        raise ValueError(
            "`target` is an empty tuple; a tuple target indexes the output per example"
        )
    return tuple(_class_id(v, " (a tuple)") for v in value)


def normalize_target(
    target: Any, n: int, *, device: torch.device | None = None
) -> NormalizedTarget:
    """Check a Captum ``target`` for a batch of ``n`` images and give it one canonical form.

    Captum's convention, followed everywhere in captum-nas: an int (or numpy integer,
    or one-element integer tensor) is the class of every image; a list, ``range``,
    numpy array or integer tensor of ``n`` values gives one class per image; a
    **tuple** is one multi-index into a multi-dimensional per-example output, the
    same for every image (``target=(1, 3)`` tracks ``output[:, 1, 3]``); a list of
    ``n`` tuples gives one multi-index per image.

    Args:
        target: the value to check.
        n: the batch size.
        device: device of a returned tensor (default: the target's own, or CPU).

    Returns:
        ``None``; a LongTensor (n,) of class ids; a tuple of Python ints (one
        multi-index for all images); or a list of ``n`` such tuples, all of one length.
        Pass this value on to Captum instead of the raw one: Captum rejects numpy
        integers and ranges, and indexes with uint8 tensors as masks.

    Raises:
        TypeError: not one of the forms above, a bool, or non-integer values.
        ValueError: wrong length or shape, a negative class id, one beyond int64.

    Example:
        >>> normalize_target(np.int64(2), 3)
        tensor([2, 2, 2])
        >>> normalize_target(range(3), 3)
        tensor([0, 1, 2])
        >>> normalize_target((1, 3), 3)
        (1, 3)
    """
    if target is None:
        return None
    if isinstance(target, tuple):
        return _multi_index(target)
    if isinstance(target, np.ndarray):
        if target.dtype == np.bool_ or not np.issubdtype(target.dtype, np.integer):
            raise TypeError(f"`target` must hold integer class ids, got numpy dtype {target.dtype}")
        if target.dtype == np.uint64 and target.size and int(target.max()) > _MAX_CLASS_ID:
            raise ValueError(f"`target` {int(target.max())} is too large for a class id")
        target = torch.from_numpy(target.astype(np.int64))
    if isinstance(target, Tensor):
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"`target` must hold integer class ids, got dtype {target.dtype}")
        if target.numel() == 1:
            t = target.reshape(1).expand(n)
        elif target.dim() == 1 and target.shape[0] == n:
            t = target
        else:
            raise ValueError(
                f"`target` must be an int, or have shape ({n},), got shape {tuple(target.shape)}"
            )
        t = t.to(device=device if device is not None else t.device, dtype=torch.long)
    elif isinstance(target, (numbers.Integral, np.bool_)):
        t = torch.full((n,), _class_id(target), dtype=torch.long, device=device)
    elif isinstance(target, Sequence) and not isinstance(target, (str, bytes)):
        if len(target) != n:
            raise ValueError(
                f"`target` as a sequence must hold {n} ints (one per image) or {n} tuples, "
                f"got {describe(target)}"
            )
        if isinstance(target, list) and target and all(isinstance(v, tuple) for v in target):
            indices = [_multi_index(v) for v in target]
            if len({len(i) for i in indices}) != 1:
                raise ValueError(
                    f"`target`: the tuples of a list must have one length, got {describe(target)}"
                )
            return indices
        if any(isinstance(v, tuple) for v in target):
            raise TypeError(
                "`target` as a list must hold only ints (one class per image) or only tuples "
                f"(one multi-index per image), got {describe(target)}"
            )
        ids = [_class_id(v, " (a sequence)") for v in target]
        t = torch.tensor(ids, dtype=torch.long, device=device)
    else:
        raise TypeError(
            "`target` must be None, an int, a sequence or tensor of ints, or a tuple "
            f"(one multi-index), got {describe(target)}"
        )
    t_min = int(t.min())
    if t_min < 0:
        raise ValueError(f"`target` must hold class ids >= 0, got {t_min}")
    return t


def check_target(target: Any, n: int, *, device: torch.device | None = None) -> Tensor | None:
    """Check a class target for a batch of ``n`` images: one class id per image.

    Accepts what :func:`normalize_target` accepts for class outputs (N, n_classes):
    ``None``, an int (also a numpy integer), a sequence, ``range``, numpy array or
    integer tensor of ``n`` class ids, and a 1-tuple ``(c,)`` (Captum's multi-index of
    length one, the same as ``c``). A longer tuple is one multi-index into a
    multi-dimensional output, which a class per image cannot express.

    Args:
        target: the value to check.
        n: the batch size.
        device: device of the returned tensor (default: the target's own, or CPU).

    Returns:
        ``None`` for ``None``, else the class of every image as a LongTensor (n,).

    Raises:
        TypeError: not an int, sequence or integer tensor.
        ValueError: wrong length or shape, a negative class id, or a multi-index.
    """
    t = normalize_target(target, n, device=device)
    if isinstance(t, tuple) and len(t) == 1:
        return torch.full((n,), t[0], dtype=torch.long, device=device)
    if isinstance(t, (tuple, list)):
        raise ValueError(
            f"`target` {describe(target)} is a multi-index (a tuple indexes a "
            "multi-dimensional output per example, Captum's convention); one class per "
            "image is needed here: pass an int, a list or a tensor of class ids"
        )
    return t


def check_model_output(output: Any, name: str = "forward_func") -> Tensor:
    """Raise a ``TypeError`` unless a model's ``output`` is one tensor of scores.

    Models returning a tuple or dict (auxiliary heads, Hugging Face style outputs)
    must be wrapped: captum-nas and Captum index the scores as ``output[:, class]``.

    Args:
        output: what the model returned.
        name: the argument that holds the model, for the message.

    Returns:
        ``output``.
    """
    if isinstance(output, Tensor):
        return output
    kind = type(output).__name__
    if isinstance(output, Mapping):
        what = f"a dict with keys {list(output)[:5]}"
        example = f"`model(x)[{next(iter(output), 'key')!r}]`"
    elif isinstance(output, (tuple, list)):
        what = f"a {kind} of {len(output)} items"
        example = "`model(x)[0]`"
    else:
        what = describe(output)
        example = "the scores"
    raise TypeError(
        f"`{name}` returned {what}; it must return one Tensor of scores of shape "
        "(N, n_classes) (or (N, d1, d2, ...) indexed by a tuple `target`): wrap the model "
        f"in an nn.Module whose forward returns that tensor, e.g. {example}"
    )


def _parameter_dtype(model: Any) -> torch.dtype | None:
    if not isinstance(model, nn.Module):
        return None
    for param in model.parameters():
        if param.is_floating_point():
            return param.dtype
    return None


@contextmanager
def explain_dtype_mismatch(model: Any, inputs: Tensor, name: str = "inputs") -> Iterator[None]:
    """Turn a dtype failure of ``model`` on ``inputs`` into a ``TypeError`` naming ``name``.

    Inputs are never cast: a model whose forward copes with them works as it is. When
    a ``RuntimeError`` about types escapes the block (e.g. "Input type (double) and bias
    type (float) should be the same") and ``model`` is an ``nn.Module`` whose floating
    parameters have another dtype than ``inputs``, it is re-raised as a ``TypeError``
    saying so; any other exception passes unchanged.

    Args:
        model: the model (or any forward function) run inside the block.
        inputs: the tensor given to the public function.
        name: the argument name used in error messages.

    Returns:
        A context manager.

    Raises:
        TypeError: the block failed and the dtypes of ``inputs`` and ``model`` differ.
    """
    try:
        yield
    except RuntimeError as err:
        expected = _parameter_dtype(model)
        if expected is None or expected == inputs.dtype or "type" not in str(err):
            raise
        raise TypeError(
            f"`{name}` has dtype {inputs.dtype} but the model's parameters are {expected}; "
            f"cast the inputs with `.to({expected})` or the model with `.to({inputs.dtype})`"
        ) from err
