"""End-to-end tests of ``captum-nas explain`` through ``captum_nas.cli.main``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from captum_nas.cli import main
from captum_nas.cli.explain import resolve_target

TINY = "tests.conftest:TinyCNN"
CAT_CLASSES = {"Egyptian cat", "tabby", "tiger cat", "Persian cat", "Siamese cat", "lynx"}


def _check_record(rec: dict, top_k: int) -> None:
    scores = rec["segment_scores"]
    assert rec["n_segments"] == len(scores) > top_k
    assert len(rec["top_k"]) == top_k
    ranked = [scores[i] for i in rec["top_k"]]
    assert ranked == sorted(ranked, reverse=True)
    assert max(s for s in scores if s == s) == ranked[0]
    assert set(rec["timing"]) == {"segmentation_s", "attribution_s", "total_s"}


def test_default_image_saliency_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["explain", "--method", "saliency", "--out", str(tmp_path), "--top-k", "4"])
    assert code == 0
    png, js = tmp_path / "chelsea.png", tmp_path / "chelsea.json"
    assert png.is_file() and js.is_file()
    assert io.imread(png).ndim == 3
    rec = json.loads(js.read_text())
    assert rec["prediction"] in CAT_CLASSES
    assert rec["prediction"] == "Egyptian cat"
    assert rec["target"] == rec["prediction"] and rec["target_index"] == 285
    assert 0.0 < rec["probability"] <= 1.0
    assert (rec["method"], rec["segmenter"], rec["model"]) == (
        "saliency",
        "nas",
        "efficientnet-lite0",
    )
    _check_record(rec, 4)
    assert all(s >= 0 for s in rec["segment_scores"])  # pooled |gradient|
    out = capsys.readouterr().out
    assert "Egyptian cat" in out and str(png) in out


def test_ig_with_target_name_and_grid(tmp_path: Path) -> None:
    code = main(
        [
            "explain",
            "--method",
            "ig",
            "--n-steps",
            "4",
            "--segmenter",
            "grid",
            "--n-segments",
            "16",
            "--target",
            "tabby",
            "--image-size",
            "160",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    rec = json.loads((tmp_path / "chelsea.json").read_text())
    assert rec["target"] == "tabby" and rec["target_index"] == 281
    assert rec["n_segments"] == 16
    _check_record(rec, 5)


def _write_images(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"img{i}.png"
        io.imsave(p, rng.integers(0, 255, (40, 48, 3), dtype=np.uint8), check_contrast=False)
        paths.append(p)
    (folder / "notes.txt").write_text("not an image, skipped in folders")
    return paths


@pytest.mark.parametrize("method", ["gradcam", "lime", "occlusion"])
def test_folder_of_images_with_tiny_model(
    tmp_path: Path, method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_images(tmp_path / "imgs", 2)
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(tmp_path / "imgs"),
            "--model",
            TINY,
            "--method",
            method,
            "--segmenter",
            "grid",
            "--n-segments",
            "9",
            "--image-size",
            "32",
            "--top-k",
            "3",
            "--n-steps",
            "16",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    for stem in ("img0", "img1"):
        rec = json.loads((out / f"{stem}.json").read_text())
        assert rec["prediction"].startswith("class ")
        _check_record(rec, 3)
        assert (out / f"{stem}.png").is_file()
    assert capsys.readouterr().out.count("->") == 2


def test_segmenter_none_uses_plain_captum(tmp_path: Path) -> None:
    code = main(_tiny_args(tmp_path, "--method", "saliency", "--segmenter", "none"))
    assert code == 0
    rec = json.loads((tmp_path / "coffee.json").read_text())
    assert rec["segment_scores"] is None and rec["top_k"] is None and rec["n_segments"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.png"], "not found"),
        (["--model", "no-such-model"], "unknown model"),
        (["--model", "resnet18"], "needs --weights"),
        (["--model", "no_such_module_xyz:f"], "cannot import"),
        (["--method", "magic"], "unknown method"),
        (["--segmenter", "magic"], "unknown segmenter"),
        (["--model", TINY, "--method", "gradcam", "--layer", "layer9"], "layer9"),
        (["--model", TINY, "--target", "99"], "out of range"),
        (["--model", TINY, "--target", "zebra"], "neither a class index"),
        (["--method", "lime", "--segmenter", "none"], "works on segments"),
        (["--top-k", "0"], "top-k"),
        (["--n-segments", "-3"], "n-segments"),
        (["sample:nothing"], "unknown sample"),
    ],
)
def test_bad_input_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["explain", *argv, "--image-size", "32", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("captum-nas explain: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_not_an_image_and_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    # into its own folder the figure fake.png would replace the input: refused first
    assert main(["explain", str(fake), "--model", TINY, "--out", str(tmp_path)]) == 2
    assert "fake.png would replace the input image" in capsys.readouterr().err
    assert main(["explain", str(fake), "--model", TINY, "--out", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["explain", str(empty), "--out", str(tmp_path)]) == 2
    assert "no images" in capsys.readouterr().err


def test_resolve_target() -> None:
    names = ("cat", "dog", "Egyptian cat")
    assert resolve_target(None, names) is None
    assert resolve_target("2", names) == 2
    assert resolve_target("egyptian CAT", names) == 2
    with pytest.raises(Exception, match="did you mean 'dog'"):
        resolve_target("dgo", names)


def _tiny_args(out: Path, *extra: str) -> list[str]:
    return [
        "explain",
        "sample:coffee",
        "--model",
        TINY,
        "--image-size",
        "32",
        "--n-segments",
        "6",
        "--n-steps",
        "4",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def _numbers(js: Path) -> dict:
    rec = json.loads(js.read_text())
    rec.pop("timing")
    for key in ("figure", "arrays"):
        rec.pop(key)
    return rec


def test_runs_are_reproducible_and_recorded(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from tests.conftest import TinyCNN

    torch.manual_seed(5)
    weights = tmp_path / "tiny.pt"
    torch.save(TinyCNN().state_dict(), weights)
    args = ("--method", "GradientShap", "--seed", "3", "--weights", str(weights))
    runs = []
    for name in ("a", "b", "c"):
        seed = "4" if name == "c" else "3"
        argv = _tiny_args(tmp_path / name, *args[:-4], "--seed", seed, *args[-2:])
        assert main(argv) == 0
        runs.append(_numbers(tmp_path / name / "coffee.json"))
    a, b, c = runs
    assert a == b  # same JSON numbers, settings included
    assert a["segment_scores"] != c["segment_scores"]  # the seed is honoured
    settings = a["settings"]
    assert settings["method"] == "gradientshap" and settings["seed"] == 3
    assert settings["method_options"]["n_samples"] == 4
    assert settings["method_options"]["baselines"]["tensor_shape"] == [4, 3, 32, 32]
    assert (settings["image_size"], settings["resize"], settings["n_segments"]) == (32, "crop", 6)
    model = settings["model"]
    assert model["weights"] == str(weights)
    assert model["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert {"captum-nas", "torch", "captum", "scikit-image"} <= set(settings["versions"])
    arrays = [np.load(tmp_path / n / "coffee.npz") for n in ("a", "b")]
    assert set(arrays[0].files) == {"segments", "scores", "pixel_map", "map"}
    for key in arrays[0].files:
        assert np.array_equal(arrays[0][key], arrays[1][key])
    seg, scores = arrays[0]["segments"], arrays[0]["scores"]
    assert seg.shape == (32, 32) and scores.shape == (int(seg.max()) + 1,)
    assert np.allclose(scores, a["segment_scores"])


def test_random_weights_predict_the_same_class_for_the_same_seed(tmp_path: Path) -> None:
    preds = []
    for name, seed in (("a", "1"), ("b", "1")):
        argv = ["explain", "sample:coffee", "--model", "reference", "--random-weights"]
        argv += ["--seed", seed, "--method", "saliency", "--segmenter", "grid"]
        assert main([*argv, "--image-size", "32", "--out", str(tmp_path / name)]) == 0
        rec = json.loads((tmp_path / name / "coffee.json").read_text())
        preds.append((rec["prediction_index"], rec["probability"]))
    assert preds[0] == preds[1]


def test_folder_with_bad_files_is_reported_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder, 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "sub").mkdir()
    io.imsave(folder / "sub" / "deep.png", np.zeros((20, 20, 3), np.uint8), check_contrast=False)
    common = [str(folder), "--model", TINY, "--method", "saliency", "--segmenter", "grid"]
    common += ["--n-segments", "4", "--image-size", "32", "--quiet"]
    assert main(["explain", *common, "--out", str(tmp_path / "skip")]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "skip").glob("*.json")) == ["img0.json", "img1.json"]
    assert "skipped" in captured.err and "broken.jpg" in captured.err
    assert "explained 2 of 3 images; skipped 1 unreadable" in captured.err
    assert "Traceback" not in captured.err
    assert main(["explain", *common, "--recursive", "--out", str(tmp_path / "rec")]) == 0
    names = sorted(p.name for p in (tmp_path / "rec").glob("*.json"))
    assert names == ["deep.json", "img0.json", "img1.json"]
    capsys.readouterr()
    assert main(["explain", *common, "--on-error", "fail", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "broken.jpg" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "salency"], "did you mean 'saliency'"),
        (["--method", "saliency", "--layer", "layer1"], "--layer is not used by method"),
        (["--segmenter", "slik"], "did you mean 'slic'"),
        (["--n-steps", "0"], "must be >= 1"),
        (["--resize", "pad"], "invalid choice"),
        (["--device", "toaster"], "bad device"),
        (["--on-error", "ignore"], "invalid choice"),
    ],
)
def test_typed_options_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["explain", "--model", TINY, *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("captum-nas explain: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_method_names_are_case_insensitive_and_layers_recorded(tmp_path: Path) -> None:
    assert main(_tiny_args(tmp_path, "--method", "GradCAM", "--layer", "layer1")) == 0
    rec = json.loads((tmp_path / "coffee.json").read_text())
    assert rec["method"] == "gradcam" and rec["layer"] == "layer1"
    assert rec["settings"]["layer"] == "layer1"
    assert main(_tiny_args(tmp_path, "--method", "IG", "--overwrite")) == 0
    assert json.loads((tmp_path / "coffee.json").read_text())["method"] == "integrated-gradients"


def test_captum_gradient_warning_does_not_leak(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(_tiny_args(tmp_path, "--method", "saliency")) == 0
    texts = [str(w.message) for w in caught] + [capsys.readouterr().err]
    assert not any("did not already require gradients" in t for t in texts)
