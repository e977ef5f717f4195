"""`captum-nas explain/evaluate --method relevant-features` and the --selector option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from captum_nas.cli import main
from captum_nas.interpretation import shipped_selector_path


def test_explain_with_a_selector_file(tmp_path: Path) -> None:
    selector = str(shipped_selector_path("reference"))
    argv = ["explain", "sample:chelsea", "--model", "reference", "--method", "relevant-features"]
    argv += ["--segmenter", "none", "--quiet", "--out", str(tmp_path), "--selector", selector]
    assert main(argv) == 0
    record = json.loads((tmp_path / "chelsea.json").read_text())
    assert record["method"] == "relevant-features"
    assert record["settings"]["selector"]["path"] == selector
    assert len(record["settings"]["selector"]["sha256"]) == 64


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["explain", "--method", "ig", "--selector", "x.pt", "--model", "reference"],
            "only read by",
        ),
        (["evaluate", "--methods", "ig", "--selector", "x.pt", "--n", "2"], "only read by"),
        (
            ["explain", "--method", "relevant-features", "--model", "resnet18", "--random-weights"],
            "--selector PATH",
        ),
        (
            [
                "explain",
                "--method",
                "relevant-features",
                "--model",
                "reference",
                "--selector",
                "missing.pt",
            ],
            "missing.pt",
        ),
    ],
)
def test_selector_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [*argv, "--out", str(tmp_path), "--quiet"]
        if argv[0] == "explain"
        else [*argv, "--out", str(tmp_path)]
    )
    assert code != 0
    assert message in capsys.readouterr().err
