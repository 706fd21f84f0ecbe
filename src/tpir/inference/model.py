"""A trained restorer as one Hugging Face-style folder, saved and loaded; ``tpir.inference.checkpoints``
builds one from a training checkpoint.

Folder layout (``FORMAT_VERSION`` 2)::

    config.json            backbone arguments, guidance class and its arguments, estimator arguments (or
                           null), tasks, provenance
    model.safetensors      the weights of the backbone, the guidance and the estimator (``state_dict``)
    text_encoder/          the frozen BERT and its tokenizer (``save_pretrained``): reads prompts
    centroids.safetensors  mean embedding of each corpus category: what a prompt is understood as
    README.md              model card: the training config and the test table

The backbone and the guidance are the classes training used (``tpir.models``), rebuilt from plain
values. Loading reads JSON, safetensors and a Hugging Face folder only: nothing is unpickled.

    model = tpir.load("outputs/demo/model")
    restored = model.restore("rainy.jpg", "remove the rain")
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from tpir.data.photos import (
    Photo,
    check_writable,
    photo_from_array,
    photo_from_pil,
    photo_to_array,
    photo_to_pil,
    read_photo,
    write_photo,
)
from tpir.inference.card import model_card
from tpir.inference.runtime import (
    Precision,
    PrecisionError,
    cast_backbone,
    choose_precision,
    keep_freed_memory,
    tiles_per_batch,
)
from tpir.inference.tiling import restore_tiled, tile_count
from tpir.models.backbone import TextGuidedRestorer
from tpir.models.estimator import DegradationEstimator, Estimate
from tpir.models.guidance import Guidance, TaskEmbeddingGuidance, TextGuidance
from tpir.models.steering import Plan, plan, steer
from tpir.text.classify import CategoryCentroids, Understanding
from tpir.text.corpus import bundled_corpus_dir
from tpir.text.encoder import (
    PromptError,
    TextEncoder,
)
from tpir.text.lexicon import Lexicon
from tpir.text.reading import PromptReader, Reading
from tpir.utils import current_umask

FORMAT_VERSION = 2
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
ENCODER_DIR = "text_encoder"
CENTROIDS_FILE = "centroids.safetensors"
CARD_FILE = "README.md"
DEFAULT_TILE, DEFAULT_OVERLAP = 512, 32


class ModelFolderError(ValueError):
    """A model folder or checkpoint that cannot be used; the message names it and says why."""


class PromptWarning(UserWarning):
    """A note on a prompt given as a string to ``restore``, whose :class:`ReadPrompt` the caller never sees
    (``warnings.filterwarnings("ignore", category=PromptWarning)`` silences them)."""


def model_config(
    tasks: list[str],
    backbone: dict[str, Any],
    guidance: Guidance,
    reader: TextEncoder | None,
    provenance: dict[str, Any],
    training: dict[str, Any] | None = None,
    estimator: DegradationEstimator | None = None,
) -> dict[str, Any]:
    """What ``config.json`` holds for a model of these parts.

    Args:
        tasks: the tasks trained, in id order.
        backbone: keyword arguments of ``TextGuidedRestorer``, without ``guidance_dim`` (the guidance's).
        guidance: the guidance; its class and :meth:`Guidance.export_arguments` are recorded.
        reader: the text encoder that reads prompts, or None.
        provenance: where the weights come from (checkpoint, global step).
        training: the training's configs (for the model card), if known.
        estimator: the degradation estimator, if the model has one; its arguments are recorded.
    """
    config = {
        "format_version": FORMAT_VERSION,
        "tasks": list(tasks),
        "backbone": backbone,
        "guidance": {"class": type(guidance).__name__, "arguments": guidance.export_arguments()},
        "estimator": None if estimator is None else estimator.export_arguments(),
        "max_length": None if reader is None else reader.max_length,
        "provenance": provenance,
    }
    return config if training is None else config | {"training": training}


@dataclass(frozen=True)
class ReadPrompt:
    """A prompt as the model read it, once.

    Attributes:
        text: the prompt, stripped.
        z: its guidance (1, D), or None for a model without guidance.
        understanding: the nearest corpus category and its confidence, when the model has centroids.
        reading: every degradation the prompt names to remove (with its number) or keep; None when the
            model has no text reader.
        notes: what the user should know of this reading, one sentence each: a low confidence
            (:meth:`PromptReader.doubt`), then what this model cannot do of what the prompt asks.
    """

    text: str
    z: torch.Tensor | None
    understanding: Understanding | None
    reading: Reading | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """What was understood, for people: the reading (or the nearest category), then the notes."""
        if self.reading is not None:
            lines = [f'understood "{self.text}" as: {self.reading.summary()}']
        elif self.understanding is not None:
            lines = [
                f'understood "{self.text}" as: {self.understanding.category} '
                f"(confidence {self.understanding.confidence:.2f})"
            ]
        else:
            lines = [f'read "{self.text}" (this model does not tell what it understood)']
        return "\n".join([*lines, *(f"note: {note}" for note in self.notes)])


class Restorer(nn.Module):
    """Backbone + guidance + prompt reader (+ degradation estimator): restores an image as a prompt says.

    With an estimator, each image is measured first, and the prompt's reading and the measurement decide
    what the backbone is asked and how much of its change is kept (:meth:`plan`, :mod:`tpir.models.steering`).

    Args:
        config: what ``config.json`` holds (``backbone``, ``guidance``, ``tasks``, ``max_length``,
            ``provenance``).
        backbone: the restoration network.
        guidance: where Z comes from (the training's class).
        reader: the frozen text encoder that reads prompts (the guidance's own for text guidance). It
            stays on the CPU whatever device the model is moved to: a prompt is read once per command.
        centroids: category centroids of the corpus under ``reader`` (what a prompt names).
        estimator: measures what each image has (presence and strength per task); None for models
            trained without one (numbers and blind prompts then reach the backbone only through Z).
    """

    def __init__(
        self,
        config: dict[str, Any],
        backbone: TextGuidedRestorer,
        guidance: Guidance,
        reader: TextEncoder | None,
        centroids: CategoryCentroids | None,
        estimator: DegradationEstimator | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone.eval()
        self.guidance = guidance.eval()
        self.estimator = None if estimator is None else estimator.eval()
        self.__dict__["reader"] = None if reader is None else reader.requires_grad_(False).eval()
        self.centroids = centroids
        self._read: dict[tuple[str, str | None], ReadPrompt] = {}
        self._display_reader: PromptReader | None = (
            None  # the bundled lexicon, for models that read no prompts
        )
        self._precision = Precision("fp32", "as built")

    @property
    def tasks(self) -> list[str]:
        """The tasks the model was trained for."""
        return list(self.config["tasks"])

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    @property
    def precision(self) -> Precision:
        """The number format the backbone runs in, and why (:meth:`set_precision`)."""
        return self._precision

    def set_precision(self, requested: str = "auto") -> Precision:
        """Run the backbone in ``requested`` precision on its current device (move it there first).

        Every way a model is loaded for inference passes here (folders, checkpoints), so on the CPU this is
        also where the process starts keeping freed memory
        (:func:`tpir.inference.runtime.keep_freed_memory`), which makes repeated forwards faster.

        Args:
            requested: ``auto`` (bf16 where the device computes it natively, else fp32), ``fp32`` or
                ``bf16``; see :mod:`tpir.inference.runtime`.

        Returns:
            The precision chosen, with the reason (its ``summary()`` is what the tools print).

        Raises:
            PrecisionError: ``requested`` is unknown or unavailable on the device, or fp32 is asked of a
                model already cast to bf16 (its fp32 weights are gone: load it again).
        """
        chosen = choose_precision(requested, self.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        if chosen.name != self._precision.name:
            if self._precision.name != "fp32":
                raise PrecisionError(
                    f"this model already runs in {self._precision.name}; load it again for {chosen.name}."
                )
            cast_backbone(self.backbone, chosen.dtype)
        self._precision = chosen
        return chosen

    def check_prompt(self, prompt: str) -> str:
        """The prompt, stripped; raises :class:`PromptError` if it is empty or too long to read."""
        prompt = prompt.strip()
        if not prompt:
            raise PromptError('the prompt is empty; say what to remove (e.g. "remove the rain").')
        if self.reader is not None:
            self.reader.check_prompt(prompt)
        return prompt

    @torch.no_grad()
    def read_prompt(self, prompt: str, task: str | None = None) -> ReadPrompt:
        """Check, encode and understand a prompt, once (repeated calls are cached).

        Args:
            prompt: what to remove, in words.
            task: the image's task when the caller knows it (evaluation); a ``guidance=onehot`` model,
                which reads no text, takes it, else the task the prompt is understood as.

        Raises:
            PromptError: the prompt is empty or too long, or a one-hot model cannot tell its task.
        """
        key = (prompt, task)
        if key not in self._read:
            text = self.check_prompt(prompt)
            reads_text = isinstance(self.guidance, TextGuidance)
            z = embedding = None
            if reads_text:  # Z starts with the reader's embedding: encode once, for Z and understanding
                z = self.guidance([text], torch.zeros(1, dtype=torch.long))
                embedding = z[0, : self.guidance.encoder.dim]
            elif self.reader is not None:
                embedding = self.reader.encode([text])[0]
            understanding = None
            if embedding is not None and self.centroids is not None:
                understanding = self.centroids.understand(embedding.cpu())
            if not reads_text:
                z = self.guidance([text], self._task_ids(text, task, understanding))
            reading, notes = self._reading(text, embedding)
            self._read[key] = ReadPrompt(
                text, None if z is None else z.to(self.device), understanding, reading, notes
            )
        return self._read[key]

    def _reading(self, text: str, embedding: torch.Tensor | None) -> tuple[Reading | None, tuple[str, ...]]:
        """What the prompt names, and what of it this model cannot do.

        A model trained to read prompts (``read_tasks``) reads them as in training. Any other model with
        centroids is read for the user's sake with the bundled lexicon, and says that numbers, compound
        and keep prompts do not reach it. Either says first when the prompt is understood with low
        confidence (:meth:`PromptReader.doubt`).
        """
        if isinstance(self.guidance, TextGuidance) and self.guidance.reader is not None:
            reading = self.guidance.read(text, embedding)
            notes = [self.guidance.reader.doubt(reading)]
        elif self.centroids is not None and embedding is not None:
            if self._display_reader is None:
                self._display_reader = PromptReader(
                    Lexicon.from_folders([bundled_corpus_dir()]), self.centroids
                )
            reading = self._display_reader.read(text, lambda _: embedding.cpu())
            notes = [self._display_reader.doubt(reading)]
            if any(number is not None for number in reading.removed.values()):
                notes.append(
                    "this model reads no numbers (it was trained before strength prompts); the strength is its own guess."
                )
            if len(reading.removes(self.tasks)) > 1 or reading.kept:
                notes.append(
                    "this model removes one degradation at a time; it does not read which to keep or remove of several."
                )
        else:
            return None, ()
        unknown = [c for c in (*reading.removed, *reading.kept) if c not in self.tasks]
        if unknown:
            notes.append(
                f"this model was not trained for {', '.join(unknown)} (its tasks: {', '.join(self.tasks)})."
            )
        return reading, tuple(note for note in notes if note is not None)

    def _task_ids(self, prompt: str, task: str | None, understanding: Understanding | None) -> torch.Tensor:
        """The task id (1,) a one-hot guidance is given; zeros for guidances that read no task."""
        if not isinstance(self.guidance, TaskEmbeddingGuidance):
            return torch.zeros(1, dtype=torch.long)
        category = task or (understanding.category if understanding else None)
        if category not in self.guidance.tasks:
            raise PromptError(
                f"this model picks a task from the prompt ({', '.join(self.guidance.tasks)}), "
                f"but {prompt!r} reads as {category!r}."
            )
        return torch.tensor([self.guidance.tasks.index(category)])

    @torch.no_grad()
    def forward(self, image: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """Restore (B, 3, H, W) RGB in [0, 1] with ``z`` (1 or B, D); returns (B, 3, H, W) float32 in
        [0, 1], whatever :attr:`precision` the backbone runs in."""
        if z is not None:
            z = z.to(self.device).expand(image.shape[0], -1)
        return self.backbone(image.to(self.device, torch.float32), z).clamp_(0, 1)

    def restore_tensor(
        self,
        image: torch.Tensor,
        prompt: str | ReadPrompt,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        progress: Callable[[], object] | None = None,
    ) -> torch.Tensor:
        """Restore images (B, 3, H, W) RGB in [0, 1] as ``prompt`` says, tile by tile.

        Args:
            image: the degraded images; any size (tiles of ``tile`` pixels bound the memory).
            prompt: the prompt, or one already read with :meth:`read_prompt`. The notes of a prompt given
                as a string (e.g. that it is understood with low confidence) are issued as
                :class:`PromptWarning`.
            tile: tile side, a multiple of 8; None restores each image in one piece. Tiles are restored
                :func:`~tpir.inference.runtime.tiles_per_batch` at a time (one on the CPU).
            overlap: pixels shared by neighbouring tiles.
            progress: called once per tile.

        Returns:
            The restored images, (B, 3, H, W) float32 in [0, 1] on the CPU.
        """
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image: expected shape (B, 3, H, W), got {tuple(image.shape)}.")
        read = self._read_for_caller(prompt)
        restored = [self._restore_one(one[None], read, tile, overlap, progress) for one in image.float()]
        return restored[0] if len(restored) == 1 else torch.cat(restored)  # no copy of a single image

    @torch.no_grad()
    def plan(self, image: torch.Tensor, prompt: str | ReadPrompt) -> Plan | None:
        """What restoring ``image`` (1, 3, H, W) in [0, 1] with ``prompt`` does: the prompt the backbone
        reads and the share of its change kept; None for a model without an estimator."""
        read = self._read_for_caller(prompt)
        if self.estimator is None or read.reading is None:
            return None
        image = image.to(self.device, torch.float32)

        def remeasure(text: str) -> Estimate:
            z = self.read_prompt(text).z
            return self.estimator(
                image,
                through=lambda view: self._tiled(view, z, DEFAULT_TILE, DEFAULT_OVERLAP).to(self.device),
            )

        return plan(
            read.text,
            read.reading,
            self.estimator(image),
            self.estimator.tasks,
            self.estimator.measured,
            self.guidance.lexicon,
            remeasure,
            self.estimator.order,
        )

    def _restore_one(
        self,
        image: torch.Tensor,
        read: ReadPrompt,
        tile: int | None,
        overlap: int,
        progress: Callable[[], object] | None,
        planned: Plan | None = None,
    ) -> torch.Tensor:
        """One image (1, 3, H, W) restored tile by tile, then steered by its :meth:`plan` (``planned``, or
        made here)."""
        if planned is None:
            planned = self.plan(image, read)
        if planned is not None and planned.share == 0.0:  # nothing the prompt names is there
            for _ in range(tile_count(*image.shape[-2:], tile, overlap) if progress else 0):
                progress()
            return image.cpu().clone()
        z = read.z if planned is None else self.read_prompt(planned.prompt).z
        restored = self._tiled(image, z, tile, overlap, progress)
        return restored if planned is None else steer(image.cpu(), restored, torch.tensor([planned.share]))

    @torch.no_grad()
    def _tiled(
        self,
        image: torch.Tensor,
        z: torch.Tensor | None,
        tile: int | None,
        overlap: int,
        progress: Callable[[], object] | None = None,
    ) -> torch.Tensor:
        """The backbone's output for ``image`` (1, 3, H, W) with ``z``, tile by tile (as many at a time as
        :func:`~tpir.inference.runtime.tiles_per_batch` allows), unsteered; (1, 3, H, W) float32 on the CPU."""
        return restore_tiled(
            lambda pieces: self._restore_pieces(pieces, z),
            image,
            tile,
            overlap,
            progress,
            tiles_per_batch(self.device),
        )

    def _restore_pieces(self, pieces: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """Restore tiles (N, 3, h, w) in one forward, or, if the GPU runs out of memory, in halves."""
        try:
            return self(pieces, z)
        except torch.cuda.OutOfMemoryError:
            if len(pieces) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(pieces) // 2
            return torch.cat([self._restore_pieces(pieces[:half], z), self._restore_pieces(pieces[half:], z)])

    def _read_for_caller(self, prompt: str | ReadPrompt) -> ReadPrompt:
        """``prompt`` read. The caller of the public method that calls this never sees the ReadPrompt of a
        string, so its notes are issued as :class:`PromptWarning` pointing at that caller."""
        if isinstance(prompt, ReadPrompt):
            return prompt
        read = self.read_prompt(prompt)
        for note in read.notes:
            warnings.warn(f"{read.text!r}: {note}", PromptWarning, stacklevel=3)
        return read

    def restore(
        self,
        image: str | Path | Image.Image | np.ndarray | torch.Tensor,
        prompt: str | ReadPrompt,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
    ) -> Image.Image | np.ndarray | torch.Tensor:
        """Restore an image as ``prompt`` says, returning the same kind of image.

        Args:
            image: a path (returns a PIL image; :meth:`restore_file` writes one in the file's own form),
                a PIL image (modes L, LA, RGB and RGBA come back in their mode; others as L or RGB(A),
                8-bit), a numpy array ((H, W) or (H, W, C), uint8, uint16 or float in [0, 1]; same shape
                and dtype back) or a tensor ((3, H, W) or (B, 3, H, W) float in [0, 1]; same shape back,
                on the CPU).
            prompt: what to remove, e.g. "remove the rain", or a prompt read with :meth:`read_prompt`.
            tile: tile side for large images, a multiple of 8; None restores in one piece.
            overlap: pixels shared by neighbouring tiles.

        Raises:
            PromptError: the prompt cannot be read. PhotoError: the image cannot be used.

        Warns:
            PromptWarning: each note on the prompt, e.g. that it is understood with low confidence.
        """
        read = self._read_for_caller(prompt)
        if isinstance(image, torch.Tensor):
            batch = image if image.ndim == 4 else image[None]
            if batch.ndim != 4 or batch.shape[1] != 3 or not batch.is_floating_point():
                raise ValueError(
                    f"image tensor of shape {tuple(image.shape)} and dtype {image.dtype}; expected "
                    "(3, H, W) or (B, 3, H, W) float RGB in [0, 1]."
                )
            restored = self.restore_tensor(batch, read, tile, overlap).to(image.dtype)
            return restored if image.ndim == 4 else restored[0]
        if isinstance(image, str | Path):
            return photo_to_pil(self.restore_photo(read_photo(image), read, tile, overlap))
        if isinstance(image, Image.Image):
            return photo_to_pil(self.restore_photo(photo_from_pil(image), read, tile, overlap))
        if isinstance(image, np.ndarray):
            restored = photo_to_array(self.restore_photo(photo_from_array(image), read, tile, overlap))
            return restored.reshape(image.shape).astype(image.dtype, copy=False)
        raise TypeError(
            f"cannot restore a {type(image).__name__}; expected a path, PIL image, numpy array or tensor."
        )

    def restore_photo(
        self,
        photo: Photo,
        prompt: str | ReadPrompt,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        progress: Callable[[], object] | None = None,
        planned: Plan | None = None,
    ) -> Photo:
        """``photo`` with its colour restored; alpha, bit depth and grayscale-ness are kept (a string
        prompt's notes are issued as :class:`PromptWarning`). ``planned``: this photo's :meth:`plan`,
        when the caller has made it already (to show it); otherwise it is made here."""
        read = self._read_for_caller(prompt)
        rgb = photo.rgb[None].float()
        return photo.with_rgb(self._restore_one(rgb, read, tile, overlap, progress, planned)[0])

    def restore_file(
        self,
        source: str | Path,
        target: str | Path,
        prompt: str | ReadPrompt,
        tile: int | None = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        overwrite: bool = False,
        progress: Callable[[], object] | None = None,
    ) -> Path:
        """Read ``source``, restore it and write ``target`` in the source's form, atomically.

        Raises:
            FileExistsError: ``target`` exists and ``overwrite`` is False (checked before restoring).
            PhotoError: ``source`` cannot be read or ``target`` cannot be written (its suffix or folder).

        Warns:
            PromptWarning: each note on a prompt given as a string.
        """
        check_writable(target, overwrite)  # before the work, not only when writing
        read = self._read_for_caller(prompt)
        restored = self.restore_photo(read_photo(source), read, tile, overlap, progress)
        return write_photo(restored, target, overwrite=overwrite)

    def save_pretrained(self, folder: str | Path, overwrite: bool = False, card: str | None = None) -> Path:
        """Write the model folder; it appears complete or not at all. Refuses an existing folder unless
        ``overwrite``, and never replaces a folder that is not a model folder.

        Args:
            folder: where to write.
            overwrite: replace an existing model folder.
            card: the model card (``README.md``); default: :func:`model_card` of the config.

        Raises:
            PrecisionError: the backbone was cast to bf16 (:meth:`set_precision`): its fp32 weights are gone.
        """
        if self._precision.name != "fp32":
            raise PrecisionError(
                f"this model runs in {self._precision.name}; save it from a model loaded with precision='fp32'."
            )
        folder = Path(folder)
        if folder.exists() and not overwrite:
            raise FileExistsError(f"{folder} already exists; choose another folder or pass --overwrite.")
        if folder.exists() and not (folder / CONFIG_FILE).is_file():
            raise FileExistsError(
                f"{folder} is not a tpir model folder (no {CONFIG_FILE}); refusing to replace it."
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".partial"))
        try:
            tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
            save_file(tensors, staging / WEIGHTS_FILE, metadata={"format": "pt"})
            if self.reader is not None:
                self.reader.save_pretrained(staging / ENCODER_DIR)
            if self.centroids is not None:
                save_file(
                    {"centroids": self.centroids.centroids.contiguous()},
                    staging / CENTROIDS_FILE,
                    metadata={"categories": json.dumps(list(self.centroids.categories))},
                )
            (staging / CONFIG_FILE).write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
            (staging / CARD_FILE).write_text(card or model_card(self.config), encoding="utf-8")
            _share_like_new_files(staging)
            _replace_folder(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: str | torch.device = "cpu", precision: str = "auto"
    ) -> Restorer:
        """Load a folder written by :meth:`save_pretrained` (``tpir-export``, ``make demo``).

        Args:
            folder: the model folder.
            device: where the model runs.
            precision: ``auto`` (bf16 where the device computes it natively), ``fp32`` or ``bf16``;
                see :meth:`set_precision`.

        Raises:
            ModelFolderError: the folder is missing, incomplete, or of another format version.
            PrecisionError: ``precision`` is unknown or unavailable on ``device``.
        """
        folder = Path(folder)
        config_path = folder / CONFIG_FILE
        if not config_path.is_file():
            raise ModelFolderError(
                f"{folder}: not a tpir model folder (no {CONFIG_FILE}); make one with tpir-export, "
                "or run `make demo`, which exports outputs/demo/model."
            )
        try:
            model = cls._load_parts(folder, json.loads(config_path.read_text(encoding="utf-8"))).to(device)
        except ModelFolderError:
            raise
        except Exception as error:  # json, safetensors, transformers and torch each raise their own
            raise ModelFolderError(
                f"{folder}: not a usable tpir model folder ({first_line(error)})."
            ) from error
        model.set_precision(precision)
        return model

    @classmethod
    def _load_parts(cls, folder: Path, config: dict[str, Any]) -> Restorer:
        """Rebuild the training's classes from ``config``, then load the weights into them."""
        if config.get("format_version") != FORMAT_VERSION:
            raise ModelFolderError(
                f"{folder}: format version {config.get('format_version')}; this tpir reads version "
                f"{FORMAT_VERSION} (export the checkpoint again with tpir-export)."
            )
        reader = None
        if (folder / ENCODER_DIR).is_dir():
            reader = TextEncoder.from_pretrained(folder / ENCODER_DIR, config["max_length"])
        centroids = _load_centroids(folder / CENTROIDS_FILE) if (folder / CENTROIDS_FILE).is_file() else None
        guidance_class = _guidance_class(config["guidance"]["class"])
        guidance = guidance_class.from_export(config["guidance"]["arguments"], reader)
        backbone = TextGuidedRestorer(**config["backbone"], guidance_dim=guidance.dim)
        estimator = DegradationEstimator(**config["estimator"]) if config.get("estimator") else None
        model = cls(config, backbone, guidance, reader, centroids, estimator)
        missing, unexpected = model.load_state_dict(load_file(folder / WEIGHTS_FILE), strict=False)
        if missing or unexpected:
            raise ModelFolderError(
                f"{folder}: the weights do not fit the model of {CONFIG_FILE}: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)}."
            )
        return model


def _guidance_class(name: str) -> type[Guidance]:
    """A guidance class by name (:meth:`Guidance.kinds`); nothing else is built from a folder."""
    found = Guidance.kinds().get(name)
    if found is None:
        raise ModelFolderError(f"unknown guidance class {name!r} (made by another version of tpir?).")
    return found


def _load_centroids(path: Path) -> CategoryCentroids:
    """Centroids saved by :meth:`Restorer.save_pretrained`."""
    with safe_open(str(path), framework="pt") as handle:
        categories = json.loads(handle.metadata()["categories"])
        centroids = handle.get_tensor("centroids")
    return CategoryCentroids(centroids, categories)  # one row per category: its own centroid


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
