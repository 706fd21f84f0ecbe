"""``trainer=ddp`` runs Lightning DDP: two CPU processes over gloo, launched by ``tpir-train`` itself."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lightning.pytorch.strategies import DDPStrategy

from tpir.stages.trainer import build_trainer

TPIR_TRAIN = Path(sys.executable).with_name("tpir-train")


@pytest.mark.slow
def test_ddp_trains_on_two_cpu_processes(tmp_path: Path) -> None:
    # A subprocess, because Lightning's DDP launcher starts the other ranks by re-running the command.
    command = [
        str(TPIR_TRAIN),
        "stage=restore",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
        "debug=fast_dev_run",
        "text_encoder=tiny_random",
        "logger=none",
        "model.dim=8",
        "datamodule.batch_size=2",
        "datamodule.crop_size=32",
        "datamodule.val_crop=32",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
    ]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "distributed_backend=gloo" in output
    assert "Starting with 2 processes" in output
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output
    assert "sync_dist" not in output  # validation logs say they are reduced already
    (run_dir,) = (tmp_path / "logs" / "restore").iterdir()
    # Lightning names the second rank's Hydra job train_ddp_process_1; both ranks finished the run.
    assert (run_dir / "train_ddp_process_1.log").is_file()
    assert (run_dir / "metrics.json").is_file()


def test_ddp_config_builds_a_ddp_trainer(compose_config) -> None:
    cfg = compose_config("stage=restore", "trainer=ddp")
    assert (cfg.trainer.strategy, cfg.trainer.accelerator, cfg.trainer.devices) == ("ddp", "auto", "auto")
    assert cfg.trainer.num_nodes == 1 and cfg.trainer.precision == "bf16-mixed"
    cfg = compose_config(
        "stage=restore",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
    )
    trainer = build_trainer(cfg)
    assert isinstance(trainer.strategy, DDPStrategy)
    assert trainer.world_size == 2 and trainer.num_devices == 2
