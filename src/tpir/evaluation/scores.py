"""Scores of test sets: the record one set's evaluation makes, and reading them back from ``metrics.json``.

Training (``fit_steered_model``), ``tpir-eval`` and ``tpir-collect`` all speak in :class:`SetScores`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from tpir.data.tasks import TASKS
from tpir.metrics.image_quality import SCORES


@dataclass
class SetScores:
    """Mean scores of one test set; ``psnr_output_vs_input`` says how much restoring changed the image."""

    name: str
    task: str
    images: int
    psnr: float
    ssim: float
    psnr_input: float
    ssim_input: float
    psnr_output_vs_input: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)

    def metrics(self, prefix: str = "test") -> dict[str, float]:
        """As logged metrics: ``<prefix>/psnr/<set>``, ``<prefix>/ssim_input/<set>``, ..."""
        return {f"{prefix}/{score}/{self.name}": getattr(self, score) for score in SCORES}


# Beside metrics.json: the task of each test set, {set name: task} (written by fit_steered_model).
TEST_SETS_FILE = "test_sets.json"
OTHER_TASK = "other"  # a set whose task is not known (not in test_sets.json, not a task's name)


def scores_from_metrics(
    metrics: Mapping[str, float], tasks: Mapping[str, str] | None = None, prefix: str = "test"
) -> list[SetScores]:
    """The scores of each set in ``metrics`` (``<prefix>/psnr/<set>``, ``<prefix>/ssim_input/<set>``...).

    Args:
        metrics: a run's ``metrics.json``.
        tasks: the task of each set (``test_sets.json``); validation sets are named by their task.
        prefix: the stage whose scores to read (``test``; ``val`` has one set per task).

    Returns:
        One entry per set with a PSNR, in the order of ``metrics``; what is not there is NaN.
    """
    tasks = tasks or {}
    head = f"{prefix}/psnr/"
    scores = []
    for key in metrics:
        if not key.startswith(head):
            continue
        name = key[len(head) :]

        task = tasks.get(name) or (name if name in TASKS else OTHER_TASK)
        values = {score: float(metrics.get(f"{prefix}/{score}/{name}", math.nan)) for score in SCORES}
        scores.append(SetScores(name, task, 0, **values))
    return scores
