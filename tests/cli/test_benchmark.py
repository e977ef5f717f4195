"""``captum-nas benchmark`` through ``captum_nas.cli.main``."""

from __future__ import annotations

import pytest

from captum_nas.cli import main


def test_benchmark_prints_both_times_and_their_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["benchmark", "--model", "tests.conftest:TinyCNN", "--batch-size", "2"]
    argv += ["--image-size", "32", "--n-segments", "4", "--repeats", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "batch 2 x 32px, K=4" in out
    times = {}
    for line in out.splitlines():
        if line.startswith("| NAS") or line.startswith("| SLIC"):
            times[line.split("|")[1].split()[0]] = float(line.split("|")[2].split()[0])
    ratio = float(out.split("NAS / SLIC time ratio:")[1])
    assert set(times) == {"NAS", "SLIC"}
    # the times are printed to 3 decimals and the ratio to 2: the printed ratio must lie in
    # the interval the rounded times allow (exact interval arithmetic, no timing tolerance)
    half, n, s = 0.0005, times["NAS"], times["SLIC"]
    low = max(n - half, 0.0) / (s + half) - 0.005
    high = (n + half) / (s - half) + 0.005 if s > half else float("inf")
    assert low <= ratio <= high


def test_benchmark_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--repeats", "0"]) == 2
    assert "argument --repeats: must be >= 1" in capsys.readouterr().err
