"""Signatures written once: expanded options, generated docstrings, typed overloads."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import captum_nas.attr as nas_attr
from captum_nas.attr._signature import expanded_signature

ROOT = Path(__file__).resolve().parents[2]

# every call a user makes, with the type mypy must give it (or the error it must report)
TYPED_CALLS = """
from typing import assert_type

import torch
from torch import Tensor

from captum_nas.attr import AttributionResult, NASGradCam, NASIntegratedGradients, NASLime
from captum_nas.attr._signature import _Out

m = torch.nn.Conv2d(3, 2, 1)
x = torch.zeros(1, 3, 4, 4)
ig = NASIntegratedGradients(m, n_segments=4)
assert_type(ig.attribute(x, None, 3, n_steps=5), Tensor)
assert_type(ig.attribute((x,), target=3), tuple[Tensor, ...])
assert_type(ig.attribute(x, target=3, return_result=True), AttributionResult)
assert_type(ig.attribute(x, target=3, return_convergence_delta=True), tuple[Tensor, Tensor])
assert_type(ig.attribute(x, target=3, return_segments=True), tuple[Tensor, Tensor])
assert_type(
    ig.attribute(x, target=3, return_convergence_delta=True, return_segments=True),
    tuple[Tensor, Tensor, Tensor],
)
assert_type(NASLime(m).attribute(x, n_samples=3), Tensor)
assert_type(NASGradCam(m, m, relu_attributions=False).attribute(x, 0, None, False, None), Tensor)
flag = bool(x.sum() > 0)
assert_type(ig.attribute(x, target=3, return_convergence_delta=flag), _Out[Tensor])
assert_type(ig.attribute(x, target=3, return_result=flag), _Out[Tensor])
ig.attribute(x, target=3, n_step=5)  # error: misspelt Captum argument
ig.attribute(x, target=3, segments="ids")  # error: wrong type of our option
NASLime(m, pooling="magnitude")  # error: segment-level classes pool nothing
NASIntegratedGradients(m, n_segments="4")  # error: wrong type of a constructor option
"""


@pytest.mark.slow
def test_mypy_sees_captums_parameters_our_options_and_the_literal_overloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = pytest.importorskip("mypy.api")
    source = tmp_path / "typed_calls.py"
    source.write_text(TYPED_CALLS)
    monkeypatch.chdir(ROOT)  # the project's mypy config, this checkout's package
    stdout, _, _ = api.run([str(source), "--config-file", str(ROOT / "pyproject.toml")])
    errors = {int(n) for n in re.findall(r"typed_calls\.py:(\d+): error", stdout)}
    expected = {i for i, line in enumerate(TYPED_CALLS.splitlines(), 1) if "# error" in line}
    assert errors == expected, stdout


def test_options_are_written_out_with_superpixel_attributions_defaults() -> None:
    sig = inspect.signature(nas_attr.NASSaliency.__init__)
    wrapper = inspect.signature(nas_attr.SuperpixelAttribution.__init__).parameters
    for name in ("segmenter", "pooling", "reduce", "channel_reduce", "n_segments"):
        assert sig.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters[name].default == wrapper[name].default
    assert "pooling" not in inspect.signature(nas_attr.NASLime.__init__).parameters


def test_a_signature_without_typed_options_is_refused() -> None:
    def no_options(self: Any, inputs: Any, **kwargs: Any) -> None: ...

    with pytest.raises(TypeError, match="Unpack"):
        expanded_signature(no_options)


def test_docstrings_name_the_captum_class_and_its_arguments() -> None:
    for name in nas_attr.__all__:
        cls = getattr(nas_attr, name)
        if not (name.startswith("NAS") and issubclass(cls, nas_attr.CaptumSuperpixelMethod)):
            continue
        captum = cls.captum_class.__name__
        doc = inspect.getdoc(cls.attribute) or ""
        assert f"Captum's ``{captum}.attribute``" in doc, name
        captum_args = inspect.signature(cls.captum_class.attribute).parameters.values()
        listed = textwrap.dedent(doc).replace("\n", " ")
        for arg in list(captum_args)[2:]:  # after self and inputs
            if arg.kind is not arg.VAR_KEYWORD:
                assert arg.name in listed, (name, arg.name)
        assert f"``captum.attr.{captum}``" in (cls.__doc__ or ""), name
        assert "segmenter" in (cls.__doc__ or ""), name
