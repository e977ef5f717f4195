"""Pieces shared by the subcommands: help format, typed arguments, model options, versions."""

from __future__ import annotations

import argparse
import platform
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from captum_nas.cli import UsageError

#: the preprocessing of image files, shared by ``explain`` and ``evaluate``
RESIZE_HELP = (
    "how image files become SIDE x SIDE model inputs: 'crop' scales the shorter side to "
    "SIDE and cuts the centre square (no distortion; boxes and masks follow the crop), "
    "'stretch' scales both sides to SIDE (whole image, aspect ratio changed)"
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default and keeps the description's line breaks.

    Defaults that are ``None`` or ``False`` (flags) are not printed as such: the help
    text says what happens without the option.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


NO_MODEL = object()  # add_subparser(model=NO_MODEL): the subcommand has no model options

#: the largest seed the options take: every random generator used (torch, numpy, and
#: scikit-image's quickshift, whose seed is a C int) accepts 0 .. 2**31 - 1
MAX_SEED = 2**31 - 1


def add_subparser(
    subparsers: argparse._SubParsersAction,
    name: str,
    summary: str,
    description: str | None = None,
    *,
    model: Any = NO_MODEL,
    seed: str | None = None,
    seed_default: int = 0,
) -> argparse.ArgumentParser:
    """A subcommand parser with the options every subcommand shares.

    The parser has the shared help format, no option abbreviations (so that launchers
    such as ``torchrun`` never see an option they could take for theirs) and
    ``--debug``; with ``model`` the model options (:func:`add_model_arguments`, ``model``
    being the default ``--model`` or ``None``), with ``seed`` a ``--seed`` option
    (integers 0 .. :data:`MAX_SEED`, ``seed`` is its help).

    Args:
        subparsers: the top parser's subparsers.
        name: the subcommand.
        summary: one line for ``captum-nas --help`` (and the description without one).
        description: the text of ``captum-nas NAME --help``.
        model: the default ``--model`` (``None``: chosen by the subcommand), or
            :data:`NO_MODEL` for no model options.
        seed: help of ``--seed``, or ``None`` for no such option.
        seed_default: default of ``--seed``.

    Returns:
        The subcommand's parser.
    """
    from captum_nas.cli import add_debug_argument

    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        formatter_class=HelpFormatter,
        allow_abbrev=False,
        help=summary,
        description=description or summary,
    )
    add_debug_argument(parser)
    if model is not NO_MODEL:
        add_model_arguments(parser, default_model=model)
    if seed is not None:
        parser.add_argument("--seed", type=seed_int, default=seed_default, help=seed)
    return parser


