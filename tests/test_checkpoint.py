from pathlib import Path

import pytest
import torch

from captum_nas._checkpoint import read_checkpoint, read_torch_file


def test_read_torch_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    torch.save({"w": torch.arange(3), "n": 2}, path)
    loaded = read_torch_file(path, "a test file")
    assert loaded["n"] == 2
    assert torch.equal(loaded["w"], torch.arange(3))


def test_read_torch_file_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"not found: .*nope\.pt \(expected a test file\)"):
        read_torch_file(tmp_path / "nope.pt", "a test file")


def test_read_torch_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    path.write_text("not a torch file\nsecond line")
    with pytest.raises(ValueError, match=r"cannot read .*bad\.pt as a test file: ") as info:
        read_torch_file(path, "a test file")
    assert "\n" not in str(info.value)


def test_read_torch_file_refuses_pickled_objects(tmp_path: Path) -> None:
    path = tmp_path / "obj.pt"
    torch.save({"module": torch.nn.Linear(2, 2)}, path)
    with pytest.raises(ValueError, match="cannot read"):
        read_torch_file(path, "a test file")


def test_read_checkpoint_needs_state_dict_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match=r"is not a test checkpoint \(no state_dict and metadata"):
        read_checkpoint(path, "a test checkpoint")
    torch.save({"state_dict": {"w": torch.ones(1)}, "metadata": {"seed": 0}}, path)
    assert read_checkpoint(path, "a test checkpoint")["metadata"] == {"seed": 0}
