"""``logger=wandb`` works offline: the run folder holds a W&B offline run with metrics, images and config."""

from pathlib import Path

import pytest
import wandb

from tpir.cli.train import train

# As tests/models/test_restoration_module.py: a tiny model on small crops.


@pytest.fixture
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline W&B (the tests default to disabled), its own folders in ``tmp_path``, nothing in $HOME."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    for name in ("DIR", "CACHE_DIR", "CONFIG_DIR", "DATA_DIR", "ARTIFACT_DIR"):
        folder = tmp_path / "wandb_home" / name.lower()
        folder.mkdir(parents=True)
        monkeypatch.setenv(f"WANDB_{name}", str(folder))


def test_wandb_offline_run_lands_in_the_run_folder(
    compose_config, small_restore_run, wandb_offline: None
) -> None:
    cfg = compose_config(
        *small_restore_run,
        "logger=wandb",
        "guidance=none",
        "degradation=noise",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
    )
    name = cfg.logger.wandb.name  # named by its overrides, as its sweep folder would be
    assert "degradation=noise,guidance=none," in name and "logger=" not in name
    assert cfg.logger.wandb.group is None  # a single run belongs to no sweep
    train(cfg)
    wandb.teardown()  # waits for the W&B service to write out the run it was closed with

    runs = list((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    logs = list(runs[0].glob("run-*.wandb"))
    assert len(logs) == 1
    # The offline log is a binary record stream; the keys it holds are plain bytes in it.
    record = logs[0].read_bytes()
    for key in (b"val/psnr", b"test/psnr/bundled_denoise", b"test/table", b"crop_size", b"stage=restore"):
        assert key in record, key
    assert list((runs[0] / "files" / "media" / "images").rglob("*.png"))  # the example grids
    assert list((runs[0] / "files" / "media" / "table").rglob("*.table.json"))  # the test table


def test_run_names_fall_back_to_the_stage_and_groups_are_sweep_folders() -> None:
    from hydra.types import RunMode

    from tpir.config import first_set, sweep_name

    assert first_set("", "restore") == "restore"
    assert first_set("guidance=none,seed=1", "restore") == "guidance=none,seed=1"
    assert sweep_name(RunMode.MULTIRUN, "outputs/multirun/2025-01-01_00-00-00") == "2025-01-01_00-00-00"
    assert sweep_name(RunMode.RUN, "outputs/multirun/2025-01-01_00-00-00") is None
    assert sweep_name(None, "outputs/multirun/x") is None
