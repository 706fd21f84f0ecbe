"""``tpir-train``: compose the config, then run the chosen stage (``stage=text`` or ``stage=restore``)."""

from __future__ import annotations

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from tpir.config import CONFIG_DIR


def train(cfg: DictConfig) -> dict[str, float]:
    """Seed everything, then hand the config to the stage's runner (``tpir.stages``); returns its metrics."""
    L.seed_everything(cfg.seed, workers=True)
    run_stage = instantiate(cfg.stage.runner)
    return run_stage(cfg)


def objective(metrics: dict[str, float], optimized_metric: str | None) -> float | None:
    """What a Hydra sweeper optimises: the best value of the optimized metric in the run (else its last)."""
    if not optimized_metric:
        return None
    return metrics.get(f"{optimized_metric}_best", metrics.get(optimized_metric))


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns the optimised metric for Hydra sweepers."""
    return objective(train(cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
