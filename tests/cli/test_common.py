"""The command line's shared pieces: --version, --help with defaults, typed options."""

from __future__ import annotations

import argparse

import pytest

from captum_nas.cli import main
from captum_nas.cli._common import int_at_least, method_name, name_list, versions


def test_version_prints_package_and_dependencies(capsys: pytest.CaptureFixture[str]) -> None:
    import captum
    import torch

    import captum_nas

    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"captum-nas {captum_nas.__version__}")
    assert f"torch {torch.__version__}" in out and f"captum {captum.__version__}" in out
    assert set(versions()) >= {"captum-nas", "python", "torch", "torchvision", "numpy"}


@pytest.mark.parametrize("command", ["explain", "evaluate", "benchmark", "train-reference"])
def test_help_shows_defaults(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "(default: " in out
    if command in ("explain", "evaluate"):
        assert "integrated-gradients (ig)" in out and "(default: crop)" in out
    if command == "evaluate":
        assert "filename,x0,y0,x1,y1[,label]" in out and "ROOT/masks/" in out


def test_typed_arguments() -> None:
    at_least_two = int_at_least(2)
    assert at_least_two("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match=">= 2"):
        at_least_two("1")
    with pytest.raises(argparse.ArgumentTypeError, match="integer"):
        at_least_two("two")
    assert method_name("Ig") == "integrated-gradients"
    assert name_list(method_name)("ig, Saliency") == ["integrated-gradients", "saliency"]
    with pytest.raises(argparse.ArgumentTypeError, match="empty"):
        name_list(method_name)(" , ")
