"""The restorer: a steered model loaded for use (what ``tpir.load`` returns).

It runs the model in a chosen precision, restores images of any size tile by tile (halving the tiles of
a GPU that runs out of memory), and takes any kind of image (:mod:`tpir.inference.inputs`). The plan and
the steering are the steered model's own (:meth:`tpir.models.steered.SteeredModel.plans`), so a restorer
restores as the training's validation does.

    model = tpir.load("outputs/demo/model")
    restored = model.restore("rainy.jpg", "remove the rain")
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from tpir.data.photos import Photo
from tpir.inference import inputs
from tpir.inference.folder import ModelConfig, ModelFolderError, load_folder, save_folder
from tpir.inference.interpretation import Interpretation, Interpreter, PromptWarning, upscaling_prompt
from tpir.inference.runtime import (
    Precision,
    PrecisionError,
    cast_backbone,
    choose_precision,
    keep_freed_memory,
    tiles_per_batch,
)
from tpir.inference.tiling import restore_tiled, tile_count
from tpir.models.backbone import TextGuidedBackbone
from tpir.models.estimator import DegradationEstimator
from tpir.models.guidance import Guidance
from tpir.models.steered import SteeredModel
from tpir.models.steering import Plan, steer
from tpir.text.classify import CategoryCentroids
from tpir.text.encoder import TextEncoder

DEFAULT_TILE, DEFAULT_OVERLAP = 512, 32
# The precision of a model evaluated as its bf16-mixed training run validated it: weights in fp32, the
# backbone under bf16 autocast.
AUTOCAST = "bf16-mixed"


class Restorer(nn.Module):
    """A steered model with its text encoder and category centroids: restores an image as a prompt says.

    Args:
        config: what ``config.json`` holds.
        model: the steered model (backbone, guidance, estimator).
        text_encoder: the frozen text encoder (the guidance's own for text guidance). It stays on the CPU
            whatever device the model is moved to: a prompt is encoded once per command.
        centroids: category centroids of the corpus under ``text_encoder`` (what a prompt is matched to).
    """

    def __init__(
        self,
        config: ModelConfig,
        model: SteeredModel,
        text_encoder: TextEncoder | None,
        centroids: CategoryCentroids | None,
    ) -> None:
        super().__init__()
        self.config = config
        self.model = model.eval()
        if text_encoder is not None:
            text_encoder.requires_grad_(False).eval()
        self.interpreter = Interpreter(model, list(config.tasks), text_encoder, centroids)
        self._precision = Precision("fp32", "as built")

    @classmethod
    def assemble(
        cls,
        tasks: list[str],
        backbone: dict,
        guidance: Guidance,
        text_encoder: TextEncoder | None,
        centroids: CategoryCentroids | None = None,
        estimator: DegradationEstimator | None = None,
        provenance: dict | None = None,
    ) -> Restorer:
        """A restorer of fresh backbone weights around ``guidance`` (and ``estimator``): ``backbone`` holds
        ``TextGuidedBackbone``'s keyword arguments but ``guidance_dim`` (the guidance's)."""
        model = SteeredModel(TextGuidedBackbone(**backbone, guidance_dim=guidance.dim), guidance, estimator)
        provenance = provenance or {"checkpoint": None, "global_step": 0}
        return cls(
            ModelConfig.describe(tasks, backbone, model, text_encoder, provenance),
            model,
            text_encoder,
            centroids,
        )

    @property
    def tasks(self) -> list[str]:
        """The tasks the model was trained for."""
        return list(self.config.tasks)

    @property
    def text_encoder(self) -> TextEncoder | None:
        """The frozen text encoder that prompts are checked and encoded with."""
        return self.interpreter.text_encoder

    @property
    def centroids(self) -> CategoryCentroids | None:
        """The corpus categories' centroids that prompts are matched to."""
        return self.interpreter.centroids

    @property
    def device(self) -> torch.device:
        return next(self.model.backbone.parameters()).device

    @property
    def precision(self) -> Precision:
        """The number format the backbone runs in, and why (:meth:`set_precision`)."""
        return self._precision

    def set_precision(self, requested: str = "auto") -> Precision:
        """Run the backbone in ``requested`` precision on its current device (move it there first).

        Every way a model is loaded for inference passes here (folders, checkpoints), so on the CPU this is
        also where the process starts keeping freed memory (:func:`tpir.inference.runtime.keep_freed_memory`).

        Args:
            requested: ``auto`` (bf16 where the device computes it natively, else fp32), ``fp32``, ``bf16``
                (see :mod:`tpir.inference.runtime`), or ``bf16-mixed``: fp32 weights under bf16 autocast,
                as a ``bf16-mixed`` training run computes.

        Raises:
            PrecisionError: ``requested`` is unknown or unavailable on the device, or another precision is
                asked of a model already cast to bf16 (its fp32 weights are gone: load it again).
        """
        if requested == AUTOCAST:
            chosen = Precision(AUTOCAST, "as the training run computed")
        else:
            chosen = choose_precision(requested, self.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        if chosen.name != self._precision.name:
            if self._precision.name == "bf16":  # the fp32 weights are gone
                raise PrecisionError(f"this model already runs in bf16; load it again for {chosen.name}.")
            if chosen.name == "bf16":
                cast_backbone(self.model.backbone, chosen.dtype)
        self._precision = chosen
        return chosen

    @contextlib.contextmanager
    def _computing(self) -> Iterator[None]:
        """No gradients, and bf16 autocast in the ``bf16-mixed`` precision."""
        autocast = self._precision.name == AUTOCAST
        with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
            yield

    def interpret(self, prompt: str, task: str | None = None) -> Interpretation:
        """Check, encode, match and parse a prompt, once (:class:`Interpreter`).

        Raises:
            PromptError: the prompt is empty or too long, or a one-hot model cannot tell its task.
        """
        with self._computing():
            return self.interpreter(prompt, task)

    def forward(self, image: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """The backbone's output (B, 3, H, W) float32, not clamped, for images (B, 3, H, W) RGB in [0, 1]
        and ``z`` (1 or B, D), whatever :attr:`precision` the backbone runs in."""
        if z is not None:
            z = z.to(self.device).expand(image.shape[0], -1)
        with self._computing():
            return self.model.backbone(image.to(self.device, torch.float32), z).float()

    def restore_tensor(
        self,
        image: torch.Tensor,
        prompt: str | Interpretation,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        progress: Callable[[], object] | None = None,
    ) -> torch.Tensor:
        """Restore images (B, 3, H, W) RGB in [0, 1] as ``prompt`` says, tile by tile.

        Args:
            image: the degraded images; any size (tiles of ``tile`` pixels bound the memory).
            prompt: the prompt, or one interpreted with :meth:`interpret`. The notes of a prompt given as a
                string (e.g. that it is understood with low confidence) are issued as :class:`PromptWarning`.
            tile: tile side, a multiple of 8; None restores each image in one piece. Tiles are restored
                :func:`~tpir.inference.runtime.tiles_per_batch` at a time (one on the CPU).
            overlap: pixels shared by neighbouring tiles.
            progress: called once per tile.

        Returns:
            The restored images, (B, 3, H, W) float32 in [0, 1] on the CPU.
        """
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image: expected shape (B, 3, H, W), got {tuple(image.shape)}.")
        read = self._interpreted(prompt)
        restored = [self._restore_one(one[None], read, tile, overlap, progress) for one in image.float()]
        return restored[0] if len(restored) == 1 else torch.cat(restored)  # no copy of a single image

    def plan_for(
        self,
        image: torch.Tensor,
        prompt: str | Interpretation,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
    ) -> Plan | None:
        """What restoring ``image`` (1, 3, H, W) in [0, 1] with ``prompt`` does: the prompt the backbone
        reads and the share of its change kept; None for a model without an estimator. A degradation
        measured again once another is removed is measured on the backbone's output in tiles of ``tile``
        (None: whole), as the restoration itself runs."""
        read = self._interpreted(prompt)
        if read.parsed is None:
            return None
        task_ids = torch.zeros(1, dtype=torch.long)

        def restore(view: torch.Tensor, text: str) -> torch.Tensor:
            restored = self._tiled(view, self.interpret(text).z, tile, overlap)
            return restored.clamp(0, 1).to(self.device)

        with self._computing():
            plans = self.model.plans(image.to(self.device, torch.float32), [read.text], task_ids, restore)
        return None if plans is None else plans[0]

    def _restore_one(
        self,
        image: torch.Tensor,
        read: Interpretation,
        tile: int | None,
        overlap: int,
        progress: Callable[[], object] | None,
        planned: Plan | None = None,
    ) -> torch.Tensor:
        """One image (1, 3, H, W) restored tile by tile, then steered by its :meth:`plan_for` (``planned``, or
        made here)."""
        if planned is None:
            planned = self.plan_for(image, read, tile, overlap)
        if planned is None:
            return self._tiled(image, read.z, tile, overlap, progress).clamp(0, 1)
        if planned.share == 0.0:  # nothing the prompt names is there
            for _ in range(tile_count(*image.shape[-2:], tile, overlap) if progress else 0):
                progress()
            return image.cpu().clone()
        restored = self._tiled(image, self.interpret(planned.prompt).z, tile, overlap, progress)
        return steer(image.cpu(), restored, torch.tensor([planned.share]))

    def _tiled(
        self,
        image: torch.Tensor,
        z: torch.Tensor | None,
        tile: int | None,
        overlap: int,
        progress: Callable[[], object] | None = None,
    ) -> torch.Tensor:
        """The backbone's output for ``image`` (1, 3, H, W) with ``z``, tile by tile (as many at a time as
        :func:`~tpir.inference.runtime.tiles_per_batch` allows), unsteered and not clamped; (1, 3, H, W)
        float32 on the CPU."""
        batch = tiles_per_batch(self.device)
        return restore_tiled(lambda pieces: self._pieces(pieces, z), image, tile, overlap, progress, batch)

    def _pieces(self, pieces: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """Restore tiles (N, 3, h, w) in one forward, or, if the GPU runs out of memory, in halves."""
        try:
            return self(pieces, z)
        except torch.cuda.OutOfMemoryError:
            if len(pieces) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(pieces) // 2
            return torch.cat([self._pieces(pieces[:half], z), self._pieces(pieces[half:], z)])

    def _interpreted(self, prompt: str | Interpretation) -> Interpretation:
        """``prompt`` interpreted. The caller of the public method that calls this never sees the
        Interpretation of a string, so its notes are issued as :class:`PromptWarning` pointing at them."""
        if isinstance(prompt, Interpretation):
            return prompt
        read = self.interpret(prompt)
        for note in read.notes:
            warnings.warn(f"{read.text!r}: {note}", PromptWarning, stacklevel=3)
        return read

    def _scaled(self, prompt: str | Interpretation, scale: float) -> str | Interpretation:
        """``prompt`` as a photo enlarged ``scale`` times is restored with
        (:func:`~tpir.inference.interpretation.upscaling_prompt`)."""
        if scale == 1:
            return prompt
        if isinstance(prompt, Interpretation):
            raise ValueError("a scale other than 1 takes the prompt as text, not an Interpretation.")
        return upscaling_prompt(prompt, scale, self.tasks)

    def restore(
        self,
        image: inputs.AnyImage,
        prompt: str | Interpretation,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        scale: float = 1.0,
    ) -> Image.Image | np.ndarray | torch.Tensor:
        """Restore an image as ``prompt`` says, returning the same kind of image
        (:func:`tpir.inference.inputs.restore_any`: paths, PIL images, numpy arrays, tensors). With
        ``scale``, the image is enlarged that many times first and the prompt asks to undo it too
        (:func:`~tpir.inference.interpretation.upscaling_prompt`): a sharper, larger photo."""
        read = self._interpreted(self._scaled(prompt, scale))
        return inputs.restore_any(self, image, read, tile, overlap, scale)

    def restore_photo(
        self,
        photo: Photo,
        prompt: str | Interpretation,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        progress: Callable[[], object] | None = None,
        planned: Plan | None = None,
    ) -> Photo:
        """``photo`` with its colour restored; alpha, bit depth and grayscale-ness are kept. ``planned``:
        this photo's :meth:`plan_for`, when the caller has made it already (to show it)."""
        read = self._interpreted(prompt)
        return photo.with_rgb(
            self._restore_one(photo.rgb[None].float(), read, tile, overlap, progress, planned)[0]
        )

    def restore_file(
        self,
        source: str | Path,
        target: str | Path,
        prompt: str | Interpretation,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        overwrite: bool = False,
        progress: Callable[[], object] | None = None,
        scale: float = 1.0,
    ) -> Path:
        """Read ``source``, restore it (enlarged ``scale`` times first, as :meth:`restore`) and write
        ``target`` in the source's form, atomically (:func:`tpir.inference.inputs.restore_file`)."""
        read = self._interpreted(self._scaled(prompt, scale))
        return inputs.restore_file(self, source, target, read, tile, overlap, overwrite, progress, scale)

    def save_pretrained(self, folder: str | Path, overwrite: bool = False, card: str | None = None) -> Path:
        """Write the model folder (:func:`tpir.inference.folder.save_folder`).

        Raises:
            PrecisionError: the backbone was cast to bf16 (:meth:`set_precision`): its fp32 weights are gone.
            FileExistsError: the folder exists (without ``overwrite``), or is not a model folder.
        """
        if self._precision.name == "bf16":
            raise PrecisionError(
                f"this model runs in {self._precision.name}; save it from a model loaded with precision='fp32'."
            )
        return save_folder(
            Path(folder), self.config, self.model, self.text_encoder, self.centroids, overwrite, card
        )

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: str | torch.device = "cpu", precision: str = "auto"
    ) -> Restorer:
        """Load a folder written by :meth:`save_pretrained` (``tpir-export``, ``make demo``).

        Args:
            folder: the model folder.
            device: where the model runs.
            precision: ``auto``, ``fp32`` or ``bf16``; see :meth:`set_precision`.

        Raises:
            ModelFolderError: the folder is missing, incomplete, or of an unknown format version.
            PrecisionError: ``precision`` is unknown or unavailable on ``device``.
        """
        config, model, text_encoder, centroids = load_folder(Path(folder))
        restorer = cls(config, model, text_encoder, centroids).to(device)
        restorer.set_precision(precision)
        return restorer


__all__ = ["DEFAULT_OVERLAP", "DEFAULT_TILE", "ModelFolderError", "Restorer"]
