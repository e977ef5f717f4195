"""No data loss on the command line: every output is checked before the work starts,
written atomically, and an existing one is replaced only with ``--overwrite``.

The refusals happen before any training or model run, so every case here is fast; the
two real runs (a tiny ``train-reference`` and a tiny ``explain``/``evaluate``) show that
the default path is a user path and that ``--overwrite`` / ``--resume`` keep working.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from captum_nas.cli import main
from captum_nas.cli._output import staged_folder, write_atomic
from captum_nas.models.reference import reference_checkpoint_path

TINY = "tests.conftest:TinyCNN"
EXPLAIN = ["explain", "--model", TINY, "--image-size", "32", "--segmenter", "grid", "--quiet"]
EXPLAIN += ["--method", "saliency", "--n-segments", "4"]
EVALUATE = ["evaluate", "--model", TINY, "--n", "2", "--batch-size", "2", "--image-size", "32"]
EVALUATE += ["--no-curves", "--methods", "saliency", "--segmenters", "grid", "--quiet"]
TRAIN_REFERENCE = ["train-reference", "--epochs", "1", "--n-train", "8", "--batch-size", "8"]
TRAIN_REFERENCE += ["--image-size", "32"]
TRAIN_GUIDED = ["train-guided", "--n-train", "8", "--epochs", "1", "--no-progress"]
TRAIN_EXPLAINER = ["train-explainer", "--epochs", "1", "--n-train", "8", "--no-progress"]

#: subcommand -> (arguments, what --out is: "file" or the file written in the folder)
WRITERS = {
    "train-reference": (TRAIN_REFERENCE, "file"),
    "train-guided": (TRAIN_GUIDED, "file"),
    "train-explainer": (TRAIN_EXPLAINER, "file"),
    "explain": ([*EXPLAIN, "sample:chelsea"], "chelsea.json"),
    "evaluate": (EVALUATE, "results.json"),
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"captum-nas {command}: error:"), err
    return lines[0]


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_existing_output_is_refused_without_overwrite(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, kind = WRITERS[command]
    target = tmp_path / "model.pt" if kind == "file" else tmp_path / kind
    target.write_text("an earlier result")
    out = target if kind == "file" else tmp_path
    code, err = _run([*argv, "--out", str(out)], capsys)
    line = _one_line_error(err, command)
    assert code == 2
    assert f"--out {out}" in line and "--overwrite" in line, line
    assert target.read_text() == "an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # nothing else written


@pytest.mark.parametrize("command", sorted(WRITERS))
@pytest.mark.parametrize("problem", ["wrong-kind", "under-a-file", "not-writable"])
def test_an_impossible_output_path_is_one_line_naming_out(
    command: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, kind = WRITERS[command]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    if problem == "wrong-kind":  # a folder where a file is needed, or the reverse
        out, expected = (tmp_path, "is a folder") if kind == "file" else (a_file, "is a file")
    elif problem == "under-a-file":
        out, expected = a_file / "sub" / "x.pt", f"lies under the file {a_file}"
    else:
        if not Path("/sys/kernel").is_dir():  # sysfs: no new entries, not even for root
            pytest.skip("needs a folder that cannot be written: /sys on Linux")
        out, expected = Path("/sys/captum-nas-test/x.pt"), "cannot write in /sys"
    code, err = _run([*argv, "--out", str(out)], capsys)
    line = _one_line_error(err, command)
    assert code == 2 and f"--out {out}" in line and expected in line, line
    assert a_file.read_text() == "x"


@pytest.mark.parametrize("command", ["train-guided", "train-explainer"])
def test_an_existing_training_checkpoint_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, _ = WRITERS[command]
    ckpt = tmp_path / "run.ckpt"
    ckpt.write_text("an earlier run")
    code, err = _run([*argv, "--checkpoint", str(ckpt), "--out", str(tmp_path / "m.pt")], capsys)
    line = _one_line_error(err, command)
    assert code == 2 and f"--checkpoint {ckpt} exists" in line and "--overwrite" in line
    assert ckpt.read_text() == "an earlier run"


@pytest.mark.slow
def test_train_reference_never_replaces_the_shipped_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = reference_checkpoint_path("single")
    before = (_sha(shipped), shipped.stat().st_mtime_ns)
    monkeypatch.chdir(tmp_path)
    assert main(TRAIN_REFERENCE) == 0  # no --out: a user path under the working directory
    written = tmp_path / "outputs" / "reference_flowers_single.pt"
    assert capsys.readouterr().out.startswith(f"saved {written.relative_to(tmp_path)}")
    first = _sha(written)
    # again without --overwrite: refused before training; the file stays as it was
    code, err = _run(TRAIN_REFERENCE, capsys)
    assert code == 2 and "exists; pass --overwrite" in err and _sha(written) == first
    # the shipped file itself, named explicitly: refused too
    code, err = _run([*TRAIN_REFERENCE, "--out", str(shipped)], capsys)
    assert code == 2 and f"--out {shipped} exists" in err
    assert main([*TRAIN_REFERENCE, "--overwrite"]) == 0
    assert _sha(written) != first  # replaced (the metadata holds the new timing)
    assert sorted(p.name for p in written.parent.iterdir()) == [written.name]  # no temp file
    assert (_sha(shipped), shipped.stat().st_mtime_ns) == before


@pytest.mark.slow
def test_explain_and_evaluate_refuse_then_overwrite_or_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "explain"
    assert main([*EXPLAIN, "sample:chelsea", "--out", str(out)]) == 0
    first = json.loads((out / "chelsea.json").read_text())
    code, err = _run([*EXPLAIN, "sample:chelsea", "--out", str(out)], capsys)
    assert code == 2 and "already holds output of an earlier run (chelsea.png" in err
    assert main([*EXPLAIN, "sample:chelsea", "--out", str(out), "--resume"]) == 0
    assert "kept from an earlier run" in capsys.readouterr().out
    assert main([*EXPLAIN, "sample:chelsea", "--out", str(out), "--overwrite"]) == 0
    again = json.loads((out / "chelsea.json").read_text())
    assert again["segment_scores"] == first["segment_scores"]
    assert sorted(p.name for p in out.iterdir()) == ["chelsea.json", "chelsea.npz", "chelsea.png"]
    # a different image in the same folder is no clash
    assert main([*EXPLAIN, "sample:coffee", "--out", str(out)]) == 0

    out = tmp_path / "evaluate"
    assert main([*EVALUATE, "--out", str(out)]) == 0
    report = (out / "results.json").read_text()
    code, err = _run([*EVALUATE, "--out", str(out)], capsys)
    assert code == 2 and "already holds output of an earlier run (results.md" in err.strip()
    assert (out / "results.json").read_text() == report
    assert main([*EVALUATE, "--out", str(out), "--resume"]) == 0  # reuses its folder
    assert json.loads((out / "results.json").read_text())["rows"] == json.loads(report)["rows"]
    assert main([*EVALUATE, "--out", str(out), "--overwrite"]) == 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left


def test_explain_never_replaces_its_input_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    image = tmp_path / "cat.png"
    Image.new("RGB", (40, 40), (120, 80, 40)).save(image)
    before = _sha(image)
    for extra in ([], ["--overwrite"], ["--resume"]):
        code, err = _run([*EXPLAIN, str(image), "--out", str(tmp_path), *extra], capsys)
        line = _one_line_error(err, "explain")
        assert code == 2 and "the output cat.png would replace the input image" in line
    assert _sha(image) == before and sorted(p.name for p in tmp_path.iterdir()) == ["cat.png"]


def test_write_atomic_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_text("old")

    def half_then_fail(path: Path) -> None:
        path.write_text("half a fi")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    # the writer sees the destination's suffix (savefig and np.savez read it)
    seen: list[str] = []
    write_atomic(target, lambda p: (seen.append(p.suffix), p.write_text("new")))
    assert seen == [".json"] and target.read_text() == "new"


def test_staged_folder_publishes_all_files_or_none(tmp_path: Path) -> None:
    (tmp_path / "results.md").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(tmp_path) as staging:
        (staging / "results.md").write_text("new")
        raise RuntimeError("the report writer failed")
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]
    assert (tmp_path / "results.md").read_text() == "old"
    with staged_folder(tmp_path) as staging:
        (staging / "results.md").write_text("new")
        (staging / "results.csv").write_text("a,b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.md"]
    assert (tmp_path / "results.md").read_text() == "new"
