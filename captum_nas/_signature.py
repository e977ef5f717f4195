"""Shared keyword-only options written once: ``**options: Unpack[SomeTypedDict]``.

A block of keyword-only options that several public callables accept is declared
once, as a ``TypedDict`` (PEP 692: mypy and IDEs check and complete the keys), with
its defaults in one reference function that spells the options out. :func:`expand_options`
then gives each callable taking ``**options: Unpack[...]`` a ``__signature__`` with
the options expanded, so that ``inspect.signature`` and ``help()`` (and the API
reference) show every option with its default, as if written out.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


def expand_options(
    options: type, defaults: Callable[..., Any], *, last: Sequence[str] = ()
) -> Callable[[F], F]:
    """Decorator: show ``**kwargs: Unpack[options]`` as keyword-only parameters.

    Args:
        options: the ``TypedDict`` of the options; its keys in declaration order are
            the expanded parameters.
        defaults: a function with every key of ``options`` as a named parameter; its
            defaults and annotations are the ones shown.
        last: names of keyword-only parameters (the function's own or options) shown
            last, in this order (to keep a documented order).

    Returns:
        A decorator: the function with that ``__signature__``, raising ``TypeError``
        for a keyword that is neither its own nor an option (as Python would).

    Example:
        >>> from typing import TypedDict
        >>> class Opts(TypedDict, total=False):
        ...     size: int
        >>> def _reference(*, size: int = 3) -> None: ...
        >>> @expand_options(Opts, _reference)
        ... def f(x, **opts):
        ...     return x * opts.get("size", 3)
        >>> str(inspect.signature(f))
        "(x, *, size: 'int' = 3)"
        >>> f(2, sise=4)
        Traceback (most recent call last):
        ...
        TypeError: f() got an unexpected keyword argument 'sise'
    """
    expanded = option_parameters(options, defaults)

    def decorate(func: F) -> F:
        own = [p for p in inspect.signature(func).parameters.values() if p.kind != p.VAR_KEYWORD]
        every = [*own, *expanded]
        moved = sorted((p for p in every if p.name in last), key=lambda p: list(last).index(p.name))
        return checked_keywords(func, [*(p for p in every if p.name not in last), *moved])

    return decorate


def option_parameters(options: type, defaults: Callable[..., Any]) -> list[inspect.Parameter]:
    """The keys of the ``TypedDict`` ``options`` as keyword-only parameters.

    Args:
        options: the ``TypedDict``.
        defaults: a function with every key of ``options`` as a named parameter.

    Returns:
        One keyword-only parameter per key, with the default and annotation that
        ``defaults`` gives it, in ``defaults``' order.

    Example:
        >>> from typing import TypedDict
        >>> class Opts(TypedDict, total=False):
        ...     size: int
        >>> def _reference(x, size: int = 3) -> None: ...
        >>> [str(p) for p in option_parameters(Opts, _reference)]
        ["size: 'int' = 3"]
    """
    source = inspect.signature(defaults).parameters
    missing = [name for name in options.__annotations__ if name not in source]
    if missing:
        raise TypeError(f"`defaults` lacks the options {missing} of {options.__name__}")
    return [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in source.values()
        if p.name in options.__annotations__
    ]


def checked_keywords(func: F, parameters: Sequence[inspect.Parameter]) -> F:
    """``func`` (which takes ``**kwargs``) shown with ``parameters`` as its signature,
    and a ``TypeError`` for a keyword that is not one of them or a missing required
    keyword-only one, as Python would raise.

    Args:
        func: the function.
        parameters: its parameters as shown (its own and the expanded options).

    Returns:
        The wrapped function, with ``__signature__`` set.
    """
    allowed = {p.name for p in parameters}
    required = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.default is p.empty]

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        unknown = [key for key in kwargs if key not in allowed]
        if unknown:
            raise TypeError(
                f"{func.__qualname__}() got an unexpected keyword argument {unknown[0]!r}"
            )
        missing = [name for name in required if name not in kwargs]
        if missing:  # a required option (``Required[...]`` in its TypedDict)
            raise TypeError(
                f"{func.__qualname__}() missing a required keyword-only argument {missing[0]!r}"
            )
        return func(*args, **kwargs)

    checked.__signature__ = inspect.signature(func).replace(  # type: ignore[attr-defined]
        parameters=list(parameters)
    )
    return checked  # type: ignore[return-value]


def same_parameters(template: Callable[P, Any]) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Decorator: a function that takes ``template``'s parameters (and hands them on),
    written once: type checkers, ``inspect.signature`` and ``help()`` see them.

    Args:
        template: the function whose parameters (names, kinds, defaults, annotations)
            the decorated one takes; the return annotation stays the decorated one's.

    Returns:
        A decorator: the function, with that ``__signature__``.

    Example:
        >>> def area(width: float, *, height: float = 1.0) -> float:
        ...     return width * height
        >>> @same_parameters(area)
        ... def described(*args, **kwargs) -> str:
        ...     return f"area {area(*args, **kwargs)}"
        >>> str(inspect.signature(described))
        "(width: 'float', *, height: 'float' = 1.0) -> 'str'"
        >>> described(2.0, height=3.0)
        'area 6.0'
    """

    def decorate(func: Callable[..., R]) -> Callable[P, R]:
        returns = inspect.signature(func).return_annotation
        func.__signature__ = inspect.signature(template).replace(  # type: ignore[attr-defined]
            return_annotation=returns
        )
        return func

    return decorate
