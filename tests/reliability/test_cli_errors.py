"""User errors and internal errors on the command line.

A user's mistake is one line and exit status 2; an unexpected exception (a bug, an
error inside torch or numpy, an error of the user's own model code) is one line naming
the exception with a hint to ``--debug``, exit status 1; ``--debug`` on every
subcommand prints the traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from captum_nas.cli import (
    SUBCOMMANDS,
    InternalError,
    UsageError,
    build_parser,
    is_user_error,
    main,
    raised_by_our_checks,
)

TINY = "tests.conftest:TinyCNN"

#: one user mistake per subcommand, found before any real work
USER_MISTAKES = {
    "explain": ["explain", "--model", "no-such-model"],
    "evaluate": ["evaluate", "--model", "no-such-model", "--quiet"],
    "benchmark": ["benchmark", "--model", "no-such-model"],
    "train-reference": ["train-reference", "--out", "{file}/x.pt"],
    "train-guided": ["train-guided", "--out", "{file}/x.pt"],
    "train-explainer": ["train-explainer", "--model", "resnet18"],
}


def _caught(raise_it) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        raise_it()
    except BaseException as err:  # the test inspects it
        return err
    raise AssertionError("nothing raised")


def test_every_subcommand_has_a_user_mistake_case() -> None:
    assert set(USER_MISTAKES) == set(SUBCOMMANDS)


@pytest.mark.parametrize("command", sorted(USER_MISTAKES))
@pytest.mark.parametrize("where", ["after", "before", "none"])
def test_debug_on_every_subcommand_shows_the_traceback(
    command: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("x")
    argv = [a.format(file=a_file) for a in USER_MISTAKES[command]]
    argv += ["--out", str(tmp_path / "out.pt")] if command == "train-explainer" else []
    if where == "after":
        argv = [*argv, "--debug"]
    elif where == "before":
        argv = ["--debug", *argv]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"captum-nas {command}: error:"), err
    if where == "none":
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    else:
        assert err.startswith("Traceback (most recent call last):"), err


def test_an_internal_error_is_exit_1_with_a_debug_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import captum_nas.cli.explain as explain

    def broken(*args: object, **kwargs: object) -> list[str]:
        return list(np.zeros(2) + np.zeros(3))  # a bug: numpy raises ValueError

    monkeypatch.setattr(explain, "collect_images", broken)
    code = main(["explain", "--model", TINY])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("captum-nas explain: internal error: ValueError: operands could not")
    assert "rerun with --debug" in err
    assert main(["explain", "--model", TINY, "--debug"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "np.zeros(2) + np.zeros(3)" in err


@pytest.mark.parametrize(
    ("make", "user"),
    [
        pytest.param(lambda: UsageError("bad --out"), True, id="usage-error"),
        pytest.param(lambda: FileNotFoundError(2, "No such file", "x.png"), True, id="named-file"),
        pytest.param(lambda: RuntimeError("CUDA out of memory"), False, id="runtime-error"),
        pytest.param(lambda: InternalError("rank 1: ValueError: x"), False, id="internal"),
        pytest.param(lambda: KeyError("k"), False, id="key-error"),
    ],
)
def test_is_user_error_by_type(make, user: bool) -> None:  # type: ignore[no-untyped-def]
    def raise_it() -> None:
        raise make()

    assert is_user_error(_caught(raise_it)) is user


def test_value_and_type_errors_count_as_user_errors_only_from_our_checks() -> None:
    from captum_nas._validation import check_positive_int, check_seed

    ours = [
        _caught(lambda: check_seed(-1)),  # ValueError of our validation layer
        _caught(lambda: check_positive_int(2.5, "n")),  # TypeError of our validation layer
    ]
    theirs = [
        _caught(lambda: np.zeros(2) + np.zeros(3)),  # ValueError inside numpy
        _caught(lambda: int("x")),  # ValueError of a failing expression (here: a test)
        _caught(lambda: len(5)),  # type: ignore[arg-type]  # TypeError of a builtin
    ]
    assert [is_user_error(e) for e in ours] == [True, True]
    assert [raised_by_our_checks(e) for e in theirs] == [False, False, False]
    assert [is_user_error(e) for e in theirs] == [False, False, False]


def test_every_subcommand_parser_has_debug() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, sub_parser in sub.choices.items():  # type: ignore[union-attr]
        assert "--debug" in sub_parser._option_string_actions, name
