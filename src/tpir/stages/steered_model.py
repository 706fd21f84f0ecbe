"""Stage 2 end to end: fit the steered model, test its best checkpoint, write ``metrics.json``."""

from __future__ import annotations

import csv
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from tpir.data.composite import physical_order
from tpir.data.datamodule import RestorationDataModule
from tpir.data.tasks import get_task
from tpir.evaluation.protocol import restore_with, score_sets
from tpir.evaluation.scores import TEST_SETS_FILE, SetScores
from tpir.evaluation.tables import markdown, table1
from tpir.inference.card import TEST_TABLE_FILE, tested_table_text
from tpir.inference.checkpoints import refuse_renamed_parts, restorer_of_module
from tpir.inference.restorer import AUTOCAST, Restorer
from tpir.models.lit_module import LOGGED_METRICS, RestorationLitModule
from tpir.stages.calibration import CALIBRATION_RECORD, calibrate_estimator, epochs, save_estimator
from tpir.stages.examples import ExampleImages
from tpir.stages.trainer import build_trainer
from tpir.utils import CheckpointError, load_checkpoint, write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)


def fit_steered_model(cfg: DictConfig) -> dict[str, float]:
    """Run stage 2 from a composed config; returns the metrics also written to ``metrics.json``.

    ``cfg.ckpt_path`` resumes a run exactly (weights, optimizer, schedule, step, best checkpoint, and the
    training data where it stopped), in the run folder the checkpoint belongs to. After training, the
    best checkpoint by ``cfg.optimized_metric`` (the last weights when none was kept), its degradation
    estimator fitted again to its backbone's outputs where ``cfg.calibration.steps`` is set (kept in that
    checkpoint), is scored on the test sets by ``tpir.evaluation.score_sets`` under ``cfg.protocol``, as
    ``tpir-eval`` scores it, and logged as ``test/<score>/<set>``. ``<optimized_metric>_best`` is the sweep
    objective. A run without a checkpoint (``debug=fast_dev_run``) saves ``checkpoints/last.ckpt``, so
    every run can be exported.

    Raises:
        CheckpointError: ``cfg.ckpt_path`` is missing, incomplete, unsafe or of another model.
    """
    checkpoint = _resumed_checkpoint(cfg)
    _check_estimator(cfg)
    datamodule: RestorationDataModule = instantiate(cfg.datamodule)
    module: RestorationLitModule = instantiate(cfg.module)
    if checkpoint is not None:
        check_same_model(Path(cfg.ckpt_path), checkpoint, module)
    trainer = build_trainer(cfg, [ExampleImages()])
    wandb_loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
    for logger in wandb_loggers:
        # The run's config, resolved; without the hydra node that composing with return_hydra_config adds.
        run_config = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        logger.log_hyperparams(OmegaConf.to_container(run_config, resolve=True))
    with warnings.catch_warnings():
        # Lightning looks for the data position in the loader; this datamodule keeps it (its state_dict) and
        # restores it into the loader's sampler, so a mid-epoch checkpoint resumes exactly.
        warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
        if checkpoint is not None:  # continuing in its run folder, whose checkpoints and logs are expected
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
            keep_csv_history(trainer, int(checkpoint.get("global_step", 0)))
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    metrics = dict(checkpoint.get(LOGGED_METRICS, {})) if checkpoint is not None else {}
    metrics |= {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val/", "train/"))}
    metrics["trainer/global_step"] = trainer.global_step

    tested = _best_weights(trainer, module, Path(cfg.paths.output_dir) / "checkpoints")
    if cfg.optimized_metric and isinstance(trainer.checkpoint_callback, ModelCheckpoint):
        best = trainer.checkpoint_callback.best_model_score
        if best is not None:
            metrics[f"{cfg.optimized_metric}_best"] = float(best)
    if not trainer.is_global_zero:
        return metrics
    module.to(trainer.strategy.root_device)  # fit's teardown leaves the module on the CPU
    bf16 = str(trainer.precision).startswith("bf16")
    if cfg.calibration.steps:
        metrics["calibration/estimator_loss"] = _calibrate(cfg, module, tested, bf16)
    restore = restore_with(restorer_of(module, bf16), prompts_name_the_task=True)
    scores = score_sets(restore, datamodule.test_sets, cfg.protocol.name, cfg.get("test_limit"))
    for item in scores:
        metrics |= item.metrics("test")
    for logger in trainer.loggers:
        logger.log_metrics(
            {k: v for k, v in metrics.items() if k.startswith("test/")}, step=trainer.global_step
        )
        logger.save()
    for logger in wandb_loggers:
        _log_test_table(logger, scores)
    write_outputs(Path(cfg.paths.output_dir), metrics, scores, tested)
    log.info("Tested %s", tested)
    return metrics


def _calibrate(cfg: DictConfig, module: RestorationLitModule, tested: Path, bf16: bool) -> float:
    """Fit the estimator again to the trained backbone's outputs (``cfg.calibration``, see
    ``tpir.stages.calibration``) and keep it in the ``tested`` checkpoint, which ``tpir-export`` takes; returns
    its final loss.

    A checkpoint calibrated already (a finished run resumed) is not fitted again: ``module`` takes its
    weights, and the loss is the one recorded then. Other calibration settings than those recorded are
    named in a warning and not applied (the estimator from before its calibration is gone).
    """
    calibration = cfg.calibration
    batch_size = calibration.batch_size or cfg.datamodule.batch_size
    settings = {
        "steps": calibration.steps,
        "crop_size": calibration.crop_size,
        "batch_size": batch_size,
        "lr": calibration.lr,
        "decay": calibration.decay,
    }
    saved = load_checkpoint(tested)
    record = saved.get(CALIBRATION_RECORD)
    if record is not None:
        module.load_state_dict(saved["state_dict"])
        log.info("%s: its estimator was calibrated already (loss %.3f); kept", tested, record["loss"])
        if record["settings"] != settings:
            log.warning(
                "%s was calibrated with %s; calibration=%s is not applied to it.",
                tested,
                record["settings"],
                settings,
            )
        return float(record["loss"])
    del saved  # not held through the calibration: a large model's optimizer state is in it
    datamodule: RestorationDataModule = instantiate(
        cfg.datamodule, crop_size=calibration.crop_size, batch_size=batch_size
    )
    datamodule.setup("fit")
    started = time.perf_counter()
    loss = calibrate_estimator(
        module,
        epochs(datamodule.train_dataloader()),
        calibration.steps,
        calibration.lr,
        calibration.decay,
        bf16,
    )
    save_estimator(module, tested, {"loss": loss, "settings": settings})
    log.info(
        "Calibrated the estimator on the backbone's outputs: %d steps of %d %d-pixel crops in %.0f s, loss %.3f",
        calibration.steps,
        batch_size,
        calibration.crop_size,
        time.perf_counter() - started,
        loss,
    )
    return loss


def _check_estimator(cfg: DictConfig) -> None:
    """Refuse a degradation estimator that measures a task whose number does not grow with its strength
    (JPEG quality, exposure): training gives it no strengths, and a stated number could not set a share;
    and one whose ``order`` is not its tasks' physical order. And a calibration without an estimator,
    before training rather than after it."""
    estimator = cfg.module.get("estimator")
    if not estimator:
        if cfg.calibration.steps:
            raise ValueError(
                f"calibration.steps={cfg.calibration.steps} fits the degradation estimator again after "
                "training, but module.estimator is not set; use degradation=composite or calibration.steps=0."
            )
        return
    unfit = [task for task in estimator.get("measured") or () if not get_task(task).partial_removal]
    if unfit:
        raise ValueError(
            f"module.estimator.measured lists {unfit}, whose numbers do not grow with the degradation; "
            "measure only tasks declared with partial_removal."
        )
    order = list(estimator.get("order") or ())
    if order and order != physical_order(order):
        raise ValueError(
            f"module.estimator.order={order}; expected the tasks in physical order, innermost first: "
            f"{physical_order(order)}."
        )


def _resumed_checkpoint(cfg: DictConfig) -> dict[str, Any] | None:
    """The checkpoint ``cfg.ckpt_path`` names, loaded safely, or None for a fresh run.

    A checkpoint of a run folder (``<run>/checkpoints/*.ckpt``) makes that folder this run's output folder,
    so the resumed run writes beside what it continues and keeps track of its best checkpoint.
    """
    if not cfg.get("ckpt_path"):
        return None
    path = Path(cfg.ckpt_path)
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint.get("state_dict"), dict) or "loops" not in checkpoint:
        raise CheckpointError(
            f"{path}: not a stage-2 training checkpoint (no weights or no loop state); expected "
            "<run>/checkpoints/last.ckpt of a tpir-train stage=restore run."
        )
    refuse_renamed_parts(path, checkpoint.get("hyper_parameters"))
    run_dir = path.resolve().parent.parent
    if path.resolve().parent.name == "checkpoints" and (run_dir / ".hydra").is_dir():
        log.info(
            "Resuming from %s (step %s) in its run folder %s (this command's own log stays in %s).",
            path,
            checkpoint.get("global_step"),
            run_dir,
            cfg.paths.output_dir,
        )
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
        for unfinished in path.resolve().parent.glob(".*.partial"):  # left by a run killed while saving
            unfinished.unlink()
    return checkpoint


