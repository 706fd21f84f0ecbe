"""Where the guidance vector Z of each sample comes from (config group ``guidance``).

- ``TextGuidance``: the frozen stage-1 encoder's embedding of the sample's prompt (the method).
- ``TaskEmbeddingGuidance``: a learned vector per task id (the classic "pick the head" baseline).
- ``NoGuidance``: nothing; the backbone is built without fusion (the paper's "w.o. SGI").

Training builds them from config; an exported model folder rebuilds the same classes from the plain
values of :meth:`Guidance.export_arguments` (:meth:`Guidance.from_export`), with its weights from the
folder's state dict.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tpir.text.cache import embed_cached
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import TextEncoder


class Guidance(nn.Module, metaclass=ABCMeta):
    """Base of the guidance kinds: ``forward(prompts, task_ids)`` gives Z, (B, dim), or None."""

    @property
    @abstractmethod
    def dim(self) -> int | None:
        """Width of Z; None when there is no guidance."""

    @staticmethod
    def kinds() -> dict[str, type[Guidance]]:
        """The guidance classes by name: all that a model folder or checkpoint may name."""
        return {kind.__name__: kind for kind in Guidance.__subclasses__()}

    def export_arguments(self) -> dict[str, Any]:
        """Plain values that, with the model folder's text encoder, rebuild this guidance."""
        return {}

    @classmethod
    def from_export(cls, arguments: dict[str, Any], encoder: TextEncoder | None) -> Guidance:
        """The guidance of an exported model folder (weights are loaded afterwards, with the backbone's)."""
        return cls(**arguments)


class TextGuidance(Guidance):
    """Z of each prompt from a frozen text encoder; corpus sentences are looked up, not re-encoded.

    With a corpus, the embeddings of every corpus sentence are computed once (cached on disk by the
    encoder's content hash) and looked up during training. The table is rebuilt on construction, not
    saved: checkpoints and model folders stay small. The encoder is kept outside the module tree: it is
    frozen, lives in its own folder, and would otherwise be copied into every checkpoint.

    Args:
        encoder: the (stage-1 fine-tuned) text encoder.
        corpus: the instruction corpus whose sentences are pre-embedded; None encodes every prompt.
        cache_dir: embedding cache folder, or None to skip the disk cache.
    """

    def __init__(
        self,
        encoder: TextEncoder,
        corpus: InstructionCorpus | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.__dict__["encoder"] = encoder.requires_grad_(False).eval()  # not a submodule (see above)
        sentences = [] if corpus is None else [p.sentence for p in (*corpus.train, *corpus.test)]
        self.rows = {sentence: row for row, sentence in enumerate(sentences)}
        table = embed_cached(encoder, sentences, cache_dir) if sentences else torch.empty(0, encoder.dim)
        self.register_buffer("table", table, persistent=False)
        self.training_rows = 0 if corpus is None else len(corpus.train)

    @property
    def training_embeddings(self) -> torch.Tensor:
        """Embeddings of the corpus's training sentences, (N_train, D): what Z is standardised with."""
        if self.training_rows == 0:
            raise ValueError(
                "this TextGuidance was built without a corpus, so it has no training embeddings."
            )
        return self.table[: self.training_rows]

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @classmethod
    def from_export(cls, arguments: dict[str, Any], encoder: TextEncoder | None) -> TextGuidance:
        if encoder is None:
            raise ValueError("text guidance needs the model folder's text encoder.")
        return cls(encoder, **arguments)

    def forward(self, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Z of each prompt, (B, D): corpus sentences from the table, others encoded now."""
        rows = [self.rows.get(prompt) for prompt in prompts]
        if rows and all(row is not None for row in rows):
            return self.table[torch.tensor(rows, device=self.table.device)]
        return self.encoder.encode(list(prompts)).to(self.table.device)


class TaskEmbeddingGuidance(Guidance):
    """A learned vector per task id: the guidance knows the task but reads no text.

    Args:
        tasks: task names, in id order.
        dim: width of the learned vectors.
    """

    def __init__(self, tasks: Sequence[str], dim: int = 64) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.embedding = nn.Embedding(len(self.tasks), dim)

    @property
    def dim(self) -> int:
        return self.embedding.embedding_dim

    def export_arguments(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "dim": self.dim}

    def forward(self, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Z of each sample's task, (B, dim)."""
        return self.embedding(task_ids.to(self.embedding.weight.device))


class NoGuidance(Guidance):
    """No guidance: the backbone is built without fusion and restores blind."""

    @property
    def dim(self) -> None:
        return None

    def forward(self, prompts: Sequence[str], task_ids: torch.Tensor) -> None:
        return None
