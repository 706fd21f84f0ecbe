"""Checkpoint files: written whole or not at all, and read without running anything they carry."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tpir.stages.trainer import SafeCheckpointIO
from tpir.utils import CheckpointError, load_checkpoint


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint_whole(tmp_path: Path, monkeypatch) -> None:
    io, path = SafeCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 10, "weights": torch.ones(3)}, path)

    def dies_midway(payload, stream) -> None:
        stream.write(b"PK\x03\x04 half of a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"global_step": 20}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path)["global_step"] == 10
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left either


def test_code_in_a_checkpoint_is_refused_even_when_torch_is_told_to_trust_files(
    tmp_path: Path, monkeypatch, code_payload: tuple[object, Path]
) -> None:
    (payload, marker), path = code_payload, tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "payload": payload}, path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    for load in (load_checkpoint, SafeCheckpointIO().load_checkpoint):
        with pytest.raises(CheckpointError, match=r"crafted\.ckpt: not a checkpoint that loads safely"):
            load(path)
    assert not marker.exists()


def test_missing_truncated_and_foreign_files_get_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nowhere\.ckpt: no such checkpoint file\.$"):
        load_checkpoint(tmp_path / "nowhere.ckpt")
    whole = tmp_path / "whole.ckpt"
    torch.save({"state_dict": {"w": torch.ones(100)}}, whole)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(whole.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"truncated\.ckpt: not a checkpoint that loads safely"):
        load_checkpoint(truncated)
    listed = tmp_path / "list.ckpt"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match=r"list\.ckpt: holds a list; expected a Lightning checkpoint"):
        load_checkpoint(listed)