def keep_csv_history(trainer: L.Trainer, step: int) -> None:
    """Keep the rows a resumed run's CSV log had before its checkpoint's ``step``.

    Lightning's CSVLogger starts its ``metrics.csv`` afresh in a folder that has one; rows logged after the
    checkpoint (by a run killed later) are dropped, since the resumed run logs those steps again.
    """
    for logger in trainer.loggers:
        path = Path(logger.log_dir or "") / "metrics.csv" if isinstance(logger, CSVLogger) else None
        if path is None or not path.is_file():
            continue
        with path.open(newline="") as stream:
            reader = csv.DictReader(stream)
            rows = [row for row in reader if row.get("step") and int(float(row["step"])) < step]
            columns = list(reader.fieldnames or [])
        writer = logger.experiment  # creating it removes the old file
        writer.metrics_keys = sorted(columns)
        with path.open("w", newline="") as stream:
            table = csv.DictWriter(stream, fieldnames=writer.metrics_keys)
            table.writeheader()
            table.writerows(rows)


def check_same_model(path: Path, checkpoint: dict[str, Any], module: RestorationLitModule) -> None:
    """Raise CheckpointError, in one sentence, if ``checkpoint`` holds another model than ``module``.

    Names the first differing sizes of the backbone (``model.dim is 8 there and 16 here``), then weights of
    another shape, then the weights one side lacks.
    """
    trained = (checkpoint.get("hyper_parameters") or {}).get("backbone")
    trained = trained if isinstance(trained, dict) else {}
    differences = [
        f"model.{key} is {trained[key]!r} there and {value!r} here"
        for key, value in module.hparams["backbone"].items()
        if not key.startswith("_") and key in trained and trained[key] != value
    ]
    own = module.state_dict()
    saved = checkpoint["state_dict"]
    differences += [
        f"{key} is {tuple(saved[key].shape)} there and {tuple(own[key].shape)} here"
        for key in own
        if key in saved and tuple(saved[key].shape) != tuple(own[key].shape)
    ]
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    if missing:
        differences.append(f"{len(missing)} weights of this model are not in it (e.g. {missing[0]})")
    if unexpected:
        differences.append(f"it has {len(unexpected)} weights this model lacks (e.g. {unexpected[0]})")
    if differences:
        more = f" (and {len(differences) - 2} more differences)" if len(differences) > 2 else ""
        raise CheckpointError(
            f"{path}: holds another model than this config builds: {'; '.join(differences[:2])}{more}; "
            "resume with the config it was trained with (its run's .hydra/config.yaml)."
        )


