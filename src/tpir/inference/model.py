"""A trained restorer as one self-contained folder: built from a training checkpoint, saved, loaded.

Folder layout (``FORMAT_VERSION`` 1)::

    tpir_model.json        backbone arguments, guidance kind, tasks, provenance
    model.safetensors      backbone weights (and the task embedding of ``guidance=onehot``)
    text_encoder/          the frozen BERT and its tokenizer (``save_pretrained``)
    centroids.safetensors  mean embedding of each corpus category: what a prompt is understood as

Loading reads JSON, safetensors and a Hugging Face folder only: nothing is unpickled.
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
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from tpir.models.backbone import TextGuidedRestorer
from tpir.text.classify import CategoryCentroids, Understanding, corpus_centroids
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PromptError, TextEncoder
from tpir.utils import current_umask

FORMAT_VERSION = 1
SPEC_FILE = "tpir_model.json"
WEIGHTS_FILE = "model.safetensors"
ENCODER_DIR = "text_encoder"
CENTROIDS_FILE = "centroids.safetensors"
# guidance config targets -> the kind recorded in the spec
GUIDANCE_KINDS = {
    "tpir.models.guidance.TextGuidance": "text",
    "tpir.models.guidance.TaskEmbeddingGuidance": "onehot",
    "tpir.models.guidance.NoGuidance": "none",
}


class ModelFolderError(ValueError):
    """A model folder or checkpoint that cannot be used; the message names it and says why."""


@dataclass
class ModelSpec:
    """What ``tpir_model.json`` records: enough to rebuild the model without the training config."""

    backbone: dict[str, Any]  # keyword arguments of TextGuidedRestorer
    guidance: str  # "text", "onehot" or "none"
    tasks: list[str]  # task names in id order
    max_length: int = 64  # prompt token limit of the encoder
    provenance: dict[str, Any] = field(default_factory=dict)  # checkpoint and its global step
    format_version: int = FORMAT_VERSION


class RestorationModel(nn.Module):
    """Backbone + prompt reader: restores an image as a prompt says.

    Args:
        spec: the model's description.
        backbone: the restoration network.
        encoder: the frozen text encoder (reads prompts), or None for ``guidance=none``.
        centroids: category centroids of the corpus (understands prompts), or None without an encoder.
        task_embedding: the learned task vectors of ``guidance=onehot``, else None.
    """

    def __init__(
        self,
        spec: ModelSpec,
        backbone: TextGuidedRestorer,
        encoder: TextEncoder | None,
        centroids: CategoryCentroids | None,
        task_embedding: nn.Embedding | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.backbone = backbone.eval()
        self.encoder = None if encoder is None else encoder.requires_grad_(False).eval()
        self.centroids = centroids
        self.task_embedding = task_embedding

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def understand(self, prompt: str) -> Understanding | None:
        """The corpus category nearest to the prompt, with its confidence; None without an encoder."""
        if self.encoder is None or self.centroids is None:
            return None
        return self.centroids.understand(self.encoder.encode([self.check_prompt(prompt)])[0].cpu())

    def check_prompt(self, prompt: str) -> str:
        """The prompt, stripped; raises :class:`PromptError` if it is empty or too long to read."""
        prompt = prompt.strip()
        if not prompt:
            raise PromptError('the prompt is empty; say what to remove (e.g. "remove the rain").')
        if self.encoder is not None:
            self.encoder.check_prompt(prompt)
        return prompt

    @torch.no_grad()
    def guidance_vector(self, prompt: str, task: str | None = None) -> torch.Tensor | None:
        """``Z`` of a prompt, (1, D) on the model's device; None for ``guidance=none``.

        A ``guidance=onehot`` model reads no text: it takes ``task`` when the caller knows it (as
        evaluation and training do), else the task the prompt is understood as.
        """
        prompt = self.check_prompt(prompt)
        if self.spec.guidance == "none":
            return None
        if self.spec.guidance == "text":
            return self.encoder.encode([prompt]).to(self.device)
        category = task or self.understand(prompt).category
        if category not in self.spec.tasks:
            raise PromptError(
                f"this model picks a task from the prompt ({', '.join(self.spec.tasks)}), "
                f"but the prompt reads as {category!r}."
            )
        task = torch.tensor([self.spec.tasks.index(category)], device=self.device)
        return self.task_embedding(task)

    @torch.no_grad()
    def forward(self, image: torch.Tensor, guidance: torch.Tensor | None) -> torch.Tensor:
        """Restore (B, 3, H, W) RGB in [0, 1] with ``Z`` (1 or B, D); returns (B, 3, H, W) in [0, 1]."""
        if guidance is not None and guidance.shape[0] != image.shape[0]:
            guidance = guidance.expand(image.shape[0], -1)
        return self.backbone(image.to(self.device), guidance).clamp_(0, 1)

    def restore(self, image: torch.Tensor, prompt: str) -> torch.Tensor:
        """Restore (B, 3, H, W) RGB in [0, 1] as ``prompt`` says; returns the same shape in [0, 1]."""
        return self(image, self.guidance_vector(prompt))

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write the model folder; it appears complete or not at all. Refuses an existing folder."""
        folder = Path(folder)
        if folder.exists() and not overwrite:
            raise FileExistsError(f"{folder} already exists; choose another folder or pass overwrite.")
        if folder.exists() and not (folder / SPEC_FILE).is_file():
            raise FileExistsError(
                f"{folder} is not a tpir model folder (no {SPEC_FILE}); refusing to replace it."
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".partial"))
        try:
            tensors = {f"backbone.{k}": v.contiguous() for k, v in self.backbone.state_dict().items()}
            if self.task_embedding is not None:
                tensors["task_embedding.weight"] = self.task_embedding.weight.detach().contiguous()
            save_file({k: v.cpu() for k, v in tensors.items()}, staging / WEIGHTS_FILE)
            if self.encoder is not None:
                self.encoder.bert.save_pretrained(staging / ENCODER_DIR)
                self.encoder.tokenizer.save_pretrained(staging / ENCODER_DIR)
            if self.centroids is not None:
                save_file(
                    {"centroids": self.centroids.centroids.contiguous()},
                    staging / CENTROIDS_FILE,
                    metadata={"categories": json.dumps(list(self.centroids.categories))},
                )
            (staging / SPEC_FILE).write_text(json.dumps(asdict(self.spec), indent=2) + "\n", encoding="utf-8")
            _share_like_new_files(staging)
            _replace_folder(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> RestorationModel:
        """Load a folder written by :meth:`save` (or ``tpir-export``)."""
        folder = Path(folder)
        spec_path = folder / SPEC_FILE
        if not spec_path.is_file():
            raise ModelFolderError(
                f"{folder}: not a tpir model folder (no {SPEC_FILE}); make one with tpir-export, "
                "or run `make demo`, which exports outputs/demo/model."
            )
        try:
            return cls._load_parts(folder, spec_path).to(device)
        except ModelFolderError:
            raise
        except Exception as error:  # json, safetensors, transformers and torch each raise their own
            raise ModelFolderError(
                f"{folder}: not a usable tpir model folder ({_first_line(error)})."
            ) from error

    @classmethod
    def _load_parts(cls, folder: Path, spec_path: Path) -> RestorationModel:
        """Read the spec, the weights, the encoder and the centroids of a model folder."""
        spec = ModelSpec(**json.loads(spec_path.read_text(encoding="utf-8")))
        if spec.format_version != FORMAT_VERSION:
            raise ModelFolderError(
                f"{folder}: format version {spec.format_version}; this tpir reads version {FORMAT_VERSION}."
            )
        tensors = load_file(folder / WEIGHTS_FILE)
        encoder = None
        if (folder / ENCODER_DIR).is_dir():
            encoder = TextEncoder.from_pretrained(folder / ENCODER_DIR, spec.max_length)
        centroids = None
        if (folder / CENTROIDS_FILE).is_file():
            centroids = _load_centroids(folder / CENTROIDS_FILE)
        return cls.assemble(spec, tensors, encoder, centroids)

    @classmethod
    def assemble(
        cls,
        spec: ModelSpec,
        tensors: dict[str, torch.Tensor],
        encoder: TextEncoder | None,
        centroids: CategoryCentroids | None,
    ) -> RestorationModel:
        """Build from a spec and its weights (keys ``backbone.*``, ``task_embedding.weight``)."""
        backbone = TextGuidedRestorer(**spec.backbone)
        weights = {k.removeprefix("backbone."): v for k, v in tensors.items() if k.startswith("backbone.")}
        missing, unexpected = backbone.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise ModelFolderError(
                f"the weights do not fit the backbone of the spec: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)} (made by another version of tpir?)."
            )
        task_embedding = None
        if spec.guidance == "onehot":
            task_embedding = nn.Embedding.from_pretrained(tensors["task_embedding.weight"])
        if spec.guidance != "none" and (encoder is None or centroids is None):
            raise ModelFolderError(f"a guidance={spec.guidance} model needs its text encoder and centroids.")
        return cls(spec, backbone, encoder, centroids, task_embedding)

    @classmethod
    def from_checkpoint(
        cls, checkpoint: str | Path, config: str | Path | DictConfig | None = None
    ) -> RestorationModel:
        """Rebuild from a stage-2 training checkpoint and its run's config.

        Args:
            checkpoint: a Lightning checkpoint of ``RestorationModule`` (loaded with ``weights_only``).
            config: the run's composed config (default: ``.hydra/config.yaml`` of the run folder that
                holds ``checkpoints/``). Its ``text_encoder`` must name the encoder the run used;
                the check against the checkpoint's cached embeddings refuses any other.
        """
        checkpoint = Path(checkpoint)
        saved = _load_checkpoint(checkpoint)
        if not isinstance(saved.get("state_dict"), dict):
            raise ModelFolderError(f"{checkpoint}: not a Lightning checkpoint (no state_dict).")
        try:
            return cls._build_from_state(checkpoint, saved, _run_config(checkpoint, config))
        except ModelFolderError:
            raise
        except Exception as error:  # hydra, transformers and torch each raise their own
            raise ModelFolderError(
                f"{checkpoint}: cannot rebuild the model from it and its run config ({_first_line(error)})."
            ) from error

    @classmethod
    def _build_from_state(cls, checkpoint: Path, saved: dict[str, Any], cfg: DictConfig) -> RestorationModel:
        """The model of a checkpoint's ``state_dict``, built as its run config says."""
        state = saved["state_dict"]
        backbone_args = {k: v for k, v in OmegaConf.to_container(cfg.model).items() if not k.startswith("_")}
        target = cfg.guidance["_target_"]
        if target not in GUIDANCE_KINDS:
            raise ModelFolderError(
                f"{checkpoint}: unknown guidance {target!r}; expected one of {list(GUIDANCE_KINDS)}."
            )
        kind = GUIDANCE_KINDS[target]
        corpus: InstructionCorpus = instantiate(cfg.corpus)
        bundle = instantiate(cfg.text_encoder)
        encoder = TextEncoder(bundle.model.bert, bundle.tokenizer, cfg.guidance.get("max_length", 64))
        encoder.requires_grad_(False).eval()
        if kind == "text":
            _check_encoder(checkpoint, encoder, corpus, state["guidance.table"])
            guidance_dim = encoder.dim
        elif kind == "onehot":
            guidance_dim = state["guidance.embedding.weight"].shape[-1]
        else:
            guidance_dim = None
        spec = ModelSpec(
            backbone=backbone_args | {"guidance_dim": guidance_dim},
            guidance=kind,
            tasks=list(cfg.degradation.tasks),
            max_length=encoder.max_length,
            provenance={"checkpoint": str(checkpoint), "global_step": saved.get("global_step")},
        )
        tensors = {k: v for k, v in state.items() if k.startswith("backbone.")}
        if kind == "onehot":
            tensors["task_embedding.weight"] = state["guidance.embedding.weight"]
        return cls.assemble(spec, tensors, encoder, corpus_centroids(encoder, corpus))


def _load_checkpoint(path: Path) -> dict[str, Any]:
    """A Lightning checkpoint, loaded without unpickling arbitrary objects."""
    if not path.is_file():
        raise ModelFolderError(f"{path}: no such checkpoint file.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise ModelFolderError(
            f"{path}: not a checkpoint that loads safely ({type(error).__name__}); only Lightning "
            "checkpoints of tensors and plain values load (weights_only=True)."
        ) from error


def _run_config(checkpoint: Path, config: str | Path | DictConfig | None) -> DictConfig:
    """The training run's composed config: given, or ``<run>/.hydra/config.yaml`` beside ``checkpoints/``."""
    if isinstance(config, DictConfig):
        return config
    path = Path(config) if config is not None else checkpoint.parent.parent / ".hydra" / "config.yaml"
    if not path.is_file():
        raise ModelFolderError(
            f"{checkpoint}: its run config {path} is missing; pass the run's .hydra/config.yaml."
        )
    return OmegaConf.load(path)


def _check_encoder(
    checkpoint: Path, encoder: TextEncoder, corpus: InstructionCorpus, table: torch.Tensor
) -> None:
    """Refuse an encoder whose embeddings differ from those the checkpoint was trained on."""
    sentences = [p.sentence for p in (*corpus.train, *corpus.test)][:8]
    expected = table[: len(sentences)]
    if expected.shape[-1] != encoder.dim or not torch.allclose(
        encoder.encode(sentences).cpu(), expected, atol=1e-4
    ):
        raise ModelFolderError(
            f"{checkpoint}: the text encoder of the run config does not give the embeddings this "
            "checkpoint was trained with; pass the config (or encoder) the run used."
        )


def _load_centroids(path: Path) -> CategoryCentroids:
    """Centroids saved by :meth:`RestorationModel.save`."""
    with safe_open(str(path), framework="pt") as handle:
        categories = json.loads(handle.metadata()["categories"])
        centroids = handle.get_tensor("centroids")
    return CategoryCentroids(centroids, categories)


def _first_line(error: BaseException) -> str:
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
