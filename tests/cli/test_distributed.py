"""The scale-out command lines: torchrun's parser, the README command, explain over ranks."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

from captum_nas.cli import build_parser, main
from captum_nas.cli._distributed import strip_option

README = Path(__file__).resolve().parents[2] / "README.md"


def _subcommand_options(name: str) -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(o for a in sub.choices[name]._actions for o in a.option_strings)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_every_option_survives_torchruns_parser(command: str) -> None:
    """torchrun reads the whole command line and rejects abbreviations of its options."""
    from torch.distributed.run import get_args_parser

    def passes(option: str) -> bool:
        argv = ["--standalone", "--nproc_per_node=2", "-m", "captum_nas.cli", command]
        try:
            args = get_args_parser().parse_args([*argv, option, "1"])
        except SystemExit:
            return False
        return args.training_script_args == [command, option, "1"]

    options = [o for o in _subcommand_options(command) if o not in ("-h", "--help")]
    assert "--resume" in options and "--distributed" in options and "--dist-timeout" in options
    rejected = [o for o in options if not passes(o)]
    # only the old spelling `--n` of `--num-images` (kept as an alias) is rejected
    assert rejected == (["--n"] if "--n" in options else [])
    if command == "evaluate":
        assert "--num-images" in options


def test_strip_option() -> None:
    argv = ["evaluate", "--distributed", "2", "--quiet", "--distributed=3", "--out", "x"]
    assert strip_option(argv, "--distributed") == ["evaluate", "--quiet", "--out", "x"]
    assert strip_option(["explain", "--distributed-x"], "--distributed") == [
        "explain",
        "--distributed-x",
    ]


def test_distributed_option_is_refused_under_torchrun(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["evaluate", "--distributed", "2", "--num-images", "1"]) == 2
    assert "do not give it under torchrun" in capsys.readouterr().err


def _tiny_evaluate(n: int, out: Path, *options: str) -> list[str]:
    """``evaluate`` argv: ``n`` 32-px images one per batch, saliency unpooled, quiet."""
    argv = ["evaluate", *options, "--num-images", str(n), "--batch-size", "1"]
    argv += ["--image-size", "32", "--methods", "saliency", "--segmenters", "none"]
    return [*argv, "--quiet", "--out", str(out)]


def _readme_command() -> list[str]:
    """The quick-check command of the README's scale-out section, as argv."""
    text = README.read_text()
    match = re.search(
        r"^torchrun --standalone --nproc_per_node=2 -m captum_nas\.cli evaluate.*$", text, re.M
    )
    assert match, "README lost its torchrun quick-check command"
    return match.group(0).split()


