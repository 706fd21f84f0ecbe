"""Runs that survive: a resumed or repeatedly killed ``tpir-train`` ends where a straight run ends.

Each run is a real ``tpir-train`` process (a kill has to hit a process). Straight and resumed runs must
agree on every figure of ``metrics.json`` to float tolerance: on this CPU they are bit-identical, since
every training sample is fixed by (seed, epoch, index) and the checkpoint carries everything else.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

TPIR_TRAIN = Path(sys.executable).with_name("tpir-train")
# A 40-step run of a tiny model on the bundled photos, validated (and checkpointed) every 10 steps,
# with epochs of 30 samples (15 batches): checkpoints fall inside epochs and at their ends.
RUN = (
    "stage=restore",
    "text_encoder=tiny_random",
    "logger=csv",
    "datamodule.crop_size=32",
    "datamodule.batch_size=2",
    "datamodule.val_crop=32",
    "datamodule.samples_per_epoch=30",
    "model.dim=8",
    "model.num_blocks=[1,1,1,1]",
    "model.guidance_width=16",
    "trainer.max_steps=40",
    "trainer.val_check_interval=10",
    "test_limit=1",
)
TOLERANCE = 1e-6  # relative, on every figure of metrics.json (bit-identical on this CPU)


def _command(run_dir: Path, cache: Path, *extra: str) -> list[str]:
    return [str(TPIR_TRAIN), *RUN, f"hydra.run.dir={run_dir}", f"paths.cache_dir={cache}", *extra]


def _env() -> dict[str, str]:
    tests = str(Path(__file__).parent)  # where kill_switch lives, for runs that kill themselves
    return os.environ | {
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])),
    }


def _train(run_dir: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        _command(run_dir, cache, *extra), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result


def _step(checkpoint: Path) -> int | None:
    """The global step of a checkpoint file, or None while there is none (or it cannot be read)."""
    try:
        return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"])
    except (OSError, RuntimeError, EOFError, KeyError):
        return None


def _kill_when(process: subprocess.Popen, ready, delay: float = 0.0) -> None:
    """SIGKILL ``process`` ``delay`` seconds after ``ready()`` holds (or leave it if it ends first)."""
    while process.poll() is None and not ready():
        time.sleep(0.02)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def _metrics(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "metrics.json").read_text())


def _assert_same(straight: dict[str, float], other: dict[str, float]) -> None:
    assert straight.keys() == other.keys()
    for key, value in straight.items():
        assert other[key] == pytest.approx(value, rel=TOLERANCE), key


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float], Path, Path]:
    """The metrics and run folder of an uninterrupted 40-step run, and the embedding cache the other runs
    share."""
    root = tmp_path_factory.mktemp("straight")
    _train(root / "run", root / "cache")
    return _metrics(root / "run"), root / "run", root / "cache"


def _csv_log(run_dir: Path) -> str:
    return (run_dir / "csv" / "metrics.csv").read_text()


@pytest.mark.slow
def test_a_run_resumed_at_step_20_of_40_ends_as_the_straight_run(straight, tmp_path: Path) -> None:
    expected, straight_dir, cache = straight
    run_dir, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.ckpt"
    kill_at_20 = ("+callbacks.kill._target_=kill_switch.KillAtStep", "+callbacks.kill.step=20")
    first = subprocess.run(
        _command(run_dir, cache, *kill_at_20), env=_env(), capture_output=True, timeout=300
    )
    assert first.returncode == -signal.SIGKILL, first.stderr.decode()[-3000:]
    assert _step(last) == 20 and not (run_dir / "metrics.json").exists()

    result = _train(tmp_path / "resume_command", cache, f"ckpt_path={last}")
    output = result.stdout + result.stderr
    assert f"in its run folder {run_dir}" in output
    assert "not resumable" not in output and "best_model_score" not in output
    metrics = _metrics(run_dir)  # written into the run folder the checkpoint belongs to
    assert metrics["trainer/global_step"] == 40
    _assert_same(expected, metrics)
    assert _csv_log(run_dir) == _csv_log(straight_dir)  # the log keeps its history, step for step


@pytest.mark.slow
def test_three_random_kills_and_resumes_end_as_the_straight_run(straight, tmp_path: Path) -> None:
    """The first kill strikes during start-up, the second at a random moment after the checkpoint of step
    30 (an epoch's end; maybe mid-write), the third after the last checkpoint (while testing); each time
    the run resumes from whatever ``last.ckpt`` then holds. (Step 20 is the test above.)"""
    expected, _, cache = straight
    run_dir, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.ckpt"
    chance = random.Random(13)
    killed_at = []
    for kill in range(4):
        # A run killed before its first checkpoint starts again; later ones resume into run_dir.
        resume = [f"ckpt_path={last}"] if last.exists() else []
        process = subprocess.Popen(
            _command(tmp_path / f"command_{kill}" if resume else run_dir, cache, *resume),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if kill == 3:
            assert process.wait(timeout=300) == 0
            break
        if kill == 0:  # during start-up or the first steps
            _kill_when(process, lambda: True, chance.uniform(1.0, 5.0))
        else:  # once the run has saved the checkpoint of step 30, then of step 40, a moment after that
            target = (30, 40)[kill - 1]
            _kill_when(process, lambda target=target: (_step(last) or 0) >= target, chance.uniform(0.0, 0.5))
        assert process.returncode == -signal.SIGKILL, f"kill {kill} found the run already ended"
        assert not last.exists() or _step(last) is not None  # never half a checkpoint under its name
        killed_at.append(_step(last) if last.exists() else 0)
    print(f"last.ckpt step after each kill: {killed_at}")
    assert killed_at[0] == 0 and killed_at[1] >= 30 and killed_at[2] == 40, killed_at
    _assert_same(expected, _metrics(run_dir))
