"""Signatures of the NAS* classes, written once: Captum's parameters, then our options.

Every NAS* class writes its Captum class's parameters (names, order, defaults) once,
in a plain ``def``; our keyword-only options come in through ``**options`` typed with
a ``TypedDict`` (PEP 692), so type checkers and IDEs see them, and
:func:`with_options` shows them expanded to ``inspect.signature`` and ``help()``.
:func:`captum_attribute` turns a class's ``attribute`` signature into the method: it
binds the call to that signature and hands it to ``SuperpixelAttribution._explain``;
for type checkers it adds the ``Literal`` overloads of ``return_result``,
``return_convergence_delta`` and ``return_segments`` (:class:`BoundAttribute`).
"""

from __future__ import annotations

import functools
import inspect
import textwrap
from collections.abc import Callable, Mapping
from typing import (
    Any,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypedDict,
    TypeVar,
    Union,
    overload,
)

from captum.log import log_usage
from torch import Tensor

from captum_nas._types import SegmenterFn
from captum_nas.attr.result import AttributionResult
from captum_nas.attr.superpixel import PoolingMode, SuperpixelAttribution

P = ParamSpec("P")
_In = TypeVar("_In", Tensor, tuple[Tensor, ...])
#: what ``attribute`` returns: the map (a 1-tuple for tuple inputs), with the delta
#: and/or the segments, or an :class:`AttributionResult`
_Out = Union[_In, tuple[_In, Tensor], tuple[_In, Tensor, Tensor], AttributionResult]  # noqa: UP007


class SegmenterOptions(TypedDict, total=False):
    """Keyword-only constructor options of every NAS* class (see
    :class:`~captum_nas.attr.SuperpixelAttribution`)."""

    segmenter: SegmenterFn | None
    n_segments: int
    nas_options: Mapping[str, Any] | None


class PoolingOptions(SegmenterOptions, total=False):
    """Keyword-only constructor options of the pooled NAS* classes."""

    pooling: PoolingMode
    reduce: str | None
    channel_reduce: str | None
    interpolate_mode: str


class SegmentOptions(TypedDict, total=False):
    """Keyword-only ``attribute`` options of the segment-level classes (where
    ``feature_mask`` is Captum's own parameter). ``False`` here; ``True`` goes through
    the overloads of :class:`BoundAttribute`."""

    segments: Tensor | None
    return_segments: Literal[False]
    return_result: Literal[False]


class AttributeOptions(SegmentOptions, total=False):
    """Keyword-only ``attribute`` options of the pooled NAS* classes."""

    feature_mask: Tensor | tuple[Tensor, ...] | None


_OPTIONS: dict[str, tuple[type, Callable[..., Any]]] = {
    # TypedDict name -> (its keys, the SuperpixelAttribution method giving their defaults)
    "SegmenterOptions": (SegmenterOptions, SuperpixelAttribution.__init__),
    "PoolingOptions": (PoolingOptions, SuperpixelAttribution.__init__),
    "SegmentOptions": (SegmentOptions, SuperpixelAttribution.attribute),
    "AttributeOptions": (AttributeOptions, SuperpixelAttribution.attribute),
}


def expanded_signature(fn: Callable[..., Any]) -> inspect.Signature:
    """``fn``'s signature with ``**options: Unpack[X]`` written out as keyword-only
    parameters (the keys of ``X``, with SuperpixelAttribution's defaults)."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    var = params[-1]
    name = str(var.annotation).removeprefix("Unpack[").removesuffix("]")
    if var.kind is not var.VAR_KEYWORD or name not in _OPTIONS:
        raise TypeError(
            f"{fn.__qualname__} must end in **options: Unpack[<one of {set(_OPTIONS)}>]"
        )
    keys, source = _OPTIONS[name]
    options = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in inspect.signature(source).parameters.values()
        if p.name in keys.__annotations__
    ]
    # ``Literal[False]`` is for type checkers (``True`` goes through the overloads of
    # :class:`BoundAttribute`); the function takes a bool
    shown = [
        p.replace(annotation="bool") if p.annotation == "Literal[False]" else p
        for p in [*params[:-1], *options]
    ]
    return sig.replace(parameters=shown)


_F = TypeVar("_F", bound=Callable[..., Any])


def with_options(fn: _F) -> _F:
    """Check calls of ``fn`` against its signature with ``**options`` expanded (an
    unknown option is a ``TypeError`` naming it) and show that signature to
    ``inspect.signature`` and ``help()``."""
    sig = expanded_signature(fn)

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        sig.bind(*args, **kwargs)
        return fn(*args, **kwargs)

    checked.__signature__ = sig  # type: ignore[attr-defined]
    return checked  # type: ignore[return-value]


_ATTRIBUTE_DOC = """Captum's ``{captum}.attribute``, then one value per segment.

Args:
    inputs: images (N, C, H, W), or a 1-tuple of them (the result is then a
        1-tuple, the Captum way).
{params}
    feature_mask: {feature_mask} segment ids (N, 1, H, W), (1, 1, H, W) or
        (M, 1, H, W) for NoiseTunnel's repeated batch (NoiseTunnel expands a
        ``feature_mask`` the Captum way); default: segment the inputs.
    segments: alias of ``feature_mask``.
    return_segments: also return the segments used (last).
    return_result: return an :class:`~captum_nas.attr.result.AttributionResult`
        (pooled and pixel maps, segments, (N, K) scores, target, delta).

