"""Stage 2 LightningModule: the text-guided backbone trained all-in-one (L1 loss, or minus the PSNR)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MeanMetric
from typing_extensions import override

from tpir.metrics.image_quality import restoration_scores
from tpir.models.estimator import DegradationEstimator, Estimate
from tpir.models.guidance import Guidance, TextGuidance
from tpir.models.losses import check_loss, restoration_loss
from tpir.models.steering import plan, steer
from tpir.optim import configure_optimization
from tpir.viz.grids import comparison_grid

# Validation scores logged per set and averaged over sets (the rest of restoration_scores is for tests).
VALIDATION_SCORES = ("psnr", "ssim", "psnr_input", "ssim_input")

Config = Mapping[str, Any] | DictConfig
# Key of a checkpoint's latest training and validation figures, {name: value}.
LOGGED_METRICS = "logged_metrics"


def plain(config: Config | None) -> dict[str, Any] | None:
    """A config as plain, resolved Python values (what checkpoints may hold under ``weights_only``)."""
    if config is None:
        return None
    node = config if isinstance(config, DictConfig) else OmegaConf.create(dict(config))
    return OmegaConf.to_container(node, resolve=True)


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_mode(compile: bool | str) -> str:
    """The ``torch.compile`` mode that the module's ``compile`` argument names (True: ``"default"``).

    Raises:
        ValueError: ``compile`` is neither a bool nor one of :data:`COMPILE_MODES`.
    """
    if compile is True:
        return "default"
    if compile not in COMPILE_MODES:
        raise ValueError(
            f"module.compile={compile!r}: expected false, true or one of {', '.join(COMPILE_MODES)}."
        )
    return compile


class RestorationModule(L.LightningModule):
    """Trains ``TextGuidedRestorer`` on batches of ``lq``, ``gt``, ``prompt``, ``task`` (and, with an
    estimator, ``present``, ``strength``, ``target_present`` and ``target_strength``: (B, T) each, as
    :class:`~tpir.data.datasets.TaskMixture` gives them).

    Its arguments are configs (``_target_`` nodes, built here), saved as plain hyper-parameters, so
    ``RestorationModule.load_from_checkpoint(path)`` rebuilds it from the checkpoint alone.

    Logs ``train/loss`` (with an estimator also its parts ``train/restoration_loss`` and
    ``train/estimator_loss``); per validation set ``val/psnr/<set>``, ``val/ssim/<set>`` and the same of the
    unrestored input (``psnr_input``, ``ssim_input``); their mean over sets ``val/psnr``, ``val/ssim``.
    The first image of each set goes to the logger (and to ``samples/``) with its prompt. Test scores
    are not computed here: ``tpir.evaluation`` scores the best checkpoint, as ``tpir-eval`` does.

    Args:
        backbone: config of a partial ``TextGuidedRestorer`` (this module supplies ``guidance_dim``).
        guidance: config of where Z comes from (``TextGuidance``, ``TaskEmbeddingGuidance``, ``NoGuidance``).
        optimizer: config of a partial optimizer, called with the trainable parameters.
        scheduler: config of a partial schedule, called with the optimizer and ``total_steps``; or None.
        text_encoder: config of the encoder that reads this run's prompts; not built here: exports use
            it to understand prompts (which degradation they name).
        corpus: config of this run's instruction corpus; as ``text_encoder``.
        tasks: the tasks trained, in id order.
        compile: compile the backbone with ``torch.compile`` (state-dict keys stay the same): False;
            True or ``"default"``; ``"reduce-overhead"`` (also captures each step's kernels as CUDA
            graphs, replayed with one launch: what a GPU at small batches needs); ``"max-autotune"``
            (graphs, and kernels tuned per shape: a long warm-up). Shapes are static: training crops
            are of one size, and each validation size compiles once.
        loss: the training loss, ``"l1"`` or ``"psnr"`` (:func:`~tpir.models.losses.restoration_loss`).
        estimator: config of a :class:`~tpir.models.estimator.DegradationEstimator`, trained beside the
            backbone on what each sample has; the module's output is then steered by it
            (:mod:`tpir.models.steering`). Needs a guidance that reads prompts (``read_tasks``). None: the
            backbone's output as it is.
        estimator_lr: the estimator's learning rate, held after the warm-up instead of decayed with the
            backbone's; None: the optimizer's, scheduled as the backbone's.
    """

    def __init__(
        self,
        backbone: Config,
        guidance: Config,
        optimizer: Config,
        scheduler: Config | None = None,
        text_encoder: Config | None = None,
        corpus: Config | None = None,
        tasks: Sequence[str] = (),
        compile: bool | str = False,
        loss: str = "l1",
        estimator: Config | None = None,
        estimator_lr: float | None = None,
    ) -> None:
        super().__init__()
        check_loss(loss)
        self.save_hyperparameters(
            {
                "backbone": plain(backbone),
                "guidance": plain(guidance),
                "optimizer": plain(optimizer),
                "scheduler": plain(scheduler),
                "text_encoder": plain(text_encoder),
                "corpus": plain(corpus),
                "tasks": list(tasks),
                "compile": compile,
                "loss": loss,
                "estimator": plain(estimator),
                "estimator_lr": estimator_lr,
            }
        )
        self.guidance: Guidance = instantiate(self.hparams.guidance)
        self.backbone = instantiate(self.hparams.backbone)(guidance_dim=self.guidance.dim)
        statistics = self.guidance.input_statistics()
        if statistics is not None:
            self.backbone.guidance.set_input_statistics(*statistics)
        self.estimator: DegradationEstimator | None = None
        if estimator is not None:
            if not (isinstance(self.guidance, TextGuidance) and self.guidance.reader is not None):
                raise ValueError(
                    "module.estimator steers by what the prompt names, so it needs a guidance that reads "
                    "prompts (guidance.read_tasks, as degradation=composite sets)."
                )
            self.estimator = instantiate(self.hparams.estimator)
        if compile:
            self.backbone.compile(mode=compile_mode(compile), dynamic=False)
        self.scores = nn.ModuleDict()

    def forward(self, lq: torch.Tensor, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Restore ``lq`` (B, 3, H, W), RGB in [0, 1], as told by ``prompts`` (B strings) or ``task_ids`` (B,);
        with an estimator, steered by what each image is found to have."""
        if self.estimator is None:
            return self.restore_as_written(lq, prompts, task_ids)
        estimate = self.estimator(lq)

        def remeasure(index: int) -> Callable[[str], Estimate]:
            image, task = lq[index : index + 1], task_ids[index : index + 1]
            return lambda text: self.estimator(self.restore_as_written(image, [text], task).clamp(0, 1))

        plans = [
            plan(
                prompt,
                self.guidance.read(prompt),
                estimate.row(index),
                self.estimator.tasks,
                self.estimator.measured,
                self.guidance.lexicon,
                remeasure(index),
                self.estimator.order,
            )
            for index, prompt in enumerate(prompts)
        ]
        restored = self.restore_as_written(lq, [p.prompt for p in plans], task_ids)
        return steer(lq, restored, torch.tensor([p.share for p in plans]))

    def restore_as_written(
        self, lq: torch.Tensor, prompts: Sequence[str], task_ids: torch.Tensor
    ) -> torch.Tensor:
        """The backbone's output (B, 3, H, W) for ``lq`` (B, 3, H, W) and ``prompts`` (B strings) or
        ``task_ids`` (B,) as they are: all of what they name removed, whatever the image has. Training
        teaches this; :meth:`forward` steers it by the estimate."""
        return self.backbone(lq, self.guidance(prompts, task_ids))

    @override
    def setup(self, stage: str) -> None:
        names = self.trainer.datamodule.evaluation_set_names("val")
        self.scores = nn.ModuleDict(
            {name: nn.ModuleDict({score: MeanMetric() for score in VALIDATION_SCORES}) for name in names}
        )

    def _shared_step(self, batch: dict[str, Any], stage: str, batch_idx: int = 0) -> torch.Tensor | None:
        """Training: the loss. Validation: update the set's scores (the loss is not used there)."""
        if stage == "train":
            return self._training_loss(batch)
        restored = self(batch["lq"], batch["prompt"], batch["task"])
        name = batch["set"][0]
        scores = restoration_scores(restored, batch["lq"], batch["gt"])
        for score, metric in self.scores[name].items():
            metric.update(scores[score])
        if batch_idx == 0:
            self._show_example(batch, restored.float().clamp(0, 1), f"{stage}/{name}")
        return None

    def _training_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        """The backbone's loss on the targets of the prompts as written, plus the estimator's on what each
        sample has (the two share no weights)."""
        restored = self.restore_as_written(batch["lq"], batch["prompt"], batch["task"])
        loss = restoration_loss(restored, batch["gt"], self.hparams.loss)
        size = len(restored)
        if self.estimator is not None:
            measured = self.estimator_loss(batch, restored.detach())
            self.log("train/restoration_loss", loss, batch_size=size)
            self.log("train/estimator_loss", measured, batch_size=size)
            loss = loss + measured
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return loss

    def estimator_loss(self, batch: dict[str, Any], restored: torch.Tensor) -> torch.Tensor:
        """The estimator's loss on a training batch's inputs, targets and the backbone's outputs
        ``restored`` (B, 3, H, W), detached.

        Measured on the inputs and on the targets: a target without what the prompt named (clean, for
        "remove all") shows the estimator what lacking a degradation looks like. And on the backbone's
        outputs, told only what the prompt did not name (there as in the input): blind and wrong-task
        prompts measure such outputs again (tpir.models.steering.uncover), whose traces the estimator of
        targets alone read as rain (0.58 on denoised CBSD68 sigma 15). What the input hid (NaN) the output
        cannot show either.
        """
        if "present" not in batch or "named" not in batch:
            raise ValueError(
                "module.estimator needs training batches that say what each sample and its target "
                "have and what its prompt names ('present', 'strength', 'target_present', "
                "'target_strength', 'named'), as TaskMixture gives them."
            )
        unknown = self._named(batch["named"], restored.device) | batch["present"].isnan()
        return self.estimator.loss(
            torch.cat([batch["lq"], batch["gt"], restored.float().clamp(0, 1)]),
            torch.cat(
                [
                    batch["present"],
                    batch["target_present"],
                    batch["target_present"].masked_fill(unknown, float("nan")),
                ]
            ),
            torch.cat(
                [
                    batch["strength"],
                    batch["target_strength"],
                    batch["target_strength"].masked_fill(unknown, float("nan")),
                ]
            ),
        )

    def _named(self, named: Sequence[str], device: torch.device) -> torch.Tensor:
        """Which of the estimator's tasks each sample's prompt names for removal, (B, T) bool, from the
        batch's ``named`` (comma-separated task names per sample)."""
        tasks = self.estimator.tasks
        return torch.tensor([[task in text.split(",") for task in tasks] for text in named], device=device)

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

    @override
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    @override
    def validation_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._shared_step(batch, "val", batch_idx)

    @override
    def on_validation_epoch_end(self) -> None:
        """Log each set's scores and their mean. The metrics are already reduced over processes; sync_dist
        tells Lightning so (under DDP, every process logs the same values)."""
        means: dict[str, list[torch.Tensor]] = {score: [] for score in VALIDATION_SCORES}
        for name, scores in self.scores.items():
            if not scores["psnr"].update_count:
                continue
            for score, metric in scores.items():
                value = metric.compute()
                means[score].append(value)
                self.log(f"val/{score}/{name}", value, sync_dist=True)
                metric.reset()
        for score, values in means.items():
            if values:
                self.log(f"val/{score}", torch.stack(values).mean(), prog_bar=score == "psnr", sync_dist=True)

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the latest training and validation figures (``LOGGED_METRICS``), so that a run resumed
        after its last step still reports them."""
        checkpoint[LOGGED_METRICS] = {
            key: float(value)
            for key, value in self.trainer.callback_metrics.items()
            if key.startswith(("train/", "val/"))
        }

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse a checkpoint trained with another text encoder than the one its config now loads.

        Z is standardised with the corpus embeddings of the encoder it was trained with; the same key
        computed now (``backbone.guidance.input_mean``) must match, or every prompt would be misread.
        """
        key = "backbone.guidance.input_mean"
        if not isinstance(self.guidance, TextGuidance) or key not in checkpoint.get("state_dict", {}):
            return
        trained = checkpoint["state_dict"][key].to(self.backbone.guidance.input_mean)
        if not torch.allclose(trained, self.backbone.guidance.input_mean, atol=1e-4):
            raise ValueError(
                "the text encoder that this checkpoint's config names does not give the embeddings it was "
                "trained with (was stage 1 run again?); point text_encoder at the encoder of that run."
            )

    @override
    def configure_optimizers(self) -> Any:
        """AdamW (or the configured optimizer) over every trainable weight; with ``estimator_lr``, the
        estimator's weights in a group of their own at that rate, held (:func:`~tpir.optim.warmup_cosine`)."""
        parameters: Any = self.parameters()
        if self.estimator is not None and self.hparams.get("estimator_lr") is not None:
            estimated = {id(p) for p in self.estimator.parameters()}
            parameters = [
                {"params": [p for p in self.parameters() if id(p) not in estimated]},
                {"params": list(self.estimator.parameters()), "lr": self.hparams.estimator_lr, "held": True},
            ]
        return configure_optimization(
            parameters,
            instantiate(self.hparams.optimizer),
            None if self.hparams.scheduler is None else instantiate(self.hparams.scheduler),
            self.trainer.estimated_stepping_batches,
        )
