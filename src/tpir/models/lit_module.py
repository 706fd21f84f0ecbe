"""Stage 2's LightningModule: the steered model trained all-in-one (L1 loss, or minus the PSNR), with its
estimator beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MeanMetric
from typing_extensions import override

from tpir.data.batch import TrainingBatch
from tpir.metrics.image_quality import restoration_scores
from tpir.models.guidance import Guidance, TextGuidance
from tpir.models.losses import check_loss, restoration_loss
from tpir.models.steered import SteeredModel
from tpir.optim import configure_optimization

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


class RestorationLitModule(L.LightningModule):
    """Stage 2's LightningModule: the losses, logging and optimisers around one
    :class:`~tpir.models.steered.SteeredModel` (``self.model``), trained on the mixture's training batches.

    Its arguments are configs (``_target_`` nodes, built here), saved as plain hyper-parameters, so
    ``RestorationLitModule.load_from_checkpoint(path)`` rebuilds it from the checkpoint alone.

    Logs ``train/loss`` (with an estimator also its parts ``train/restoration_loss`` and
    ``train/estimator_loss``); per validation set ``val/psnr/<set>``, ``val/ssim/<set>`` and the same of the
    unrestored input (``psnr_input``, ``ssim_input``); their mean over sets ``val/psnr``, ``val/ssim``.
    Validation returns the restored images; the stage-2 trainer's ``ExampleImages`` callback sends the first
    of each set to the logger (and to ``samples/``) with its prompt. Test scores
    are not computed here: ``tpir.evaluation`` scores the best checkpoint, as ``tpir-eval`` does.

    Args:
        backbone: config of a partial ``TextGuidedBackbone`` (this module supplies ``guidance_dim``).
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
            (:mod:`tpir.models.steering`). Needs a guidance that parses prompts (``parsed_tasks``). None: the
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
        guidance: Guidance = instantiate(self.hparams.guidance)
        backbone = instantiate(self.hparams.backbone)(guidance_dim=guidance.dim)
        statistics = guidance.input_statistics()
        if statistics is not None:
            backbone.prompt_projection.set_input_statistics(*statistics)
        built = None if estimator is None else instantiate(self.hparams.estimator)
        if built is not None and built.tasks != list(tasks):
            raise ValueError(
                f"module.estimator.tasks={built.tasks}; expected the trained tasks in id order, {list(tasks)} "
                "(the training batches say per task, in that order, what each sample has)."
            )
        self.model = SteeredModel(backbone, guidance, built)
        if compile:
            backbone.compile(mode=compile_mode(compile), dynamic=False)
        self.scores = nn.ModuleDict()

    def forward(self, lq: torch.Tensor, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """The steered model's restoration of ``lq`` (B, 3, H, W) in [0, 1] for ``prompts`` (B strings) or
        ``task_ids`` (B,) (:meth:`SteeredModel.forward`)."""
        return self.model(lq, prompts, task_ids)

    @override
    def setup(self, stage: str) -> None:
        names = self.trainer.datamodule.evaluation_set_names("val")
        self.scores = nn.ModuleDict(
            {name: nn.ModuleDict({score: MeanMetric() for score in VALIDATION_SCORES}) for name in names}
        )

    def _shared_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        """Training: the loss. Validation: update the set's scores (the loss is not used there); the
        restored images (B, 3, H, W), which :class:`~tpir.stages.examples.ExampleImages` shows."""
        if stage == "train":
            return self._training_loss(batch)
        restored = self(batch["lq"], batch["prompt"], batch["task"])
        name = batch["set"][0]
        scores = restoration_scores(restored, batch["lq"], batch["gt"])
        for score, metric in self.scores[name].items():
            metric.update(scores[score])
        return restored

    def _training_loss(self, batch: TrainingBatch) -> torch.Tensor:
        """The backbone's loss on the targets of the prompts as written, plus the estimator's on what each
        sample has (the two share no weights)."""
        restored = self.model.restore_as_written(batch["lq"], batch["prompt"], batch["task"])
        loss = restoration_loss(restored, batch["gt"], self.hparams.loss)
        size = len(restored)
        if self.model.estimator is not None:
            measured = self.estimator_loss(batch, restored.detach())
            self.log("train/restoration_loss", loss, batch_size=size)
            self.log("train/estimator_loss", measured, batch_size=size)
            loss = loss + measured
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return loss

    def estimator_loss(self, batch: TrainingBatch, restored: torch.Tensor) -> torch.Tensor:
        """The estimator's loss on a training batch's inputs, targets and the backbone's outputs
        ``restored`` (B, 3, H, W), detached.

        Measured on the inputs and on the targets: a target without what the prompt named (clean, for
        "remove all") shows the estimator what lacking a degradation looks like. And on the backbone's
        outputs, told only what the prompt did not name (there as in the input): blind and wrong-task
        prompts measure such outputs again (tpir.models.steering.uncover), whose traces the estimator of
        targets alone read as rain. What the input hid (NaN) the output
        cannot show either.
        """
        if "present" not in batch or "named" not in batch:
            raise ValueError(
                "module.estimator needs training batches that say what each sample and its target "
                "have and what its prompt names ('present', 'strength', 'target_present', "
                "'target_strength', 'named'), as TaskMixture gives them."
            )
        # (B, T) bool, per task in id order (tpir.data.batch.TrainingBatch): the estimator's tasks are those.
        unknown = batch["named"].to(restored.device) | batch["present"].isnan()
        return self.model.estimator.loss(
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

    @override
    def training_step(self, batch: TrainingBatch, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    @override
    def validation_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self._shared_step(batch, "val")

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
        computed now (``model.backbone.prompt_projection.input_mean``) must match, or every prompt would be misread.
        """
        key = "model.backbone.prompt_projection.input_mean"
        projection = self.model.backbone.prompt_projection
        if not isinstance(self.model.guidance, TextGuidance) or key not in checkpoint.get("state_dict", {}):
            return
        trained = checkpoint["state_dict"][key].to(projection.input_mean)
        if not torch.allclose(trained, projection.input_mean, atol=1e-4):
            raise ValueError(
                "the text encoder and corpus that this checkpoint's config names do not give the embeddings it "
                "was trained with (was stage 1 run again, or the corpus changed?); point text_encoder and "
                "corpus at those of that run, or export it with the tpir it was trained with."
            )

    @override
    def configure_optimizers(self) -> Any:
        """AdamW (or the configured optimizer) over every trainable weight; with ``estimator_lr``, the
        estimator's weights in a group of their own at that rate, held (:func:`~tpir.optim.warmup_cosine`)."""
        parameters: Any = self.parameters()
        estimator = self.model.estimator
        if estimator is not None and self.hparams.get("estimator_lr") is not None:
            estimated = {id(p) for p in estimator.parameters()}
            parameters = [
                {"params": [p for p in self.parameters() if id(p) not in estimated]},
                {"params": list(estimator.parameters()), "lr": self.hparams.estimator_lr, "held": True},
            ]
        return configure_optimization(
            parameters,
            instantiate(self.hparams.optimizer),
            None if self.hparams.scheduler is None else instantiate(self.hparams.scheduler),
            self.trainer.estimated_stepping_batches,
        )