def restorer_of(module: RestorationLitModule, bf16: bool = False) -> Restorer:
    """A restorer around ``module``'s steered model, for scoring; with ``bf16`` under bf16 autocast, the
    precision a ``bf16-mixed`` run trained in."""
    restorer = restorer_of_module(module)
    restorer.set_precision(AUTOCAST if bf16 else "fp32")
    return restorer


def _best_weights(trainer: L.Trainer, module: RestorationLitModule, folder: Path) -> Path:
    """Load the best checkpoint's weights into ``module``; returns that checkpoint.

    A run that kept no best checkpoint tests its last weights, saved as ``folder/last.ckpt`` if they are
    not there yet.
    """
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if isinstance(checkpoint, ModelCheckpoint) else ""
    if best:
        module.load_state_dict(load_checkpoint(best, module.device)["state_dict"])
        return Path(best)
    last = folder / "last.ckpt"
    if not last.is_file():
        trainer.save_checkpoint(last)
    return last


def write_outputs(folder: Path, metrics: dict[str, float], scores: list[SetScores], tested: Path) -> None:
    """``metrics.json``, ``test_sets.json`` (the task of each test set) and ``test_table.md`` (the table
    of the ``tested`` checkpoint, which ``tpir-export`` of that checkpoint puts in the model card)."""
    path = write_json_atomic(folder / "metrics.json", metrics)
    write_json_atomic(folder / TEST_SETS_FILE, {s.name: s.task for s in scores})
    if scores:
        header, body = table1(scores, "tpir")
        write_text_atomic(folder / TEST_TABLE_FILE, tested_table_text(tested, markdown(header, body)))
    log.info("Wrote %s", path)


@rank_zero_only
def _log_test_table(logger: WandbLogger, scores: list[SetScores]) -> None:
    """The test scores as a ``wandb.Table`` in the paper's layout, then the run is closed.

    Closing it lets the next run of a sweep (same process) start its own W&B run instead of reusing this one.
    """
    if scores:
        header, body = table1(scores, logger.experiment.name or "Output")
        logger.log_table(key="test/table", columns=header, data=body)
    logger.experiment.finish()
