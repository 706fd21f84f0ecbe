"""Stage 2 end to end: train the text-guided restorer, test the best checkpoint, write ``metrics.json``."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from tpir.evaluation.scores import TEST_SETS_FILE, scores_from_metrics
from tpir.evaluation.tables import table1
from tpir.utils import build_trainer, write_json_atomic

log = logging.getLogger(__name__)


def fit_restorer(cfg: DictConfig) -> dict[str, float]:
    """Run stage 2 from a composed config; returns the metrics also written to ``metrics.json``.

    ``cfg.ckpt_path`` resumes a run exactly (weights, optimizer, schedule, step). After training, the
    best checkpoint by ``cfg.optimized_metric`` (the last weights when none was kept) is tested;
    ``test_sets.json`` beside ``metrics.json`` gives the task of each test set (for ``tpir-collect``).
    A W&B logger also gets the resolved config and the test scores as a table in the paper's layout.
    """
    datamodule = instantiate(cfg.datamodule)
    module = instantiate(cfg.module)
    trainer = build_trainer(cfg)
    wandb_loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
    for logger in wandb_loggers:
        # The run's config, resolved; without the hydra node that composing with return_hydra_config adds.
        run_config = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        logger.log_hyperparams(OmegaConf.to_container(run_config, resolve=True))
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val/", "train/"))}

    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if isinstance(checkpoint, ModelCheckpoint) else ""
    trainer.test(module, datamodule=datamodule, ckpt_path=best or None)
    metrics |= {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    metrics["trainer/global_step"] = trainer.global_step
    tasks = {s.name: s.task for s in datamodule.test_sets}
    for logger in wandb_loggers:
        _log_test_table(logger, metrics, tasks)
    if not trainer.is_global_zero:
        return metrics
    output_dir = Path(cfg.paths.output_dir)
    path = write_json_atomic(output_dir / "metrics.json", metrics)
    write_json_atomic(output_dir / TEST_SETS_FILE, tasks)
    log.info("Wrote %s%s", path, f" (tested {best})" if best else "")
    return metrics


@rank_zero_only
def _log_test_table(logger: WandbLogger, metrics: dict[str, float], tasks: dict[str, str]) -> None:
    """The test scores as a ``wandb.Table`` in the paper's layout, then the run is closed.

    Closing it lets the next run of a sweep (same process) start its own W&B run instead of reusing this one.
    """
    scores = scores_from_metrics(metrics, tasks)
    if scores:
        header, body = table1(scores, logger.experiment.name or "Output")
        logger.log_table(key="test/table", columns=header, data=body)
    logger.experiment.finish()
