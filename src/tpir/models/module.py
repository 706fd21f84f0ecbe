"""Stage 2 LightningModule: the text-guided backbone trained all-in-one with an L1 loss."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import WandbLogger
from torch import nn
from torch.optim import Optimizer
from torchmetrics import MeanMetric
from typing_extensions import override

from tpir.metrics.image_quality import psnr, ssim
from tpir.models.backbone import TextGuidedRestorer
from tpir.models.guidance import TextGuidance
from tpir.optim import configure_optimization
from tpir.viz.grids import comparison_grid

SCORES = ("psnr", "ssim", "psnr_input", "ssim_input")


class RestorationModule(L.LightningModule):
    """Trains ``TextGuidedRestorer`` on batches of ``lq``, ``gt``, ``prompt``, ``task``.

    Logs ``train/loss``; per evaluation set ``<stage>/psnr/<set>``, ``<stage>/ssim/<set>`` and the same
    of the unrestored input (``psnr_input``, ``ssim_input``); and their mean over sets ``<stage>/psnr``,
    ``<stage>/ssim``. The first image of each set goes to the logger (and to ``samples/``) as
    input / output / target with its prompt.

    Args:
        backbone: partial ``TextGuidedRestorer``; this module supplies ``guidance_dim``.
        guidance: where Z comes from (``TextGuidance``, ``TaskEmbeddingGuidance``, ``NoGuidance``).
        optimizer: partial optimizer, called with the trainable parameters.
        scheduler: partial schedule, called with the optimizer and ``total_steps``; or None.
    """

    def __init__(
        self,
        backbone: Callable[..., TextGuidedRestorer],
        guidance: nn.Module,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        # Partials stay out of the hyperparameters so checkpoints hold tensors and plain values only
        # and load with weights_only=True.
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.guidance = guidance
        self.backbone = backbone(guidance_dim=guidance.dim)
        if isinstance(guidance, TextGuidance):
            self.backbone.guidance.set_input_statistics(guidance.training_embeddings)
        self.scores = nn.ModuleDict()

    def forward(self, lq: torch.Tensor, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Restore ``lq`` (B, 3, H, W), RGB in [0, 1], as told by ``prompts`` (B strings) or ``task_ids`` (B,)."""
        return self.backbone(lq, self.guidance(prompts, task_ids))

    @override
    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        for split in ("val", "test"):
            names = datamodule.evaluation_set_names(split)
            self.scores[split] = nn.ModuleDict(
                {name: nn.ModuleDict({score: MeanMetric() for score in SCORES}) for name in names}
            )

    def _shared_step(self, batch: dict[str, Any], stage: str, batch_idx: int = 0) -> torch.Tensor | None:
        """Training: the L1 loss. Evaluation: update the set's scores (the loss is not used there)."""
        restored = self(batch["lq"], batch["prompt"], batch["task"])
        if stage == "train":
            loss = F.l1_loss(restored, batch["gt"])
            self.log("train/loss", loss, prog_bar=True, batch_size=len(restored))
            return loss
        name = batch["set"][0]
        scores = self.scores[stage][name]
        restored = restored.float().clamp(0, 1)  # scores in float32, also under bf16 autocast
        scores["psnr"].update(psnr(restored, batch["gt"]))
        scores["ssim"].update(ssim(restored, batch["gt"]))
        scores["psnr_input"].update(psnr(batch["lq"], batch["gt"]))
        scores["ssim_input"].update(ssim(batch["lq"], batch["gt"]))
        if batch_idx == 0:
            self._show_example(batch, restored, f"{stage}/{name}")
        return None

    def _show_example(self, batch: dict[str, Any], restored: torch.Tensor, key: str) -> None:
        """Send input / output / target with the prompt to the logger, and save it under ``samples/``."""
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        grid = comparison_grid(
            {"input": batch["lq"][0], "restored": restored[0], "target": batch["gt"][0]}, batch["prompt"][0]
        )
        folder = Path(self.trainer.default_root_dir) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        grid.save(folder / f"{key.replace('/', '_')}_step{self.global_step}.png")
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key=f"{key}/example", images=[grid], caption=[batch["prompt"][0]])

    def _log_scores(self, stage: str) -> None:
        means = {score: [] for score in SCORES}
        for name, scores in self.scores[stage].items():
            if not scores["psnr"].update_count:
                continue
            for score, metric in scores.items():
                value = metric.compute()
                means[score].append(value)
                self.log(f"{stage}/{score}/{name}", value)
                metric.reset()
        for score, values in means.items():
            if values:
                self.log(f"{stage}/{score}", torch.stack(values).mean(), prog_bar=score == "psnr")

    @override
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    @override
    def validation_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._shared_step(batch, "val", batch_idx)

    @override
    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._shared_step(batch, "test", batch_idx)

    @override
    def on_validation_epoch_end(self) -> None:
        self._log_scores("val")

    @override
    def on_test_epoch_end(self) -> None:
        self._log_scores("test")

    @override
    def configure_optimizers(self) -> Any:
        return configure_optimization(
            self.parameters(),
            self.optimizer_factory,
            self.scheduler_factory,
            self.trainer.estimated_stepping_batches,
        )
