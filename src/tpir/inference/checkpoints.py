"""A stage-2 training checkpoint turned into a :class:`Restorer`, trusting nothing in it.

The file is loaded with ``weights_only=True`` (tensors and plain values only); its hyper-parameters are
the run's config, and every ``_target_`` in them must resolve to a part of a tpir model, a torch
optimizer or a schedule before anything is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_object, instantiate
from torch.optim.lr_scheduler import LRScheduler

from tpir.inference.folder import ModelConfig, ModelFolderError, first_line
from tpir.inference.restorer import Restorer
from tpir.models.backbone import TextGuidedBackbone
from tpir.models.estimator import DegradationEstimator
from tpir.models.guidance import Guidance, TextGuidance
from tpir.models.lit_module import RestorationLitModule
from tpir.optim import warmup_cosine
from tpir.text.classify import CategoryCentroids, corpus_centroids
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import TextEncoder, corpus_words, load_minilm, load_pretraining_bert, tiny_random_bert
from tpir.utils import CheckpointError, load_checkpoint


def find_checkpoint(path: str | Path) -> Path:
    """``path`` itself, or in a run folder ``checkpoints/best.ckpt``, else ``checkpoints/last.ckpt`` (a run
    shorter than one validation interval keeps no best)."""
    path = Path(path)
    if not path.is_dir():
        return path
    for name in ("best.ckpt", "last.ckpt"):
        if (path / "checkpoints" / name).is_file():
            return path / "checkpoints" / name
    raise ModelFolderError(f"{path}: a folder without checkpoints/best.ckpt or checkpoints/last.ckpt.")


def restorer_from_checkpoint(checkpoint: str | Path) -> Restorer:
    """Rebuild from a stage-2 training checkpoint, which carries its config as hyper-parameters.

    Raises:
        ModelFolderError: the file is missing, does not load safely, is not a tpir stage-2 checkpoint,
            names anything but a model part, optimizer or schedule, or its text encoder is not the one it was
            trained with.
    """
    checkpoint = Path(checkpoint)
    saved = _load_checkpoint(checkpoint)
    hparams = saved.get("hyper_parameters")
    if (
        not isinstance(saved.get("state_dict"), dict)
        or not isinstance(hparams, dict)
        or "guidance" not in hparams
    ):
        raise ModelFolderError(
            f"{checkpoint}: not a tpir stage-2 checkpoint (no state_dict or no model hyper-parameters)."
        )
    try:
        refuse_renamed_parts(checkpoint, hparams)
    except CheckpointError as error:
        raise ModelFolderError(str(error)) from error
    _check_targets(checkpoint, hparams)
    if isinstance(hparams["guidance"], dict) and "cache_dir" in hparams["guidance"]:
        # A checkpoint does not choose where files are written: embed the corpus afresh, in memory.
        hparams = {**hparams, "guidance": {**hparams["guidance"], "cache_dir": None}}
    try:
        module = RestorationLitModule(**{**hparams, "compile": False})
        module.on_load_checkpoint(saved)
        module.load_state_dict(saved["state_dict"])
        guidance = module.model.guidance
        text_encoder = guidance.encoder if isinstance(guidance, TextGuidance) else None
        if text_encoder is None and hparams.get("text_encoder"):
            text_encoder = TextEncoder.from_bundle(instantiate(hparams["text_encoder"]))
        centroids = None
        if text_encoder is not None and hparams.get("corpus"):
            centroids = corpus_centroids(text_encoder, instantiate(hparams["corpus"]))
    except Exception as error:  # hydra, transformers and torch each raise their own
        raise ModelFolderError(
            f"{checkpoint}: cannot rebuild the model from it ({first_line(error)})."
        ) from error
    training = {
        **{
            k: hparams[k]
            for k in ("backbone", "guidance", "optimizer", "scheduler", "text_encoder", "corpus")
        },
        "loss": module.hparams.loss,  # the module's default for checkpoints from before module.loss
        "estimator": module.hparams.estimator,
    }
    provenance = {"checkpoint": str(checkpoint), "global_step": saved.get("global_step")}
    return restorer_of_module(module, text_encoder, centroids, provenance, training)


def restorer_of_module(
    module: RestorationLitModule,
    text_encoder: TextEncoder | None = None,
    centroids: CategoryCentroids | None = None,
    provenance: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> Restorer:
    """A restorer around ``module``'s steered model (the same weights, in eval mode), described by the
    module's hyper-parameters: what a checkpoint exports and what the stage-2 runner scores."""
    backbone = {k: v for k, v in module.hparams.backbone.items() if not k.startswith("_")}
    config = ModelConfig.describe(
        list(module.hparams.tasks), backbone, module.model, text_encoder, provenance or {}, training
    )
    return Restorer(config, module.model, text_encoder, centroids)


def refuse_renamed_parts(path: Path, hparams: Any) -> None:
    """Raise CheckpointError, in one sentence, for a checkpoint of a tpir from before its parts were renamed
    (its backbone is ``TextGuidedRestorer``): its weights have other names than this tpir builds."""
    if "TextGuidedRestorer" in str(hparams):
        raise CheckpointError(
            f"{path}: a checkpoint of an earlier tpir (its backbone is TextGuidedRestorer); export it into a "
            "model folder with that tpir's tpir-export, whose folders this tpir loads."
        )


def _buildable_from_checkpoints() -> set[Any]:
    """What a checkpoint's hyper-parameters may build: the parts of a stage-2 model, nothing that writes."""
    return {
        TextGuidedBackbone,
        DegradationEstimator,
        *Guidance.kinds().values(),
        TextEncoder.from_bundle,
        load_minilm,
        load_pretraining_bert,
        tiny_random_bert,
        corpus_words,
        InstructionCorpus.load,
        warmup_cosine,
    }


def _check_targets(checkpoint: Path, config: Any) -> None:
    """Refuse hyper-parameters that would build anything but a model's parts, torch optimizers and schedules.

    Each ``_target_`` is resolved (as Hydra would) and compared by identity: a dotted path that walks
    through a module's imports (``tpir.inference.folder.os.system``) resolves to something else and is
    refused.
    """
    if isinstance(config, dict):
        target = config.get("_target_")
        if target is not None:
            try:
                found = get_object(str(target))
            except Exception:  # hydra raises ImportError or its own errors for what does not resolve
                found = None
            optim = isinstance(found, type) and issubclass(found, torch.optim.Optimizer | LRScheduler)
            if not optim and found not in _buildable_from_checkpoints():
                raise ModelFolderError(
                    f"{checkpoint}: its config names {target!r}, which is not a part of a tpir model, a torch "
                    "optimizer or a schedule; refusing to build it."
                )
        for value in config.values():
            _check_targets(checkpoint, value)
    elif isinstance(config, list):
        for value in config:
            _check_targets(checkpoint, value)


def _load_checkpoint(path: Path) -> dict[str, Any]:
    """A Lightning checkpoint, loaded without unpickling arbitrary objects (:func:`tpir.utils.load_checkpoint`)."""
    try:
        return load_checkpoint(path)
    except CheckpointError as error:
        raise ModelFolderError(str(error)) from error
