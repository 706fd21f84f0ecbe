import json
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from tpir.cli.train import train
from tpir.evaluation.protocol import restore_with
from tpir.stages.steered_model import restorer_of


@pytest.mark.parametrize("guidance", ["text", "none", "onehot"])
def test_stage2_fast_dev_run_for_each_guidance(compose_config, small_restore_run, guidance: str) -> None:
    cfg = compose_config(
        *small_restore_run, f"guidance={guidance}", "degradation=noise_rain", "debug=fast_dev_run"
    )
    metrics = train(cfg)
    saved = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert saved == pytest.approx(metrics)
    for key in (
        "val/psnr",
        "val/psnr/denoise",
        "val/ssim/derain",
        "test/psnr/bundled_denoise_sigma25",
        "train/loss",
    ):
        assert key in saved
    assert "val/psnr/dehaze" not in saved and "test/psnr/bundled_dehaze" not in saved  # not a trained task
    # Even a fast_dev_run leaves a checkpoint to export.
    assert (Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt").is_file()


def test_training_resumes_exactly_from_the_last_checkpoint(compose_config, small_restore_run) -> None:
    steps = ("trainer.max_steps=4", "trainer.val_check_interval=2", "degradation=noise")
    cfg = compose_config(*small_restore_run, *steps)
    train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    assert last.is_file() and (last.parent / "best.ckpt").is_file()
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert state["global_step"] == 4
    resumed = compose_config(
        *small_restore_run,
        "trainer.max_steps=6",
        "trainer.val_check_interval=2",
        "degradation=noise",
        f"ckpt_path={last}",
    )
    metrics = train(resumed)
    assert metrics["trainer/global_step"] == 6


def test_thirty_steps_on_one_batch_lower_the_l1_loss() -> None:
    from tpir.data.degradations import add_gaussian_noise
    from tpir.models.backbone import TextGuidedBackbone

    generator = torch.Generator().manual_seed(0)
    clean = torch.nn.functional.avg_pool2d(torch.rand(4, 3, 64, 64, generator=generator), 3, 1, 1)
    noisy, _ = add_gaussian_noise(clean, 25, generator)
    guidance = torch.randn(4, 12, generator=generator)
    torch.manual_seed(0)
    model = TextGuidedBackbone(
        dim=8, num_blocks=(1, 1, 1, 1), num_refinement=1, guidance_dim=12, guidance_width=16
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = torch.nn.functional.l1_loss(model(noisy, guidance), clean)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_module_loss_is_the_training_step_s_loss_and_a_bad_name_is_refused(
    compose_config, small_restore_run, monkeypatch
) -> None:
    from hydra.utils import instantiate

    from tpir.models.losses import restoration_loss

    module = instantiate(compose_config(*small_restore_run, "module.loss=psnr").module)
    monkeypatch.setattr(module, "log", lambda *args, **kwargs: None)  # no trainer to log to
    generator = torch.Generator().manual_seed(0)
    gt = torch.rand(2, 3, 16, 16, generator=generator)
    batch = {
        "lq": (gt + 0.1).clamp(0, 1),
        "gt": gt,
        "prompt": ["remove the noise"] * 2,
        "task": torch.zeros(2, dtype=torch.long),
    }
    with torch.no_grad():
        expected = restoration_loss(module(batch["lq"], batch["prompt"], batch["task"]), gt, "psnr")
        assert module.training_step(batch, 0) == pytest.approx(float(expected))
    assert expected < 0  # minus a PSNR, not an L1

    with pytest.raises(Exception, match=r"module.loss='l2': expected one of l1, psnr"):
        instantiate(compose_config(*small_restore_run, "module.loss=l2").module)


def test_text_guidance_standardises_z_with_the_corpus_training_embeddings(
    compose_config, small_restore_run
) -> None:
    from hydra.utils import instantiate

    module = instantiate(compose_config(*small_restore_run).module)
    table = module.model.guidance.training_embeddings
    torch.testing.assert_close(module.model.backbone.prompt_projection.input_mean, table.mean(0))
    torch.testing.assert_close(module.model.backbone.prompt_projection.input_std, table.std(0))


def test_lr_is_logged_ema_averages_and_the_objective_is_the_best_score(
    compose_config, small_restore_run
) -> None:
    import csv

    from tpir.cli.train import objective

    cfg = compose_config(
        *small_restore_run,
        "degradation=noise",
        "logger=csv",
        "callbacks=ema",
        "callbacks.ema.update_starting_at_step=1",
        "trainer.max_steps=4",
        "trainer.val_check_interval=2",
        "trainer.log_every_n_steps=1",
    )
    metrics = train(cfg)
    rows = list(csv.DictReader((Path(cfg.paths.output_dir) / "csv" / "metrics.csv").open()))
    assert any(row.get("lr-AdamW") for row in rows)  # LearningRateMonitor
    vals = [float(row["val/psnr"]) for row in rows if row.get("val/psnr")]
    assert metrics["val/psnr_best"] == pytest.approx(max(vals))
    assert objective(metrics, "val/psnr") == metrics["val/psnr_best"]
    saved = torch.load(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    assert "current_model_state" in saved  # EMAWeightAveraging saved the averaged weights as the state


def test_a_bf16_run_is_tested_under_bf16_autocast(compose_config, small_restore_run) -> None:
    cfg = compose_config(*small_restore_run, "degradation=noise")
    module = instantiate(cfg.module)
    seen = []
    first_conv = next(m for m in module.model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(lambda _module, _inputs, output: seen.append(output.dtype))
    lq = torch.rand(1, 3, 32, 32)
    in_fp32 = restore_with(restorer_of(module), True)(lq, "remove the noise", "denoise")
    in_bf16 = restore_with(restorer_of(module, bf16=True), True)(lq, "remove the noise", "denoise")
    assert seen == [torch.float32, torch.bfloat16]
    assert in_bf16.dtype == torch.float32 and (in_bf16 - in_fp32).abs().max() < 0.05


@pytest.mark.parametrize("prompt", ["remove the rain", "remove all degradation", "denoise with sigma 10"])
def test_the_test_scores_what_validation_restores_bit_for_bit(
    compose_config, small_restore_run, prompt
) -> None:
    """The stage-2 runner scores through a restorer around the steered model (the one evaluation adapter);
    under bf16 autocast it restores exactly what the LightningModule's steered forward does."""
    module = instantiate(compose_config(*small_restore_run, "degradation=composite").module).eval()
    torch.nn.init.normal_(module.model.backbone.output.weight, std=0.05)  # so that restoring changes pixels
    lq = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        validated = module(lq, [prompt], torch.tensor([0])).float().clamp(0, 1)
    tested = restore_with(restorer_of(module, bf16=True), True)(lq, prompt, "denoise")
    assert torch.equal(tested, validated)


def test_the_estimator_learns_from_outputs_only_what_their_prompt_did_not_name(
    compose_config, small_restore_run, monkeypatch
) -> None:
    module = instantiate(compose_config(*small_restore_run, "degradation=composite").module)
    monkeypatch.setattr(module, "log", lambda *args, **kwargs: None)  # no trainer to log to
    told = {}
    measure = module.model.estimator.loss
    monkeypatch.setattr(
        module.model.estimator,
        "loss",
        lambda *args: told.update(zip(("image", "present", "strength"), args, strict=True)) or measure(*args),
    )
    gt = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    batch = {
        "lq": (gt + 0.1).clamp(0, 1),
        "gt": gt,
        "prompt": ["remove the rain", "remove the noise and the haze"],
        "task": torch.tensor([1, 0]),
        "named": torch.tensor([[False, True, False], [True, False, True]]),  # derain; denoise and dehaze
        "present": torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
        "strength": torch.tensor([[25.0, 0.5, math.nan], [15.0, math.nan, math.nan]]),
        "target_present": torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
        "target_strength": torch.tensor([[25.0, math.nan, math.nan], [math.nan, math.nan, math.nan]]),
    }
    module.training_step(batch, 0)
    assert told["image"].shape == (6, 3, 16, 16) and not told["image"][4:].requires_grad  # outputs, detached
    outputs_present = told["present"][4:]
    assert torch.equal(outputs_present.isnan(), torch.tensor([[False, True, False], [True, False, True]]))
    assert torch.equal(outputs_present.nan_to_num(7.0), torch.tensor([[1.0, 7.0, 0.0], [7.0, 0.0, 7.0]]))
    assert told["strength"][4, 0] == 25.0 and told["strength"][4:, 1:].isnan().all()
