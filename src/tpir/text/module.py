"""Stage 1 LightningModule: fine-tune a BERT with masked-language-model + next-sentence losses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch.optim import Optimizer
from transformers import BertForPreTraining
from typing_extensions import override

from tpir.optim import configure_optimization

IGNORE_INDEX = -100  # label of tokens the MLM loss skips, as transformers sets it


class TextPretrainingModule(L.LightningModule):
    """MLM + NSP fine-tuning of ``BertForPreTraining`` on instruction-corpus pairs.

    Args:
        bert: the BERT with its pretraining heads.
        optimizer: partial optimizer, called with the parameters.
        scheduler: partial schedule, called with the optimizer and ``total_steps``; or None.
    """

    def __init__(
        self,
        bert: BertForPreTraining,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        # Partials stay out of the hyperparameters so checkpoints hold tensors and plain values only
        # and load with weights_only=True.
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.bert = bert

    @override
    def on_fit_start(self) -> None:
        self.bert.train()  # from_pretrained returns the model in eval mode; fine-tuning wants dropout

    def _shared_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        output = self.bert(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"],
        )
        logits, labels = output.prediction_logits, batch["labels"]
        mlm_loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
        nsp_logits = output.seq_relationship_logits
        nsp_loss = F.cross_entropy(nsp_logits, batch["next_sentence_label"])
        loss = mlm_loss + nsp_loss
        masked = labels != IGNORE_INDEX
        mlm_acc = (logits.argmax(-1)[masked] == labels[masked]).float().mean()
        nsp_acc = (nsp_logits.argmax(-1) == batch["next_sentence_label"]).float().mean()
        size = len(labels)
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size, on_step=on_step, on_epoch=not on_step)
        for name, value in [
            ("mlm_loss", mlm_loss),
            ("nsp_loss", nsp_loss),
            ("mlm_acc", mlm_acc),
            ("nsp_acc", nsp_acc),
        ]:
            self.log(f"{stage}/{name}", value, batch_size=size, on_step=on_step, on_epoch=not on_step)
        return loss

    @override
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    @override
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    @override
    def configure_optimizers(self) -> Any:
        return configure_optimization(
            self.parameters(),
            self.optimizer_factory,
            self.scheduler_factory,
            self.trainer.estimated_stepping_batches,
        )
