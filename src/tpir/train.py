"""``tpir-train``: compose the config, then run the chosen stage (``stage=text`` or ``stage=restore``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def first_set(*values: Any) -> Any:
    """The first value that is not empty (``${tpir.or:${hydra:job.override_dirname},${stage.name}}``)."""
    return next((value for value in values if value not in (None, "")), None)


def sweep_name(mode: Any, sweep_dir: str) -> str | None:
    """The sweep folder's name in a multirun (a W&B group), None for a single run."""
    return Path(sweep_dir).name if getattr(mode, "name", str(mode)) == "MULTIRUN" else None


# Registered on import so that every composition (tpir-train, the tests' compose) can use them.
OmegaConf.register_new_resolver("tpir.or", first_set, replace=True)
OmegaConf.register_new_resolver("tpir.sweep_name", sweep_name, replace=True)


def train(cfg: DictConfig) -> dict[str, float]:
    """Seed everything, then hand the config to the stage's runner; returns its final metrics."""
    L.seed_everything(cfg.seed, workers=True)
    run_stage = instantiate(cfg.stage.runner)
    return run_stage(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns the optimised metric for Hydra sweepers."""
    metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric")) if cfg.get("optimized_metric") else None


if __name__ == "__main__":
    main()
