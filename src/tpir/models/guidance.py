"""Where the guidance vector Z of each sample comes from (config group ``guidance``).

- ``TextGuidance``: the frozen stage-1 encoder's embedding of the sample's prompt (the method), and, when
  it reads prompts (``parsed_tasks``), what the prompt asks for as numbers: per task whether it is removed,
  the strength stated and whether one was (``tpir.text.parsing.instruction_vector``).
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
from tpir.text.classify import CategoryCentroids
from tpir.text.corpus import BLIND_CATEGORY, InstructionCorpus
from tpir.text.encoder import TextEncoder
from tpir.text.lexicon import Lexicon
from tpir.text.parsing import ParsedPrompt, PromptParser, instruction_vector


class Guidance(nn.Module, metaclass=ABCMeta):
    """Base of the guidance kinds: ``forward(prompts, task_ids)`` gives Z, (B, dim), or None."""

    @property
    @abstractmethod
    def dim(self) -> int | None:
        """Width of Z; None when there is no guidance."""

    def input_statistics(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per-feature (mean, std) that Z is standardised with, each (dim,); None leaves Z as it is."""
        return None

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

    A mean-pooled embedding hardly moves with a number or a "but keep the grain" (see the note of the
    prompts issue for the measurement), so with ``parsed_tasks`` each prompt is also read
    (:class:`tpir.text.parsing.PromptParser`) and Z carries, after the embedding, three numbers per task:
    removed or not, the stated strength over the top of its range, and whether one was stated; with
    ``read_numbers=False`` only the first (a model with a degradation estimator takes the numbers there,
    :mod:`tpir.models.steering`).

    Args:
        encoder: the (stage-1 fine-tuned) text encoder.
        corpus: the instruction corpus whose sentences are pre-embedded; None encodes every prompt.
        cache_dir: embedding cache folder, or None to skip the disk cache.
        parsed_tasks: the tasks whose removal and strength Z states, in id order; None reads nothing.
        lexicon: the lexicon's plain values (a model folder's); None takes the corpus's.
        categories: the centroid categories (a model folder's); None takes the corpus's.
        read_numbers: whether Z carries the stated strengths too (with ``parsed_tasks``).
    """

    def __init__(
        self,
        encoder: TextEncoder,
        corpus: InstructionCorpus | None = None,
        cache_dir: str | Path | None = None,
        parsed_tasks: Sequence[str] | None = None,
        lexicon: dict[str, Any] | None = None,
        categories: Sequence[str] | None = None,
        read_numbers: bool = True,
    ) -> None:
        super().__init__()
        self.__dict__["encoder"] = encoder.requires_grad_(False).eval()  # not a submodule (see above)
        prompts = [] if corpus is None else [p for p in (*corpus.train, *corpus.test) if not p.is_template]
        self.rows = {prompt.sentence: row for row, prompt in enumerate(prompts)}
        sentences = list(self.rows)
        table = embed_cached(encoder, sentences, cache_dir) if sentences else torch.empty(0, encoder.dim)
        self.register_buffer("table", table, persistent=False)
        self.training_rows = 0 if corpus is None else sum(not p.is_template for p in corpus.train)
        self.parsed_tasks = list(parsed_tasks or [])
        self.read_numbers = read_numbers
        self.parser: PromptParser | None = None
        if self.parsed_tasks:
            self._set_up_parsing(corpus, lexicon, categories)
        self._encoded: dict[str, torch.Tensor] = {}

    def _set_up_parsing(
        self,
        corpus: InstructionCorpus | None,
        lexicon: dict[str, Any] | None,
        categories: Sequence[str] | None,
    ) -> None:
        """The prompt parser, with the category centroids (a buffer: model folders carry them)."""
        if corpus is None and (lexicon is None or categories is None):
            raise ValueError("reading prompts needs the corpus, or a model folder's lexicon and categories.")
        self.lexicon = Lexicon.from_dict(lexicon) if lexicon is not None else corpus.lexicon
        if corpus is not None:
            free = [p for p in corpus.train if p.is_free_form]
            found = CategoryCentroids(
                self.table[[self.rows[p.sentence] for p in free]], [p.category for p in free]
            )
            self.categories, centroids = list(found.categories), found.centroids
        else:
            self.categories = list(categories)
            centroids = torch.zeros(len(self.categories), self.encoder.dim)
        missing = [t for t in self.parsed_tasks if t not in self.lexicon]
        if missing:
            raise ValueError(
                f"the lexicon has no words for {missing}; add them to a corpus folder's lexicon.tsv."
            )
        self.register_buffer("centroids", centroids)
        self.parser = PromptParser(self.lexicon)
        self._parsed: dict[str, ParsedPrompt] = {}
        self._instructions: dict[str, torch.Tensor] = {}  # instruction_vector of each prompt read

    @property
    def training_embeddings(self) -> torch.Tensor:
        """Embeddings of the corpus's training sentences, (N_train, D): what Z is standardised with."""
        if self.training_rows == 0:
            raise ValueError(
                "this TextGuidance was built without a corpus, so it has no training embeddings."
            )
        return self.table[: self.training_rows]

    def input_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The embedding part standardised with the training sentences; the reading part (values in
        [0, 1]) scaled by ``sqrt(embedding width / reading width)``, so that both parts weigh alike in the
        first layer (otherwise 9 numbers beside 384 standardised features start with a twentieth of the
        say, and 2000 CPU steps do not learn to listen to them)."""
        embeddings = self.training_embeddings
        extra = self.dim - self.encoder.dim
        mean = torch.cat([embeddings.mean(dim=0), torch.zeros(extra)])
        reading_std = (extra / self.encoder.dim) ** 0.5 if extra else 1.0
        std = torch.cat([embeddings.std(dim=0), torch.full((extra,), reading_std)])
        return mean, std

    @property
    def dim(self) -> int:
        return self.encoder.dim + (3 if self.read_numbers else 1) * len(self.parsed_tasks)

    def export_arguments(self) -> dict[str, Any]:
        if not self.parsed_tasks:
            return {}
        arguments = {
            "parsed_tasks": self.parsed_tasks,
            "lexicon": self.lexicon.to_dict(),
            "categories": self.categories,
        }
        return arguments if self.read_numbers else arguments | {"read_numbers": False}

    @classmethod
    def from_export(cls, arguments: dict[str, Any], encoder: TextEncoder | None) -> TextGuidance:
        if encoder is None:
            raise ValueError("text guidance needs the model folder's text encoder.")
        return cls(encoder, **arguments)

    def embed(self, prompts: Sequence[str]) -> torch.Tensor:
        """The encoder's embedding of each prompt, (B, D): corpus sentences from the table, others encoded
        once per process."""
        missing = [p for p in dict.fromkeys(prompts) if p not in self.rows and p not in self._encoded]
        if missing:
            self._encoded.update(zip(missing, self.encoder.encode(missing).cpu(), strict=True))
        device = self.table.device
        rows = [self.table[self.rows[p]] if p in self.rows else self._encoded[p].to(device) for p in prompts]
        return torch.stack(rows)

    def parse(self, prompt: str, embedding: torch.Tensor | None = None) -> ParsedPrompt:
        """What ``prompt`` asks for (prompts naming nothing by word are placed by their embedding (D,))."""
        if self.parser is None:
            raise ValueError("this guidance reads no prompts (it was built without parsed_tasks).")
        if prompt not in self._parsed:
            # One row per category is its own centroid; read from the buffer, which a model folder loads. A
            # prompt naming nothing by word is placed among what this model removes, and blind prompts.
            readable = [
                i for i, c in enumerate(self.categories) if c in self.parsed_tasks or c == BLIND_CATEGORY
            ]
            self.parser.centroids = CategoryCentroids(
                self.centroids.cpu()[readable], [self.categories[i] for i in readable]
            )

            def embed(_: str) -> torch.Tensor:
                return (embedding if embedding is not None else self.embed([prompt])[0]).cpu()

            self._parsed[prompt] = self.parser.parse(prompt, embed)
        return self._parsed[prompt]

    def forward(self, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Z of each prompt, (B, dim): its embedding, then (with ``parsed_tasks``) what it asks for."""
        embeddings = self.embed(prompts)
        if not self.parsed_tasks:
            return embeddings
        for prompt, embedding in zip(prompts, embeddings, strict=True):
            if prompt not in self._instructions:
                self._instructions[prompt] = instruction_vector(
                    self.parse(prompt, embedding), self.parsed_tasks, self.lexicon, self.read_numbers
                )
        instructions = torch.stack([self._instructions[p] for p in prompts])
        return torch.cat([embeddings, instructions.to(embeddings)], dim=-1)


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
