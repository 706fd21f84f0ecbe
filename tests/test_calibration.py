"""After stage 2, the estimator fitted again to the trained backbone's outputs (tpir.stages.calibration)."""

import itertools
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from tpir.cli.train import train
from tpir.stages.calibration import CALIBRATION_RECORD, calibrate_estimator, save_estimator


@pytest.fixture
def composite_module(compose_config, small_restore_run):
    module = instantiate(compose_config(*small_restore_run, "degradation=composite").module)
    module.log = lambda *args, **kwargs: None  # no trainer to log to
    return module


def _batch() -> dict:
    generator = torch.Generator().manual_seed(0)
    gt = torch.nn.functional.avg_pool2d(torch.rand(4, 3, 32, 32, generator=generator), 3, 1, 1)
    noisy = (gt + 0.2 * torch.randn(gt.shape, generator=generator)).clamp(0, 1)
    return {
        "lq": torch.cat([noisy[:2], gt[2:]]),
        "gt": gt,
        "prompt": ["remove the noise", "remove the rain", "remove the noise", "remove the haze"],
        "task": torch.tensor([0, 1, 0, 2]),
        "named": torch.eye(3, dtype=torch.bool)[[0, 1, 0, 2]],  # denoise, derain, denoise, dehaze
        "present": torch.tensor([[1.0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]),
        "strength": torch.tensor(
            [[50.0, math.nan, math.nan], [50, math.nan, math.nan]] + [[math.nan] * 3] * 2
        ),
        "target_present": torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]),
        "target_strength": torch.tensor([[math.nan] * 3, [50, math.nan, math.nan]] + [[math.nan] * 3] * 2),
    }


def test_calibration_fits_the_estimator_alone_and_lowers_its_loss(composite_module) -> None:
    module, batch = composite_module, _batch()
    backbone = {k: v.clone() for k, v in module.model.backbone.state_dict().items()}

    def loss() -> float:
        module.eval()
        with torch.no_grad():
            restored = module.model.restore_as_written(batch["lq"], batch["prompt"], batch["task"])
            return float(module.estimator_loss(batch, restored))

    before = loss()
    final = calibrate_estimator(module, itertools.repeat(batch), steps=40, lr=3e-3, decay=0.5)
    assert math.isfinite(final) and loss() < 0.8 * before
    assert all(torch.equal(v, backbone[k]) for k, v in module.model.backbone.state_dict().items())
    assert not module.model.estimator.training


def test_calibration_names_a_shortage_of_batches(composite_module) -> None:
    with pytest.raises(ValueError, match=r"calibration\.steps=5, but the training data gave only 2 batches"):
        calibrate_estimator(composite_module, [_batch()] * 2, steps=5, lr=1e-3)


def test_the_calibrated_estimator_replaces_only_its_weights_in_the_checkpoint(
    composite_module, tmp_path
) -> None:
    module = composite_module
    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": module.state_dict(), "global_step": 7}, path)
    old = {k: v.clone() for k, v in module.state_dict().items()}
    for weight in module.model.estimator.parameters():
        weight.data.add_(1.0)
    record = {"loss": 0.25, "settings": {"steps": 3}}
    save_estimator(module, path, record)
    saved = torch.load(path, weights_only=True)
    assert saved["global_step"] == 7 and saved[CALIBRATION_RECORD] == record
    assert set(saved["state_dict"]) == set(old)
    for key, value in saved["state_dict"].items():
        assert torch.equal(value, module.state_dict()[key]) and (
            key.startswith("model.estimator.") or torch.equal(value, old[key])
        )
    assert any(
        not torch.equal(saved["state_dict"][k], old[k]) for k in old if k.startswith("model.estimator.")
    )

    torch.save({"state_dict": module.model.backbone.state_dict()}, path)
    with pytest.raises(ValueError, match=f"{path}: has no model.estimator."):
        save_estimator(module, path, record)


def test_a_run_keeps_its_calibrated_estimator_in_the_tested_checkpoint(
    compose_config, small_restore_run, tmp_path
) -> None:
    steps = ("degradation=composite", "trainer.max_steps=2", "trainer.val_check_interval=2", "test_limit=1")
    weights = {}
    for calibration in (0, 3):
        cfg = compose_config(
            *small_restore_run, *steps, f"calibration.steps={calibration}", "calibration.crop_size=32"
        )
        cfg.paths.output_dir = str(tmp_path / f"calibrated_{calibration}")
        metrics = train(cfg)
        assert ("calibration/estimator_loss" in metrics) == bool(calibration)
        best = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
        weights[calibration] = torch.load(best, weights_only=True)["state_dict"]
    plain, calibrated = weights[0], weights[3]
    assert all(torch.equal(plain[k], calibrated[k]) for k in plain if not k.startswith("model.estimator."))
    assert any(not torch.equal(plain[k], calibrated[k]) for k in plain if k.startswith("model.estimator."))


def test_a_finished_run_resumed_keeps_its_calibrated_estimator(
    compose_config, small_restore_run, tmp_path, caplog
) -> None:
    overrides = (*small_restore_run, "degradation=composite", "trainer.max_steps=2", "test_limit=1")
    overrides += ("trainer.val_check_interval=2", "calibration.steps=3", "calibration.crop_size=32")
    cfg = compose_config(*overrides)
    cfg.paths.output_dir = str(tmp_path)
    first = train(cfg)
    best = tmp_path / "checkpoints" / "best.ckpt"
    calibrated = torch.load(best, weights_only=True)
    assert calibrated[CALIBRATION_RECORD]["settings"]["steps"] == 3
    last = tmp_path / "checkpoints" / "last.ckpt"
    for steps in (3, 5):  # the same settings, then others: named, not applied
        resumed = compose_config(*overrides, f"ckpt_path={last}", f"calibration.steps={steps}")
        resumed.paths.output_dir = str(tmp_path)
        again = train(resumed)
        kept = torch.load(best, weights_only=True)
        assert again["calibration/estimator_loss"] == first["calibration/estimator_loss"]
        assert again["calibration/estimator_loss"] == calibrated[CALIBRATION_RECORD]["loss"]
        assert {k: v for k, v in again.items() if k.startswith("test/")} == {
            k: v for k, v in first.items() if k.startswith("test/")
        }
        assert all(
            torch.equal(value, kept["state_dict"][key]) for key, value in calibrated["state_dict"].items()
        )
    assert "'steps': 5" in caplog.text and "is not applied" in caplog.text
