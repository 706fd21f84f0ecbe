"""``tpir-train``: compose the config, then run the chosen stage (``stage=text`` or ``stage=restore``).

Foreseeable failures (a missing, incomplete, unsafe or other-size checkpoint, an unreadable training
image, a missing data folder, a bad value in the config) end with one sentence on stderr and exit
status 2; ``HYDRA_FULL_ERROR=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import hydra
import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from tpir.cli.common import EXIT_SETUP
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


def user_error(error: BaseException) -> BaseException | None:
    """The mistake a user can fix that ``error`` reports, or None for a bug.

    tpir reports bad input as ValueError subclasses naming the file or value (checkpoints, photos, data
    layout, corpus, config values); Hydra wraps those raised while building an object.
    """
    if isinstance(error, InstantiationException) and error.__cause__ is not None:
        error = error.__cause__
    return error if isinstance(error, ValueError | FileNotFoundError) else None


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns the optimised metric for Hydra sweepers."""
    try:
        return objective(train(cfg), cfg.get("optimized_metric"))
    except (ValueError, FileNotFoundError, InstantiationException) as error:
        reason = user_error(error)
        if reason is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"tpir-train: error: {reason}", file=sys.stderr)
        sys.exit(EXIT_SETUP)


if __name__ == "__main__":
    main()
