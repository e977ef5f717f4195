"""The per-batch result store of ``--resume``: atomic files, settings checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from captum_nas.evaluation.shards import ShardStore, atomic_write_text


def _records(batch: int) -> list[dict]:
    return [
        {
            "batch": batch,
            "position": i,
            "name": f"img-{batch}-{i}",
            "label": i,
            "prediction": 0,
            "results": {"m": {"s": {"dtype": "float32", "box_v1": torch.arange(3.0) + i}}},
        }
        for i in range(2)
    ]


def test_save_load_round_trip_and_no_temporary_files(tmp_path: Path) -> None:
    store = ShardStore(tmp_path / "shards", {"methods": ("a", "b"), "n": 4})
    store.prepare(resume=False)
    store.save(3, _records(3))
    store.save(0, _records(0))
    assert store.indices() == [0, 3]
    assert store.has(3) and not store.has(1)
    back = store.load(3)
    assert back[1]["name"] == "img-3-1"
    assert torch.equal(back[1]["results"]["m"]["s"]["box_v1"], torch.tensor([1.0, 2.0, 3.0]))
    assert sorted(p.name for p in store.root.iterdir()) == [
        "batch-000000.pt",
        "batch-000003.pt",
        "settings.json",
    ]


def test_resume_keeps_batches_a_fresh_run_deletes_them(tmp_path: Path) -> None:
    settings = {"methods": ["a"], "seed": 0}
    store = ShardStore(tmp_path, settings)
    store.prepare(resume=False)
    store.save(0, _records(0))
    ShardStore(tmp_path, {"seed": 0, "methods": ("a",)}).prepare(resume=True)  # same settings
    assert store.indices() == [0]
    ShardStore(tmp_path, settings).prepare(resume=False)
    assert store.indices() == []


def test_resume_with_other_settings_is_an_error_naming_the_difference(tmp_path: Path) -> None:
    ShardStore(tmp_path, {"seed": 0, "n": 8}).prepare(resume=False)
    with pytest.raises(ValueError, match=r"other settings \(seed: stored 0, now 1\)"):
        ShardStore(tmp_path, {"seed": 1, "n": 8}).prepare(resume=True)
    with pytest.raises(ValueError, match="nothing to resume from"):
        ShardStore(tmp_path / "empty", {"seed": 0}).check()
    ShardStore(tmp_path / "new", {"seed": 0}).prepare(resume=True)  # nothing stored: fine


def test_broken_or_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    store = ShardStore(tmp_path, {})
    store.prepare(resume=False)
    store.path(2).write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"cannot read stored batch .*batch-000002\.pt"):
        store.load(2)
    store.save(1, _records(1))
    store.path(1).rename(store.path(4))
    with pytest.raises(ValueError, match="does not hold batch 4"):
        store.load(4)
    with pytest.raises(ValueError, match="`index`"):
        store.path(-1)
    with pytest.raises(TypeError, match="`settings`"):
        ShardStore(tmp_path, ["not", "a", "mapping"])  # type: ignore[arg-type]


def test_atomic_write_text_replaces_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
