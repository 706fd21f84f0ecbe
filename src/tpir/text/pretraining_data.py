"""Stage-1 data: next-sentence pairs from the instruction corpus, tokenised and masked for MLM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerBase
from typing_extensions import override

from tpir.text.corpus import InstructionCorpus

IS_NEXT, NOT_NEXT = 0, 1  # transformers' convention for `next_sentence_label`


class NextSentencePairs(Dataset):
    """Sentence pairs for next-sentence prediction.

    Two sentences of the same category form an "is next" pair (label 0), a sentence with one of another
    category a "not next" pair (label 1). Even indices are "is next", odd ones "not next", so any
    even-length slice is exactly balanced; each pair is drawn from a generator seeded by (seed, index),
    so the dataset is reproducible and needs no state.

    Args:
        sentences: the sentences to pair.
        categories: category of each sentence, aligned with ``sentences``; at least two categories, and
            two sentences in each.
        num_pairs: length of the dataset.
        seed: base seed of the draws.
    """

    def __init__(
        self, sentences: Sequence[str], categories: Sequence[str], num_pairs: int, seed: int
    ) -> None:
        if len(sentences) != len(categories):
            raise ValueError(f"{len(sentences)} sentences but {len(categories)} categories.")
        self.sentences = list(sentences)
        self.by_category: dict[str, list[int]] = {}
        for index, category in enumerate(categories):
            self.by_category.setdefault(category, []).append(index)
        if len(self.by_category) < 2 or min(map(len, self.by_category.values())) < 2:
            raise ValueError("next-sentence pairs need two categories with at least two sentences each.")
        self.categories = list(categories)
        self.num_pairs = num_pairs
        self.seed = seed

    def __len__(self) -> int:
        return self.num_pairs

    def __getitem__(self, index: int) -> dict[str, Any]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)

        def pick(pool: Sequence[int]) -> int:
            return pool[int(torch.randint(len(pool), (1,), generator=generator))]

        first = pick(range(len(self.sentences)))
        category = self.categories[first]
        label = IS_NEXT if index % 2 == 0 else NOT_NEXT
        if label == IS_NEXT:
            second = pick([i for i in self.by_category[category] if i != first])
        else:
            second = pick([i for i, c in enumerate(self.categories) if c != category])
        return {
            "sentence_a": self.sentences[first],
            "sentence_b": self.sentences[second],
            "next_sentence_label": label,
        }


class PretrainingCollator:
    """Tokenise sentence pairs and mask 15% of their tokens with the transformers MLM collator.

    Returns batches with ``input_ids``, ``token_type_ids``, ``attention_mask``, ``labels`` (-100 where
    not masked) and ``next_sentence_label``, each (B, T) or (B,).
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, max_length: int, mlm_probability: float, seed: int | None
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.masker = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability, seed=seed)

    def __call__(self, pairs: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        encoded = self.tokenizer(
            [p["sentence_a"] for p in pairs],
            [p["sentence_b"] for p in pairs],
            truncation=True,
            max_length=self.max_length,
            return_special_tokens_mask=True,
        )
        features = [{key: encoded[key][i] for key in encoded} for i in range(len(pairs))]
        batch = dict(self.masker(features))
        batch["next_sentence_label"] = torch.tensor([p["next_sentence_label"] for p in pairs])
        return batch


class InstructionPairsDataModule(L.LightningDataModule):
    """Next-sentence pairs of the corpus's train split for training, of its test split for validation.

    Validation batches are tokenised and masked once, with a fixed seed, so every validation epoch
    scores the same masked tokens.

    Args:
        corpus: the instruction corpus.
        tokenizer: tokenizer of the encoder being fine-tuned.
        batch_size: pairs per batch.
        train_pairs: pairs per training epoch.
        val_pairs: validation pairs.
        max_length: token limit of a pair.
        mlm_probability: fraction of tokens masked (BERT: 0.15).
        seed: seed of pair draws and masking.
        num_workers: DataLoader workers.
    """

    def __init__(
        self,
        corpus: InstructionCorpus,
        tokenizer: PreTrainedTokenizerBase,
        batch_size: int = 32,
        train_pairs: int = 2048,
        val_pairs: int = 256,
        max_length: int = 64,
        mlm_probability: float = 0.15,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.corpus = corpus
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.train_pairs = train_pairs
        self.val_pairs = val_pairs
        self.max_length = max_length
        self.mlm_probability = mlm_probability
        self.seed = seed
        self.num_workers = num_workers

    def _pairs(self, split: str, num_pairs: int, seed: int) -> NextSentencePairs:
        return NextSentencePairs(self.corpus.sentences(split), self.corpus.labels(split), num_pairs, seed)

    @override
    def setup(self, stage: str | None = None) -> None:
        self.train_set = self._pairs("train", self.train_pairs, self.seed)
        val_set = self._pairs("test", self.val_pairs, self.seed + 1)
        collate = PretrainingCollator(self.tokenizer, self.max_length, self.mlm_probability, self.seed + 1)
        pairs = [val_set[i] for i in range(len(val_set))]
        self.val_batches = [
            collate(pairs[i : i + self.batch_size]) for i in range(0, len(pairs), self.batch_size)
        ]

    @override
    def train_dataloader(self) -> DataLoader:
        collate = PretrainingCollator(self.tokenizer, self.max_length, self.mlm_probability, self.seed)
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            collate_fn=collate,
            num_workers=self.num_workers,
            drop_last=True,
        )

    @override
    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_batches, batch_size=None)
