"""``tpir-train`` on bad input: one sentence on stderr naming the file and what was expected, exit status 2,
and nothing run that a checkpoint carries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

BIN = Path(sys.executable).parent
SMALL = (
    "stage=restore",
    "text_encoder=tiny_random",
    "logger=none",
    "degradation=noise",
    "datamodule.crop_size=32",
    "datamodule.batch_size=2",
    "datamodule.val_crop=32",
    "model.num_blocks=[1,1,1,1]",
    "model.guidance_width=16",
    "trainer.max_steps=2",
    "trainer.val_check_interval=2",
    "test_limit=1",
)


def _run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"} | env
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


def _train(tmp: Path, *overrides: str, **env: str) -> subprocess.CompletedProcess:
    return _run(
        [
            str(BIN / "tpir-train"),
            *SMALL,
            f"paths.log_dir={tmp / 'logs'}",
            f"paths.cache_dir={tmp / 'cache'}",
            *overrides,
        ],
        tmp,
        **env,
    )


def _one_sentence(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """The error line of a run that must have failed with exit 2 and no traceback."""
    assert result.returncode == 2, (result.stdout + result.stderr)[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("tpir-train: error:")]
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``last.ckpt`` of a two-step run of an 8-wide model."""
    tmp = tmp_path_factory.mktemp("trained")
    result = _train(tmp, "model.dim=8", f"hydra.run.dir={tmp / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "run" / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_a_checkpoint_with_code_creates_nothing_in_any_command_even_with_torch_s_default_off(
    checkpoint: Path, tmp_path: Path, code_payload: tuple[object, Path]
) -> None:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    payload, marker = code_payload
    saved["callbacks"]["payload"] = payload
    crafted = tmp_path / "run" / "checkpoints" / "last.ckpt"
    crafted.parent.mkdir(parents=True)
    torch.save(saved, crafted)
    unsafe = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}

    line = _one_sentence(_train(tmp_path, "model.dim=8", f"ckpt_path={crafted}", **unsafe), str(crafted))
    assert "not a checkpoint that loads safely" in line
    evaluate = _run(
        [str(BIN / "tpir-eval"), f"ckpt_path={crafted}", "data=bundled", "limit=1"], tmp_path, **unsafe
    )
    export = _run([str(BIN / "tpir-export"), str(crafted), "-o", str(tmp_path / "model")], tmp_path, **unsafe)
    for result in (evaluate, export):
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert f"{crafted}: not a checkpoint that loads safely" in result.stderr
    assert not marker.exists() and not (tmp_path / "model").exists()


@pytest.mark.slow
def test_missing_truncated_and_other_size_checkpoints_get_one_sentence(
    checkpoint: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.ckpt"
    _one_sentence(
        _train(tmp_path, "model.dim=8", f"ckpt_path={missing}"), f"{missing}: no such checkpoint file."
    )

    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    _one_sentence(_train(tmp_path, "model.dim=8", f"ckpt_path={truncated}"), str(truncated), "loads safely")

    other = tmp_path / "other" / "checkpoints" / "last.ckpt"
    other.parent.mkdir(parents=True)
    shutil.copy(checkpoint, other)
    _one_sentence(
        _train(tmp_path, "model.dim=16", f"ckpt_path={other}"),
        str(other),
        "model.dim is 8 there and 16 here",
        "resume with the config it was trained with",
    )


@pytest.mark.slow
def test_unreadable_training_images_are_all_named_before_the_first_step(tmp_path: Path) -> None:
    clean = tmp_path / "data" / "Train" / "Denoise"
    clean.mkdir(parents=True)
    generator = np.random.default_rng(0)
    for index in range(12):
        Image.fromarray(generator.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
            clean / f"{index:02d}.png"
        )
    (clean / "00.png").write_bytes((clean / "00.png").read_bytes()[:60])  # truncated
    (clean / "05.png").write_text("not an image")
    line = _one_sentence(
        _train(
            tmp_path,
            "model.dim=8",
            "data=benchmark",
            f"paths.data_dir={tmp_path / 'data'}",
            "data.source_weights.derain.synthetic=1.0",  # no rain pairs here
        ),
        "2 image file(s) of this data config cannot be read",
        str(clean / "00.png"),
        str(clean / "05.png"),
    )
    assert "expected readable images" in line
    assert not list((tmp_path / "logs").rglob("*.ckpt"))  # failed at setup: no step was taken
