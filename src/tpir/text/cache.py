"""Cache of corpus embeddings, keyed by the encoder's content hash and the sentences embedded."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tpir.text.encoder import TextEncoder
from tpir.utils import atomic_path

log = logging.getLogger(__name__)


def cache_key(encoder_hash: str, sentences: Sequence[str]) -> str:
    """Name of the cache entry for these sentences under this encoder."""
    digest = hashlib.sha256(encoder_hash.encode())
    for sentence in sentences:
        digest.update(b"\0" + sentence.encode())
    return digest.hexdigest()[:32]


def embed_cached(
    encoder: TextEncoder, sentences: Sequence[str], cache_dir: str | Path | None
) -> torch.Tensor:
    """Embeddings of ``sentences`` (N, D), computed once per (encoder content, sentences) and reused.

    A changed encoder has another content hash, so it never reads vectors made by an older one.
    With ``cache_dir=None`` nothing is stored.
    """
    if cache_dir is None:
        return encoder.encode(sentences).cpu()
    path = Path(cache_dir) / f"embeddings-{cache_key(encoder.content_hash(), sentences)}.safetensors"
    if path.is_file():
        log.info("Reusing cached prompt embeddings %s", path)
        return load_file(path)["embeddings"]
    embeddings = encoder.encode(sentences).cpu().contiguous()
    with atomic_path(path) as partial:  # a reader never sees half a file
        save_file({"embeddings": embeddings}, partial)
    return embeddings
