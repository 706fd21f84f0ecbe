"""Stage 2 end to end: train the text-guided restorer, test its best checkpoint, write ``metrics.json``."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from tpir.data.datamodule import RestorationDataModule
from tpir.evaluation.protocol import Restore, score_sets
from tpir.evaluation.scores import TEST_SETS_FILE, SetScores
from tpir.evaluation.tables import markdown, table1
from tpir.inference.card import TEST_TABLE_FILE, tested_table_text
from tpir.models.module import RestorationModule
from tpir.utils import build_trainer, write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)


def fit_restorer(cfg: DictConfig) -> dict[str, float]:
    """Run stage 2 from a composed config; returns the metrics also written to ``metrics.json``.

    ``cfg.ckpt_path`` resumes a run exactly (weights, optimizer, schedule, step). After training, the
    best checkpoint by ``cfg.optimized_metric`` (the last weights when none was kept) is scored on the
    test sets by ``tpir.evaluation.score_sets`` under ``cfg.protocol``, as ``tpir-eval`` scores it, and
    logged as ``test/<score>/<set>``. ``<optimized_metric>_best`` is the sweep objective. A run without a
    checkpoint (``debug=fast_dev_run``) saves ``checkpoints/last.ckpt``, so every run can be exported.
    """
    datamodule: RestorationDataModule = instantiate(cfg.datamodule)
    module: RestorationModule = instantiate(cfg.module)
    trainer = build_trainer(cfg)
    wandb_loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
    for logger in wandb_loggers:
        # The run's config, resolved; without the hydra node that composing with return_hydra_config adds.
        run_config = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        logger.log_hyperparams(OmegaConf.to_container(run_config, resolve=True))
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val/", "train/"))}
    metrics["trainer/global_step"] = trainer.global_step

    tested = _best_weights(trainer, module, Path(cfg.paths.output_dir) / "checkpoints")
    if cfg.optimized_metric and isinstance(trainer.checkpoint_callback, ModelCheckpoint):
        best = trainer.checkpoint_callback.best_model_score
        if best is not None:
            metrics[f"{cfg.optimized_metric}_best"] = float(best)
    if not trainer.is_global_zero:
        return metrics
    module.to(trainer.strategy.root_device)  # fit's teardown leaves the module on the CPU
    scores = score_sets(restore_with(module), datamodule.test_sets, cfg.protocol.name, cfg.get("test_limit"))
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


def restore_with(module: RestorationModule) -> Restore:
    """What :func:`score_sets` calls: the module, in eval mode, on one whole image."""
    module.eval()

    def restore(lq: torch.Tensor, prompt: str, task: str) -> torch.Tensor:
        task_id = torch.tensor([module.hparams.tasks.index(task)], device=module.device)
        return module(lq.to(module.device), [prompt], task_id).float().clamp(0, 1)

    return restore


def _best_weights(trainer: L.Trainer, module: RestorationModule, folder: Path) -> Path:
    """Load the best checkpoint's weights into ``module``; returns that checkpoint.

    A run that kept no best checkpoint tests its last weights, saved as ``folder/last.ckpt`` if they are
    not there yet.
    """
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if isinstance(checkpoint, ModelCheckpoint) else ""
    if best:
        state = torch.load(best, map_location=module.device, weights_only=True)["state_dict"]
        module.load_state_dict(state)
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
