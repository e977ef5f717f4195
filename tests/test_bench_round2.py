"""``benchmarks/bench_round2.py`` refuses a bad ``--device`` in one line, before any work."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_round2.py"

CASES = [
    (["--device", "tpu"], "--device must be cpu, cuda or cuda:N, got 'tpu'"),
    (["--device", "meta"], "--device must be cpu, cuda or cuda:N, got 'meta'"),
]
if torch.cuda.is_available():
    CASES.append((["--device", "cuda", "--clock", "cpu"], "use it with --device cpu"))
else:
    CASES.append((["--device", "cuda"], "--device cuda: CUDA is not available"))


@pytest.mark.parametrize(("args", "message"), CASES)
def test_bad_device_is_refused(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "load average" not in done.stdout  # refused before the benchmark started
