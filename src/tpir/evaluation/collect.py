"""``tpir-collect``: the runs of a sweep in one table, in the paper's layout (Tables 3 and 4).

    tpir-train -m experiment=ablation_guidance
    tpir-collect outputs/multirun/<time>            # prints Markdown, writes collected.md and .csv

Every folder under the sweep with a ``metrics.json`` (written by stage 2) is a row, named by the
overrides that differ between the runs (``guidance=none``); a column per test set, PSNR/SSIM in each
cell, their average, and an ``Input`` row (the unrestored input's scores). Runs tested on different sets
(Table 3) share the union of the columns, with "—" where a run has no score (and no average then).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from tpir.evaluation.scores import TEST_SETS_FILE, SetScores, scores_from_metrics
from tpir.evaluation.tables import average, cell, column_order, column_title, task_title

MISSING = "—"


@dataclass
class Run:
    """One run of a sweep: its folder, the overrides it ran with and what it measured."""

    folder: Path
    overrides: list[str]
    metrics: dict[str, float]
    tasks: dict[str, str]
    number: int


class CollectError(Exception):
    """A foreseeable problem with the sweep folder, said in one sentence."""


def _read_json(path: Path) -> dict:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CollectError(f"{path} could not be read as JSON ({error}).") from error
    if not isinstance(payload, dict):
        raise CollectError(f"{path} holds a {type(payload).__name__}; expected a JSON object.")
    return payload


def read_run(folder: Path) -> Run:
    """A run folder: ``metrics.json``, ``.hydra/overrides.yaml`` (else the folder name), job number."""
    metrics = {k: v for k, v in _read_json(folder / "metrics.json").items() if isinstance(v, int | float)}
    tasks_file = folder / TEST_SETS_FILE
    tasks = {str(k): str(v) for k, v in _read_json(tasks_file).items()} if tasks_file.is_file() else {}
    overrides_file = folder / ".hydra" / "overrides.yaml"
    overrides = [folder.name]
    if overrides_file.is_file():
        overrides = [str(o) for o in OmegaConf.to_container(OmegaConf.load(overrides_file))] or overrides
    hydra_file = folder / ".hydra" / "hydra.yaml"
    number = OmegaConf.load(hydra_file).hydra.job.get("num", 0) if hydra_file.is_file() else 0
    return Run(folder, overrides, metrics, tasks, int(number or 0))


def find_runs(root: Path) -> list[Run]:
    """Every run under ``root`` with a ``metrics.json``, by sweep folder and then job number."""
    if not root.is_dir():
        raise CollectError(f"{root} is not a folder; expected a tpir-train multirun folder.")
    runs = [read_run(path.parent) for path in root.rglob("metrics.json")]
    if not runs:
        raise CollectError(f"no run under {root} has a metrics.json; expected a tpir-train -m folder.")
    return sorted(runs, key=lambda run: (str(run.folder.parent), run.number, run.folder.name))


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def row_names(runs: Sequence[Run]) -> list[str]:
    """Each run named by the overrides whose value differs between the runs (all of them for one run)."""
    values = [{_key(o): o for o in run.overrides} for run in runs]
    varying = {key for mapping in values for key in mapping if len({m.get(key) for m in values}) > 1}
    names = []
    for run in runs:
        chosen = [o for o in run.overrides if _key(o) in varying] or run.overrides
        names.append(",".join(chosen) or run.folder.name)
    repeated = {name for name in names if names.count(name) > 1}
    return [
        f"{name} ({run.folder.name})" if name in repeated else name
        for name, run in zip(names, runs, strict=True)
    ]


def sweep_table(runs: Sequence[Run], prefix: str = "test") -> tuple[list[str], list[list[str | None]]]:
    """Header and rows (``Input`` first) of the sweep's table; a cell is "PSNR/SSIM", or None if missing."""
    scores = [scores_from_metrics(run.metrics, run.tasks, prefix) for run in runs]
    first_of_set: dict[str, SetScores] = {}
    for run_scores in scores:
        for item in run_scores:
            first_of_set.setdefault(item.name, item)
    if not first_of_set:
        raise CollectError(f"no run has {prefix}/psnr/<set> scores in its metrics.json.")
    columns = column_order(list(first_of_set.values()))
    # Validation sets are named by their task: their column is just the task.
    titles = [task_title(s.task) if s.name == s.task else column_title(s.name, s.task) for s in columns]
    header = ["Run", *titles, "Average"]

    def row(name: str, by_name: Mapping[str, tuple[float, float]]) -> list[str | None]:
        present = [by_name[s.name] for s in columns if s.name in by_name]
        cells = [cell(*by_name[s.name]) if s.name in by_name else None for s in columns]
        # Averages only over every column: a run tested on fewer sets (Table 3) would not compare.
        complete = len(present) == len(columns)
        mean = cell(average([p for p, _ in present]), average([q for _, q in present])) if complete else None
        return [name, *cells, mean]

    input_scores = {
        s.name: (s.psnr_input, s.ssim_input) for s in first_of_set.values() if not math.isnan(s.psnr_input)
    }
    body = [row("Input", input_scores)]
    for name, run_scores in zip(row_names(runs), scores, strict=True):
        body.append(row(name, {s.name: (s.psnr, s.ssim) for s in run_scores}))
    return header, body
