"""``tpir-train``: compose the config, then run the chosen stage (``stage=text`` or ``stage=restore``)."""

from __future__ import annotations

from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


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
