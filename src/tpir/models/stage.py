"""Stage 2 end to end: train the text-guided restorer, test the best checkpoint, write ``metrics.json``."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from tpir.utils import build_trainer, write_json_atomic

log = logging.getLogger(__name__)


def fit_restorer(cfg: DictConfig) -> dict[str, float]:
    """Run stage 2 from a composed config; returns the metrics also written to ``metrics.json``.

    ``cfg.ckpt_path`` resumes a run exactly (weights, optimizer, schedule, step). After training, the
    best checkpoint by ``cfg.optimized_metric`` (the last weights when none was kept) is tested.
    """
    datamodule = instantiate(cfg.datamodule)
    module = instantiate(cfg.module)
    trainer = build_trainer(cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val/", "train/"))}

    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if isinstance(checkpoint, ModelCheckpoint) else ""
    trainer.test(module, datamodule=datamodule, ckpt_path=best or None)
    metrics |= {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    metrics["trainer/global_step"] = trainer.global_step
    if not trainer.is_global_zero:
        return metrics
    path = write_json_atomic(Path(cfg.paths.output_dir) / "metrics.json", metrics)
    log.info("Wrote %s%s", path, f" (tested {best})" if best else "")
    return metrics
