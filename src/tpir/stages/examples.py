"""Example images of validation: the first image of each set, restored, beside its input and target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import WandbLogger
from typing_extensions import override

from tpir.viz.grids import comparison_grid


class ExampleImages(Callback):
    """Saves input / restored / target with the prompt under ``<run>/samples/`` at each validation, and
    sends it to W&B where that logger is on. Reads what the LightningModule's ``validation_step`` returns:
    the restored images (B, 3, H, W)."""

    @override
    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx != 0 or not isinstance(outputs, torch.Tensor):
            return
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        key = f"val/{batch['set'][0]}"
        restored = outputs.float().clamp(0, 1)
        grid = comparison_grid(
            {"input": batch["lq"][0], "restored": restored[0], "target": batch["gt"][0]}, batch["prompt"][0]
        )
        folder = Path(trainer.default_root_dir) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        grid.save(folder / f"{key.replace('/', '_')}_step{trainer.global_step}.png")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key=f"{key}/example", images=[grid], caption=[batch["prompt"][0]])
