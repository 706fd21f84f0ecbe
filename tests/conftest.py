"""Shared fixtures: the real Hydra config, composed and shrunk for CPU tests; a tiny random BERT."""

from __future__ import annotations

import os

# Before anything imports transformers or wandb: nothing may reach the network in tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("WANDB_MODE", "disabled")

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from tpir.inference.model import ModelSpec, RestorationModel
from tpir.models.backbone import TextGuidedRestorer
from tpir.text.classify import CategoryCentroids
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PretrainingBert, TextEncoder, corpus_words, tiny_random_bert
from tpir.train import CONFIG_DIR

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _test_defaults(overrides: tuple[str, ...]) -> list[str]:
    """A tiny random BERT and no logger, unless the test picks its own."""
    chosen = {o.split("=")[0] for o in overrides}
    return [d for d in ("text_encoder=tiny_random", "logger=none") if d.split("=")[0] not in chosen]


@pytest.fixture
def compose_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``conf/train.yaml`` with overrides, writing into ``tmp_path`` and logging nowhere."""

    def _compose(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(
                config_name="train",
                overrides=[*_test_defaults(overrides), *overrides],
                return_hydra_config=True,
            )
        HydraConfig().set_config(cfg)
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.paths.cache_dir = str(tmp_path / "cache")
        GlobalHydra.instance().clear()
        return cfg

    return _compose


@pytest.fixture(scope="session")
def corpus() -> InstructionCorpus:
    return InstructionCorpus.load()


@pytest.fixture
def tiny_bert(corpus: InstructionCorpus) -> PretrainingBert:
    return tiny_random_bert(corpus_words(corpus), hidden_size=16, num_layers=1, num_heads=2)


@pytest.fixture
def tiny_encoder(tiny_bert: PretrainingBert) -> TextEncoder:
    return TextEncoder(tiny_bert.model.bert, tiny_bert.tokenizer)


TINY_BACKBONE = {
    "dim": 8,
    "num_blocks": [1, 1, 1, 1],
    "heads": [1, 2, 4, 8],
    "num_refinement": 1,
    "ffn_expansion": 2.0,
    "guidance_dim": 32,
    "guidance_width": 16,
}


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory, corpus: InstructionCorpus) -> Path:
    """A tiny random ``guidance=text`` model folder whose output differs from its input."""
    bundle = tiny_random_bert(corpus_words(corpus), hidden_size=TINY_BACKBONE["guidance_dim"])
    encoder = TextEncoder(bundle.model.bert, bundle.tokenizer, 64)
    train = corpus.split("train")
    centroids = CategoryCentroids(encoder.encode([p.sentence for p in train]), [p.category for p in train])
    with torch.random.fork_rng():  # seeded weights, without touching the other tests' random state
        torch.manual_seed(0)
        backbone = TextGuidedRestorer(**TINY_BACKBONE)
        # Not the identity it starts as, so that restoring changes pixels.
        torch.nn.init.normal_(backbone.output.weight, std=0.01)
    spec = ModelSpec(backbone=TINY_BACKBONE, guidance="text", tasks=["denoise", "derain", "dehaze"])
    tensors = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    model = RestorationModel.assemble(spec, tensors, encoder, centroids)
    return model.save(tmp_path_factory.mktemp("tiny_model") / "model")