Returns:
    {returned} (inputs' shape, contiguous, detached); with
    ``return_convergence_delta`` (where Captum has it) also the delta of that map;
    with ``return_segments`` also the segments (last); with ``return_result`` an
    ``AttributionResult`` instead.
"""
_OUR_OPTIONS = ("feature_mask", "segments", "return_segments", "return_result")
_OPTION_NAMES = set(PoolingOptions.__annotations__)


def _wrapped(arg_line: str) -> str:
    """One entry of an ``Args`` section, wrapped and indented."""
    return textwrap.fill(arg_line, 84, initial_indent="    ", subsequent_indent="        ")


def attribute_doc(captum: str, sig: inspect.Signature, *, segment_level: bool) -> str:
    """The docstring of a NAS* class's ``attribute`` (Captum class ``captum``)."""
    params = [p for p in sig.parameters if p not in ("self", "inputs", *_OUR_OPTIONS)]
    return _ATTRIBUTE_DOC.format(
        captum=captum,
        params=_wrapped(f"{', '.join(params)}: as in ``captum.attr.{captum}.attribute``."),
        feature_mask="Captum's argument, here the" if segment_level else "precomputed",
        returned="The signed per-segment values" if segment_level else "The pooled map",
    )


def class_doc(doc: str | None, captum: str, init: inspect.Signature) -> str:
    """A NAS* class's docstring with its ``Args`` written out: Captum's constructor
    arguments (unless the class describes them itself), then our keyword-only options."""
    text = inspect.cleandoc(doc or "")
    params = [p for p in init.parameters.values() if p.name != "self"]
    options = ", ".join(p.name for p in params if p.name in _OPTION_NAMES)
    ours = _wrapped(
        f"{options}: keyword-only, as in :class:`~captum_nas.attr.SuperpixelAttribution`."
    )
    if "\nArgs:\n" not in text:
        captum_args = ", ".join(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
        text += f"\n\nArgs:\n    {captum_args}: as in ``captum.attr.{captum}``."
    body, example, rest = text.partition("\n\nExample:")
    return f"{body}\n{ours}{example}{rest}\n"


class BoundAttribute(Protocol[P]):
    """The type of a NAS* class's bound ``attribute``: Captum's parameters (``P``) and
    our options, with the ``Literal`` overloads of the return flags."""

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, inputs: _In, *args: Any, return_result: Literal[True], **kwargs: Any
    ) -> AttributionResult: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self,
        inputs: _In,
        *args: Any,
        return_convergence_delta: Literal[True],
        return_segments: Literal[True],
        **kwargs: Any,
    ) -> tuple[_In, Tensor, Tensor]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, inputs: _In, *args: Any, return_convergence_delta: Literal[True], **kwargs: Any
    ) -> tuple[_In, Tensor]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, inputs: _In, *args: Any, return_segments: Literal[True], **kwargs: Any
    ) -> tuple[_In, Tensor]: ...
    @overload
    def __call__(self, inputs: _In, *args: P.args, **kwargs: P.kwargs) -> _In: ...
    @overload
    def __call__(
        self, inputs: _In, *args: Any, return_result: bool, **kwargs: Any
    ) -> _Out[_In]: ...
    @overload
    def __call__(
        self, inputs: _In, *args: Any, return_segments: bool, **kwargs: Any
    ) -> _Out[_In]: ...
    @overload
    def __call__(
        self, inputs: _In, *args: Any, return_convergence_delta: bool, **kwargs: Any
    ) -> _Out[_In]: ...


class AttributeMethod(Generic[P]):
    """The type checkers' view of ``attribute`` on a class: a method whose instances
    bind to a :class:`BoundAttribute` (at run time it is a plain function)."""

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[..., Any]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> BoundAttribute[P]: ...
    def __get__(self, obj: object | None, owner: type) -> Any:
        raise NotImplementedError  # pragma: no cover (never an instance at run time)


def captum_attribute(
    fn: Callable[Concatenate[Any, Tensor | tuple[Tensor, ...], P], Any],
) -> AttributeMethod[P]:
    """Make a NAS* class's ``attribute`` from its signature (the body is not run).

    The call is bound to the signature (Captum's parameters, then our options, with
    their defaults); ``inputs``, ``target``, ``additional_forward_args``,
    ``return_convergence_delta`` and our options go to ``_explain`` by name, every
    other Captum parameter to the Captum method (through ``_method_kwargs``).
    """
    sig = expanded_signature(fn)

    @functools.wraps(fn)
    def attribute(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        inputs = values.pop("inputs")
        target = values.pop("target")
        additional_forward_args = values.pop("additional_forward_args")
        options = {name: values.pop(name) for name in _OUR_OPTIONS}
        delta = values.pop("return_convergence_delta", False)
        return self._explain(
            inputs,
            target,
            additional_forward_args,
            self._method_kwargs(values),
            return_convergence_delta=delta,
            **options,
        )

    logged = log_usage()(attribute)
    logged.__signature__ = sig
    return logged
