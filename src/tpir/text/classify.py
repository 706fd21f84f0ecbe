"""Nearest-category classification of prompts by cosine similarity to category centroids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from tpir.text.cache import embed_cached
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import TextEncoder


@dataclass(frozen=True)
class CategoryMatch:
    """What the model understood a prompt as."""

    category: str
    confidence: float  # softmax of the scaled cosine similarities, in [0, 1]
    similarities: dict[str, float]  # cosine similarity to each category centroid


class CategoryCentroids:
    """Mean embedding per category; classifies new embeddings by cosine similarity.

    Args:
        embeddings: embeddings of labelled sentences, (N, D).
        labels: category of each row.
        temperature: cosine similarities are divided by this before the softmax that gives confidence.
    """

    def __init__(self, embeddings: torch.Tensor, labels: Sequence[str], temperature: float = 0.05) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] != len(labels):
            raise ValueError(
                f"expected embeddings (N, D) with N={len(labels)}, got {tuple(embeddings.shape)}."
            )
        self.categories = tuple(dict.fromkeys(labels))
        rows = {c: [i for i, label in enumerate(labels) if label == c] for c in self.categories}
        self.centroids = torch.stack([embeddings[rows[c]].mean(dim=0) for c in self.categories])
        self.temperature = temperature

    def similarities(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each embedding (N, D) to each centroid: (N, K)."""
        return F.normalize(embeddings.float(), dim=-1) @ F.normalize(self.centroids.float(), dim=-1).T

    def predict(self, embeddings: torch.Tensor) -> list[str]:
        """Nearest category of each embedding (N, D)."""
        return [self.categories[i] for i in self.similarities(embeddings).argmax(dim=-1).tolist()]

    def match(self, embedding: torch.Tensor) -> CategoryMatch:
        """Nearest category of one embedding (D,), with its confidence."""
        cosine = self.similarities(embedding.reshape(1, -1))[0]
        probabilities = torch.softmax(cosine / self.temperature, dim=-1)
        best = int(probabilities.argmax())
        return CategoryMatch(
            category=self.categories[best],
            confidence=float(probabilities[best]),
            similarities={c: float(s) for c, s in zip(self.categories, cosine.tolist(), strict=True)},
        )


def corpus_centroids(
    encoder: TextEncoder, corpus: InstructionCorpus, cache_dir: str | Path | None = None
) -> CategoryCentroids:
    """Category centroids of the corpus's training split under this encoder (embeddings cached in
    ``cache_dir``, or computed afresh when it is None)."""
    return CategoryCentroids(
        embed_cached(encoder, corpus.sentences("train"), cache_dir).cpu(), corpus.labels("train")
    )


def accuracy_by_category(predicted: Sequence[str], expected: Sequence[str]) -> dict[str, float]:
    """Accuracy per expected category and overall (key ``"overall"``)."""
    scores: dict[str, float] = {}
    for category in dict.fromkeys(expected):
        hits = [p == e for p, e in zip(predicted, expected, strict=True) if e == category]
        scores[category] = sum(hits) / len(hits)
    scores["overall"] = sum(p == e for p, e in zip(predicted, expected, strict=True)) / max(len(expected), 1)
    return scores
