"""Where the guidance vector Z of each sample comes from (config group ``guidance``).

- ``TextGuidance``: the frozen stage-1 encoder's embedding of the sample's prompt (the method).
- ``TaskEmbeddingGuidance``: a learned vector per task id (the classic "pick the head" baseline).
- ``NoGuidance``: nothing; the backbone is built without fusion (the paper's "w.o. SGI").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from tpir.text.cache import embed_cached
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PretrainingBert, TextEncoder


class TextGuidance(nn.Module):
    """Z of each prompt from a frozen text encoder; corpus sentences are looked up, not re-encoded.

    The embeddings of every corpus sentence are computed once (cached on disk by the encoder's content
    hash) and kept as a buffer, so checkpoints carry them. The encoder itself is kept outside the module
    tree: it is frozen, lives in its own folder, and would otherwise be copied into every checkpoint.

    Args:
        bert: the (stage-1 fine-tuned) BERT and its tokenizer.
        corpus: the instruction corpus whose sentences are pre-embedded.
        tasks: task names (unused by this guidance; kept for a common signature).
        cache_dir: embedding cache folder, or None to skip the disk cache.
        max_length: token limit of a prompt.
    """

    def __init__(
        self,
        bert: PretrainingBert,
        corpus: InstructionCorpus,
        tasks: Sequence[str],
        cache_dir: str | Path | None = None,
        max_length: int = 64,
    ) -> None:
        super().__init__()
        encoder = TextEncoder(bert.model.bert, bert.tokenizer, max_length).requires_grad_(False).eval()
        self.__dict__["encoder"] = encoder  # deliberately not a submodule (see class docstring)
        sentences = [p.sentence for p in (*corpus.train, *corpus.test)]
        self.rows = {sentence: row for row, sentence in enumerate(sentences)}
        self.register_buffer("table", embed_cached(encoder, sentences, cache_dir))
        self.training_rows = len(corpus.train)

    @property
    def training_embeddings(self) -> torch.Tensor:
        """Embeddings of the corpus's training sentences, (N_train, D): what Z is standardised with."""
        return self.table[: self.training_rows]

    @property
    def dim(self) -> int:
        """Width of Z."""
        return self.table.shape[1]

    def forward(self, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Z of each prompt, (B, D): corpus sentences from the table, others encoded now."""
        rows = [self.rows.get(prompt) for prompt in prompts]
        if all(row is not None for row in rows):
            return self.table[torch.tensor(rows, device=self.table.device)]
        return self.encoder.encode(list(prompts)).to(self.table.device)


class TaskEmbeddingGuidance(nn.Module):
    """A learned vector per task id: the guidance knows the task but reads no text.

    Args:
        tasks: task names, in id order.
        dim: width of the learned vectors.
    """

    def __init__(self, tasks: Sequence[str], dim: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(tasks), dim)

    @property
    def dim(self) -> int:
        return self.embedding.embedding_dim

    def forward(self, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Z of each sample's task, (B, dim)."""
        return self.embedding(task_ids)


class NoGuidance(nn.Module):
    """No guidance: the backbone is built without fusion and restores blind."""

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__()

    @property
    def dim(self) -> None:
        return None

    def forward(self, prompts: Sequence[str], task_ids: torch.Tensor) -> None:
        return None