@pytest.mark.slow
def test_readme_torchrun_command_gives_the_single_process_report(tmp_path: Path) -> None:
    argv = _readme_command()
    out = argv.index("--out")
    script_args = argv[argv.index("captum_nas.cli") + 1 :]
    single = [*script_args]
    single[single.index("--out") + 1] = str(tmp_path / "single")
    argv[out + 1] = str(tmp_path / "torchrun")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torchrun's ranks run one thread each
    try:
        assert main([*single, "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(README.parent)}
    command = [sys.executable, "-m", "torch.distributed.run", *argv[1:], "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| method | segmenter |" in done.stdout  # rank 0 printed the table, once
    assert done.stdout.count("| method | segmenter |") == 1
    single_json = (tmp_path / "single" / "results.json").read_text()
    assert (tmp_path / "torchrun" / "results.json").read_text() == single_json
    assert sorted(p.name for p in (tmp_path / "torchrun" / "shards").iterdir()) == sorted(
        p.name for p in (tmp_path / "single" / "shards").iterdir()
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _explain_rank(rank: int, port: int, argv: list[str], out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
    )
    code = main(argv)
    Path(out, f"rank{rank}.code").write_text(str(code))


@pytest.fixture
def flower_folder(tmp_path: Path) -> Path:
    from skimage import io

    from captum_nas.datasets import render_flowers

    folder = tmp_path / "images"
    folder.mkdir()
    images = render_flowers(range(3), image_size=48, normalize=False).images
    for i, image in enumerate(images):
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        io.imsave(str(folder / f"flower{i}.png"), array, check_contrast=False)
    return folder


def test_explain_over_two_ranks_writes_every_image_once_and_resumes(
    tmp_path: Path, flower_folder: Path
) -> None:
    out = tmp_path / "out"
    argv = [
        "explain",
        str(flower_folder),
        "--model",
        "reference",
        "--method",
        "saliency",
        "--segmenter",
        "grid",
        "--n-segments",
        "16",
        "--out",
        str(out),
        "--dpi",
        "20",
        "--quiet",
    ]
    mp.start_processes(
        _explain_rank, args=(_free_port(), argv, str(tmp_path)), nprocs=2, start_method="fork"
    )
    assert [Path(tmp_path, f"rank{r}.code").read_text() for r in range(2)] == ["0", "0"]
    records: dict[str, Any] = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert sorted(records) == [f"flower{i}" for i in range(3)]  # each image once
    assert sorted(p.name for p in out.glob("*.png")) == [f"flower{i}.png" for i in range(3)]
    assert all(r["image"].endswith(f"{stem}.png") for stem, r in records.items())
    # one process, --resume: only the image whose JSON is gone is explained again
    (out / "flower1.json").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # like the ranks, so that the redone image's numbers agree
    try:
        assert main([*argv, "--resume"]) == 0
    finally:
        torch.set_num_threads(threads)
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert sorted(after) == sorted([*before, "flower1.json"])
    assert all(after[name] == t for name, t in before.items())
    redone = json.loads((out / "flower1.json").read_text())
    assert redone["segment_scores"] == records["flower1"]["segment_scores"]


def test_distributed_option_starts_torchrun_with_the_rest_of_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import captum_nas.cli._distributed as distributed

    seen: list[list[str]] = []

    def fake_run(command: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        seen.append(command)
        return subprocess.CompletedProcess(command, 3)

    monkeypatch.setattr(distributed.subprocess, "run", fake_run)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    argv = ["explain", "a.png", "--distributed", "4", "--resume", "--quiet"]
    assert main(argv) == 3  # torchrun's exit status is the command's
    assert seen == [
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=4",
            "-m",
            "captum_nas.cli",
            "explain",
            "a.png",
            "--resume",
            "--quiet",
        ]
    ]


class _FailsOnRankOne(torch.nn.Module):
    """A 6-class model whose forward raises in the process with ``RANK=1``."""

    def __init__(self) -> None:
        super().__init__()
        from tests.conftest import TinyCNN

        torch.manual_seed(0)
        self.net = TinyCNN(n_classes=6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if os.environ.get("RANK") == "1":
            raise ValueError("injected failure")
        return self.net(x)


def rank_one_fails() -> torch.nn.Module:
    """``--model tests.cli.test_distributed:rank_one_fails``."""
    return _FailsOnRankOne()


@pytest.mark.slow
def test_a_failing_rank_fails_the_torchrun_job_with_its_error(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "captum_nas.cli",
        *_tiny_evaluate(4, tmp_path, "--model", "tests.cli.test_distributed:rank_one_fails"),
        "--no-curves",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(README.parent)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    # an error raised by the user's model, not by our checks: an internal error (exit 1)
    expected = "captum-nas evaluate: internal error: rank 1: ValueError: injected failure"
    assert expected in done.stderr
    assert not (tmp_path / "results.json").exists()


def test_evaluate_resume_redoes_only_missing_batches_and_refuses_other_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*_tiny_evaluate(3, tmp_path), "--curve-steps", "2"]
    assert main(argv) == 0
    first = (tmp_path / "results.json").read_text()
    shards = tmp_path / "shards"
    assert sorted(p.name for p in shards.glob("batch-*.pt")) == [
        f"batch-00000{i}.pt" for i in range(3)
    ]
    (shards / "batch-000001.pt").unlink()  # as if killed before batch 1 was stored
    kept = {p.name: p.stat().st_mtime_ns for p in shards.glob("batch-*.pt")}
    assert main([*argv, "--resume"]) == 0
    assert (tmp_path / "results.json").read_text() == first
    assert all((shards / name).stat().st_mtime_ns == t for name, t in kept.items())
    assert (shards / "batch-000001.pt").is_file()
    capsys.readouterr()
    assert main([*argv, "--resume", "--seed", "1"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_every_readme_torchrun_command_parses_for_torchrun_and_for_captum_nas() -> None:
    from torch.distributed.run import get_args_parser

    lines = re.findall(r"^torchrun .*$", README.read_text(), re.M)
    assert len(lines) >= 4  # one node CPU, several GPUs, several nodes, resume, explain
    for line in lines:
        launch = get_args_parser().parse_args(line.split()[1:])
        assert launch.module and launch.training_script == "captum_nas.cli"
        script = launch.training_script_args
        if not torch.cuda.is_available():  # --device cuda is checked against this machine
            script = ["cpu" if a == "cuda" else a for a in script]
        args = build_parser().parse_args(script)
        assert args.command in ("evaluate", "explain")
    assert any("--rdzv-endpoint" in line and "--nnodes=4" in line for line in lines)
