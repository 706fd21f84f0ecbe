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
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from tpir.config import CONFIG_DIR
from tpir.notebook import tiny_model
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PretrainingBert, TextEncoder, corpus_words, tiny_random_bert
from tpir.text.parsing import PromptParser

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _test_defaults(overrides: tuple[str, ...]) -> list[str]:
    """A tiny random BERT and no logger, unless the test picks its own."""
    chosen = {o.split("=")[0] for o in overrides}
    return [d for d in ("text_encoder=tiny_random", "logger=none") if d.split("=")[0] not in chosen]


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    """A root config of the package composed with overrides, set as the current Hydra config."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    GlobalHydra.instance().clear()
    return cfg


@pytest.fixture
def compose_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``train.yaml`` (``tpir-train``) with overrides, writing into ``tmp_path``, logging nowhere."""

    def _train_config(*overrides: str) -> DictConfig:
        cfg = _compose("train", [*_test_defaults(overrides), *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.paths.cache_dir = str(tmp_path / "cache")
        return cfg

    return _train_config


@pytest.fixture
def compose_eval_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``eval.yaml`` (``tpir-eval``) with overrides, writing under ``tmp_path``."""

    def _eval_config(*overrides: str) -> DictConfig:
        return _compose("eval", [f"paths.log_dir={tmp_path / 'eval'}", *overrides])

    return _eval_config


@pytest.fixture(scope="session")
def corpus() -> InstructionCorpus:
    return InstructionCorpus.load()


@pytest.fixture(scope="session")
def parser(corpus: InstructionCorpus) -> PromptParser:
    """The prompt parser of the bundled lexicon, reading by words only."""
    return PromptParser(corpus.lexicon)


@pytest.fixture
def tiny_bert(corpus: InstructionCorpus) -> PretrainingBert:
    return tiny_random_bert(corpus_words(corpus), hidden_size=16, num_layers=1, num_heads=2)


@pytest.fixture
def tiny_encoder(tiny_bert: PretrainingBert) -> TextEncoder:
    return TextEncoder(tiny_bert.model.bert, tiny_bert.tokenizer)


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ``guidance=text`` model folder of the paper's three tasks (noise, rain, haze: tables in
    the paper's layout) whose output differs from its input (saved once)."""
    model = tiny_model(tasks=("denoise", "derain", "dehaze"))
    return model.save_pretrained(tmp_path_factory.mktemp("tiny_model") / "model")


# Stage 2 shrunk to seconds: tiny crops, a tiny U-Net; tests add steps, guidance and degradations.
SMALL_RESTORE_RUN = (
    "stage=restore",
    "datamodule.crop_size=32",
    "datamodule.batch_size=2",
    "datamodule.val_crop=32",
    "model.dim=8",
    "model.num_blocks=[1,1,1,1]",
    "model.guidance_width=16",
)


@pytest.fixture
def small_restore_run() -> tuple[str, ...]:
    """Overrides of a stage-2 run that trains and tests in seconds (see ``SMALL_RESTORE_RUN``)."""
    return SMALL_RESTORE_RUN


class _RunsCode:
    """Unpickling this runs ``touch <marker>``: what a crafted checkpoint does to a trusting loader."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def code_payload(tmp_path: Path) -> tuple[object, Path]:
    """An object that runs code when unpickled, and the file that code creates (absent until then)."""
    marker = tmp_path / "code_ran"
    return _RunsCode(marker), marker
