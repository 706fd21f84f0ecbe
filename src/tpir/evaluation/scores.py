"""Scores of test sets: the record one set's evaluation makes, and reading them back from ``metrics.json``.

Training (``fit_restorer``), ``tpir-eval`` and ``tpir-collect`` all speak in :class:`SetScores`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from tpir.data.datamodule import TASKS


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


# Beside metrics.json: the task of each test set, {set name: task} (written by fit_restorer).
TEST_SETS_FILE = "test_sets.json"
# Test sets of the benchmark layout whose name does not say their task.
DEHAZE_SETS = ("SOTS", "HSTS", "RESIDE", "OTS", "ITS")


def set_task(name: str) -> str:
    """The task of a test set from its name: ``bundled_derain``, ``CBSD68_sigma25``, ``Rain100L``, ``SOTS``."""
    if name in TASKS:
        return name
    for task in TASKS:
        if name.endswith(f"_{task}"):
            return task
    if "_sigma" in name:
        return "denoise"
    if name.lower().startswith("rain"):
        return "derain"
    if name.upper().startswith(DEHAZE_SETS):
        return "dehaze"
    return "other"


def scores_from_metrics(
    metrics: Mapping[str, float], tasks: Mapping[str, str] | None = None, prefix: str = "test"
) -> list[SetScores]:
    """The scores of each set in ``metrics`` (``<prefix>/psnr/<set>``, ``<prefix>/ssim_input/<set>``...).

    Args:
        metrics: a run's ``metrics.json``.
        tasks: the task of each set; sets not in it get :func:`set_task` of their name.
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

        def score(kind: str, name: str = name) -> float:
            return float(metrics.get(f"{prefix}/{kind}/{name}", math.nan))

        task = tasks.get(name) or set_task(name)
        scores.append(
            SetScores(
                name,
                task,
                0,
                score("psnr"),
                score("ssim"),
                score("psnr_input"),
                score("ssim_input"),
                math.nan,
            )
        )
    return scores
