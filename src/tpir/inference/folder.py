"""The model folder: a trained steered model as one Hugging Face-style folder, saved and loaded.

Layout (:data:`FORMAT_VERSION` 3)::

    config.json            ModelConfig: backbone arguments, guidance class and arguments, estimator arguments
                           (or null), tasks, provenance
    model.safetensors      the steered model's weights (backbone, guidance, estimator)
    text_encoder/          the frozen BERT that reads prompts: for a MiniLM, only its differences from the
                           MiniLM package's (``base.json``, ``delta.safetensors``); else whole, with its tokenizer
    centroids.safetensors  mean embedding of each corpus category: what a prompt is matched to
    README.md              model card: the training config and the test table

The parts are the classes training used (``tpir.models``), rebuilt from plain values. Loading reads JSON,
safetensors and a Hugging Face folder only: nothing is unpickled. Folders of format version 2 (before the
backbone's Z projection was named ``prompt_projection``) load too: :func:`upgrade_config` and :func:`upgrade_weights` rename what changed.
A text encoder written whole, as every folder before the MiniLM delta (:mod:`tpir.text.encoder_delta`) has
it, loads as it did: the files of ``text_encoder/`` say which it is, so the format version is unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tpir.inference.card import model_card
from tpir.models.backbone import TextGuidedBackbone
from tpir.models.estimator import DegradationEstimator
from tpir.models.guidance import Guidance
from tpir.models.steered import SteeredModel
from tpir.text.classify import CategoryCentroids
from tpir.text.encoder import TextEncoder
from tpir.text.encoder_delta import EncoderBaseError, load_encoder, save_encoder
from tpir.utils import current_umask

FORMAT_VERSION = 3
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
ENCODER_DIR = "text_encoder"
CENTROIDS_FILE = "centroids.safetensors"
CARD_FILE = "README.md"


class ModelFolderError(ValueError):
    """A model folder or checkpoint that cannot be used; the message names it and says why."""


@dataclass
class ModelConfig:
    """What ``config.json`` holds.

    Attributes:
        tasks: the tasks trained, in id order.
        backbone: keyword arguments of ``TextGuidedBackbone``, without ``guidance_dim`` (the guidance's).
        guidance: ``{"class": <Guidance subclass name>, "arguments": Guidance.export_arguments()}``.
        estimator: the estimator's ``export_arguments()``, or None for a model without one.
        max_length: the longest prompt the text encoder reads, in tokens; None without a text encoder.
        provenance: where the weights come from (checkpoint, global step).
        training: the training's configs (for the model card), if known.
        format_version: :data:`FORMAT_VERSION` when written.
    """

    tasks: list[str]
    backbone: dict[str, Any]
    guidance: dict[str, Any]
    estimator: dict[str, Any] | None = None
    max_length: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION

    @classmethod
    def describe(
        cls,
        tasks: list[str],
        backbone: dict[str, Any],
        model: SteeredModel,
        text_encoder: TextEncoder | None,
        provenance: dict[str, Any],
        training: dict[str, Any] | None = None,
    ) -> ModelConfig:
        """The config of a steered model built from ``backbone`` (keyword arguments) and its parts."""
        return cls(
            tasks=list(tasks),
            backbone=backbone,
            guidance={"class": type(model.guidance).__name__, "arguments": model.guidance.export_arguments()},
            estimator=None if model.estimator is None else model.estimator.export_arguments(),
            max_length=None if text_encoder is None else text_encoder.max_length,
            provenance=provenance,
            training=training,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, ``training`` left out when unknown."""
        values = asdict(self)
        return values if self.training is not None else {k: v for k, v in values.items() if k != "training"}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """Parse ``config.json`` (:meth:`from_dict`)."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """The config of ``config.json``'s values, a version-2 one upgraded (:func:`upgrade_config`);
        raises ModelFolderError for another format version."""
        version = values.get("format_version")
        if version == 2:
            values = upgrade_config(values)
        if values.get("format_version") != FORMAT_VERSION:
            raise ModelFolderError(
                f"format version {version}; this tpir reads versions 2 and {FORMAT_VERSION} "
                "(export the checkpoint again with tpir-export)."
            )
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    def build(self, text_encoder: TextEncoder | None) -> SteeredModel:
        """The steered model this config describes, with fresh weights."""
        guidance = guidance_class(self.guidance["class"]).from_export(
            self.guidance["arguments"], text_encoder
        )
        backbone = TextGuidedBackbone(**self.backbone, guidance_dim=guidance.dim)
        estimator = DegradationEstimator(**self.estimator) if self.estimator else None
        return SteeredModel(backbone, guidance, estimator)


def upgrade_config(config: dict[str, Any]) -> dict[str, Any]:
    """A format-version-2 config in version 3's names: a text guidance's ``read_tasks`` are its
    ``parsed_tasks`` (a new dict; ``config`` is left as it is)."""
    config = json.loads(json.dumps(config))
    arguments = config.get("guidance", {}).get("arguments", {})
    if "read_tasks" in arguments:
        arguments["parsed_tasks"] = arguments.pop("read_tasks")
    return config | {"format_version": FORMAT_VERSION}


def upgrade_weights(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A format-version-2 state dict in version 3's names: the backbone's ``guidance`` MLP is its
    ``prompt_projection``."""
    old, new = "backbone.guidance.", "backbone.prompt_projection."
    return {(new + k[len(old) :] if k.startswith(old) else k): v for k, v in weights.items()}


def guidance_class(name: str) -> type[Guidance]:
    """A guidance class by name (:meth:`Guidance.kinds`); nothing else is built from a folder."""
    found = Guidance.kinds().get(name)
    if found is None:
        raise ModelFolderError(f"unknown guidance class {name!r} (made by another version of tpir?).")
    return found


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_folder(
    folder: Path,
) -> tuple[ModelConfig, SteeredModel, TextEncoder | None, CategoryCentroids | None]:
    """Read a model folder: its config, the steered model with its weights, its text encoder and centroids.

    Raises:
        ModelFolderError: the folder is missing, incomplete, of another format version, its weights do
            not fit its config, or its text encoder is stored against a base that is not installed here.
    """
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ModelFolderError(
            f"{folder}: not a tpir model folder (no {CONFIG_FILE}); make one with tpir-export, "
            "or run `make demo`, which exports outputs/demo/model."
        )
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
        config = ModelConfig.from_dict(raw)
        text_encoder = None
        if (folder / ENCODER_DIR).is_dir():
            text_encoder = load_encoder(folder / ENCODER_DIR, config.max_length)
        centroids = _load_centroids(folder / CENTROIDS_FILE) if (folder / CENTROIDS_FILE).is_file() else None
        model = config.build(text_encoder)
        weights = load_file(folder / WEIGHTS_FILE)
        if raw.get("format_version") == 2:
            weights = upgrade_weights(weights)
    except (ModelFolderError, EncoderBaseError) as error:
        raise ModelFolderError(f"{folder}: {error}") from error
    except Exception as error:  # json, safetensors, transformers and torch each raise their own
        raise ModelFolderError(f"{folder}: not a usable tpir model folder ({first_line(error)}).") from error
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ModelFolderError(
            f"{folder}: the weights do not fit the model of {CONFIG_FILE}: missing {sorted(missing)}, "
            f"unexpected {sorted(unexpected)}."
        )
    return config, model, text_encoder, centroids


def save_folder(
    folder: Path,
    config: ModelConfig,
    model: SteeredModel,
    text_encoder: TextEncoder | None,
    centroids: CategoryCentroids | None,
    overwrite: bool = False,
    card: str | None = None,
) -> Path:
    """Write the model folder; it appears complete or not at all. Refuses an existing folder unless
    ``overwrite``, and never replaces a folder that is not a model folder.

    Raises:
        FileExistsError: ``folder`` exists and ``overwrite`` is False, or it is not a model folder.
    """
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder} already exists; choose another folder or pass --overwrite.")
    if folder.exists() and not (folder / CONFIG_FILE).is_file():
        raise FileExistsError(
            f"{folder} is not a tpir model folder (no {CONFIG_FILE}); refusing to replace it."
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".partial"))
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, staging / WEIGHTS_FILE, metadata={"format": "pt"})
        if text_encoder is not None:
            save_encoder(text_encoder, staging / ENCODER_DIR)
        if centroids is not None:
            save_file(
                {"centroids": centroids.centroids.contiguous()},
                staging / CENTROIDS_FILE,
                metadata={"categories": json.dumps(list(centroids.categories))},
            )
        (staging / CONFIG_FILE).write_text(config.to_json(), encoding="utf-8")
        (staging / CARD_FILE).write_text(card or model_card(config.to_dict()), encoding="utf-8")
        _share_like_new_files(staging)
        _replace_folder(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _load_centroids(path: Path) -> CategoryCentroids:
    """Centroids saved by :func:`save_folder` (one row per category: its own centroid)."""
    with safe_open(str(path), framework="pt") as handle:
        categories = json.loads(handle.metadata()["categories"])
        centroids = handle.get_tensor("centroids")
    return CategoryCentroids(centroids, categories)


def _share_like_new_files(folder: Path) -> None:
    """Give a staged tree the modes of ordinary new files (mkdtemp and safetensors make them owner-only)."""
    mask = current_umask()
    folder.chmod(0o777 & ~mask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _replace_folder(staging: Path, folder: Path) -> None:
    """Move ``staging`` to ``folder``; an existing model folder is set aside first and removed after."""
    if not folder.exists():
        os.replace(staging, folder)
        return
    previous = folder.with_name(f".{folder.name}.previous")
    shutil.rmtree(previous, ignore_errors=True)
    os.replace(folder, previous)
    try:
        os.replace(staging, folder)
    except OSError:
        os.replace(previous, folder)  # put the old model back
        raise
    shutil.rmtree(previous, ignore_errors=True)