def _ascii_int(text: str) -> int:
    """``text`` as an int, written with the ASCII digits 0-9 (and an optional sign)."""
    stripped = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", stripped):
        digits = "" if stripped.isascii() else " (write numbers with the ASCII digits 0-9)"
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}{digits}")
    return int(stripped)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers >= ``minimum``."""

    def parse(text: str) -> int:
        value = _ascii_int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def seed_int(text: str) -> int:
    """An argparse ``type`` for seeds: integers 0 .. :data:`MAX_SEED`."""
    value = _ascii_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be <= 2**31 - 1 = {MAX_SEED}, got {value}")
    return value


seed_int.__name__ = "int"


def method_name(text: str) -> str:
    """An argparse ``type``: a registered method (case-insensitive) -> its canonical name."""
    from captum_nas.attr.registry import get_method

    try:
        return get_method(text).name
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def segmenter_name(text: str) -> str:
    """An argparse ``type``: a registered segmenter (case-insensitive) -> its name."""
    from captum_nas.attr.registry import get_segmenter

    try:
        return get_segmenter(text).name
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def name_list(kind: Callable[[str], str]) -> Callable[[str], list[str]]:
    """An argparse ``type`` for comma-separated names, each checked by ``kind``."""

    def parse(text: str) -> list[str]:
        names = [kind(v.strip()) for v in text.split(",") if v.strip()]
        if not names:
            raise argparse.ArgumentTypeError("the list is empty")
        if len(set(names)) != len(names):
            raise argparse.ArgumentTypeError(f"names repeat in {text!r}")
        return names

    parse.__name__ = "list"
    return parse


def device_type(text: str) -> Any:
    """An argparse ``type``: a torch device that exists here."""
    from captum_nas.models.loading import resolve_device

    try:
        device = resolve_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if device.type == "meta":
        raise argparse.ArgumentTypeError(
            f"{text!r} is a device without data (shapes only): nothing can be computed "
            "or saved on it; use cpu, cuda or mps"
        )
    return device


def describe_methods() -> str:
    """One line per registered method (name, aliases, summary), for ``--help``."""
    from captum_nas.attr.registry import get_method, method_names

    lines = []
    for name in method_names():
        spec = get_method(name)
        alias = f" ({', '.join(spec.aliases)})" if spec.aliases else ""
        lines.append(f"  {name}{alias}: {spec.summary}")
    return "\n".join(lines)


def describe_segmenters() -> str:
    """One line per registered segmenter, for ``--help``."""
    from captum_nas.attr.registry import get_segmenter, segmenter_names

    return "\n".join(f"  {n}: {get_segmenter(n).summary}" for n in segmenter_names())


def add_model_arguments(parser: argparse.ArgumentParser, *, default_model: str | None) -> None:
    """The model options every subcommand shares: ``--model``, ``--weights``,
    ``--random-weights``, ``--device``, ``--image-size``, ``--resize``.
    """
    from captum_nas.models.loading import available_models

    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=default_model,
        help=f"{', '.join(available_models())}, a torchvision architecture name with "
        "--weights PATH, or package.module:callable"
        + ("" if default_model else " (default: the data set's own model)"),
    )
    group.add_argument(
        "--weights",
        default=None,
        metavar="PATH",
        help="state_dict or checkpoint for --model (a torchvision name, reference, "
        "reference-double, module:callable)",
    )
    group.add_argument(
        "--random-weights",
        action="store_true",
        help="untrained network (torchvision names, reference), drawn under --seed",
    )
    group.add_argument("--device", type=device_type, default="cpu", help="torch device")
    side_help = "image side in pixels (default: the model's input size)"
    group.add_argument("--image-size", type=int_at_least(8), metavar="SIDE", help=side_help)
    group.add_argument("--resize", choices=("crop", "stretch"), default="crop", help=RESIZE_HELP)


def add_image_file_arguments(
    parser: argparse.ArgumentParser, *, recursive: str, on_error: str
) -> None:
    """``--recursive`` and ``--on-error skip|fail``, the options of commands that read
    image folders (``explain``, ``evaluate``); the arguments are their help texts."""
    parser.add_argument("--recursive", action="store_true", help=recursive)
    parser.add_argument("--on-error", choices=("skip", "fail"), default="skip", help=on_error)


def load_from_args(args: argparse.Namespace, model: str | None = None) -> Any:
    """The :class:`~captum_nas.models.loading.LoadedModel` named by the model options,
    on ``args.device``."""
    from captum_nas.models.loading import load_model

    loaded = load_model(
        model or args.model,
        weights=args.weights,
        random_weights=args.random_weights,
        seed=args.seed,
    )
    loaded.model = loaded.model.to(args.device).eval()
    return loaded


def method_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a method that ``explain`` and ``evaluate`` share: ``n_steps``,
    ``seed`` and ``options`` (the ``--selector`` file of relevant-features)."""
    return {
        "n_steps": args.n_steps,
        "seed": args.seed,
        "options": {"selector": args.selector} if args.selector else None,
    }


def versions() -> dict[str, str]:
    """Versions of captum-nas, Python and every dependency that changes results."""
    from importlib import metadata

    import torch

    import captum_nas

    out = {"captum-nas": captum_nas.__version__, "python": platform.python_version()}
    out["torch"] = str(torch.__version__)  # with its build tag (+cpu, +cu130, ...)
    for dist in ("torchvision", "captum", "numpy", "scikit-image", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - depends on the install
            out[dist] = "not installed"
    return out


class VersionAction(argparse.Action):
    """``--version``: print the package and dependency versions, then exit."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kw: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        v = versions()
        first = f"captum-nas {v.pop('captum-nas')}"
        print(first + "\n" + "\n".join(f"  {k} {val}" for k, val in v.items()))
        parser.exit(0)


@contextmanager
def quiet_captum() -> Iterator[None]:
    """Hide Captum's notices about setting ``requires_grad`` and hooks on activations:
    they describe Captum's own bookkeeping, not a problem of the user's run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*did not already require gradients.*")
        warnings.filterwarnings("ignore", message=r".*Setting forward, backward hooks.*")
        warnings.filterwarnings("ignore", message=r".*Setting backward hooks on ReLU.*")
        yield


def check_layer_option(method: str, layer: str | None) -> None:
    """``--layer`` is an error for a method that has no layer."""
    from captum_nas.attr.registry import get_method

    spec = get_method(method)
    if layer is not None and not spec.uses_layer:
        layered = [n for n in _layered_methods()]
        raise UsageError(
            f"--layer is not used by method {spec.name!r}; methods with a layer: "
            f"{', '.join(layered)}"
        )


def _layered_methods() -> list[str]:
    from captum_nas.attr.registry import get_method, method_names

    return [n for n in method_names() if get_method(n).uses_layer]


def emit(line: str, *, err: bool = False) -> None:
    """Print a line without breaking an active tqdm bar."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr if err else sys.stdout)
