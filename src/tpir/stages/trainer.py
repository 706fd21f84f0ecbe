"""The Lightning Trainer of every stage: built from config, saving checkpoints whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from omegaconf import DictConfig
from typing_extensions import override

from tpir.utils import atomic_path, load_checkpoint


def build_trainer(cfg: DictConfig, extra_callbacks: Sequence[Callback] = ()) -> L.Trainer:
    """A Trainer from ``cfg.trainer`` with the callbacks of ``cfg.callbacks`` (and ``extra_callbacks``, those
    a stage always has) and loggers of ``cfg.logger``, saving and loading checkpoints with
    :class:`SafeCheckpointIO`.

    Without a logger (``logger=none``) the learning-rate monitor has nowhere to write, so it is left out.
    """
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    callbacks += list(extra_callbacks)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    if not loggers:
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    return instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[SafeCheckpointIO()]
    )


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, saving through a temporary file renamed into place (a run killed while
    saving leaves the previous checkpoint whole) and loading with :func:`load_checkpoint`, which is how
    ``tpir-train ckpt_path=...`` reads its checkpoint too."""

    @override
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        with atomic_path(path) as partial, partial.open("wb") as stream:
            torch.save(checkpoint, stream)
            stream.flush()
            os.fsync(stream.fileno())

    @override
    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path, "cpu" if map_location is None else map_location)
