"""What ``tpir-eval`` does: score a restorer on every test set found, in the paper's Table 1 layout, or run a
prompt study.

``cfg`` is ``conf/eval.yaml`` composed (groups ``data``, ``protocol``, ``prompts``); :func:`write_results`
writes ``table.md``, ``table.csv`` and ``results.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from tpir.data.tasks import knows_set
from tpir.evaluation.ood import ood_sets, ood_study, ood_table
from tpir.evaluation.protocol import evaluation_sets, restore_with, score_sets
from tpir.evaluation.report import write_report
from tpir.evaluation.scores import SetScores
from tpir.evaluation.studies import (
    DEFAULT_SWEEPS,
    STUDIES,
    composite_sets,
    composite_study,
    composite_table,
    strength_study,
    strength_table,
)
from tpir.evaluation.tables import csv_text, markdown, output_vs_input_row, table1
from tpir.inference.restorer import Restorer
from tpir.utils import atomic_path, write_json_atomic, write_text_atomic
from tpir.viz.strength import plot_strength_walk

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig, model: Restorer, method: str) -> dict:
    """Score ``model`` (its row named ``method``) on the test sets of ``cfg.data`` of the tasks it was
    trained for.

    Returns what ``results.json`` holds. With ``cfg.report_dir`` set, also writes ``report.md`` and
    ``examples.png`` there (``make demo``).
    """
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"limit={cfg.limit}; expected at least 1 image per set, or null for all.")
    catalog = instantiate(cfg.data)
    skipped = [name for name, (task, _) in catalog.test.items() if not knows_set(model.tasks, task)]
    if skipped:
        log.info("Skipping %s: the model was not trained for their tasks", ", ".join(skipped))
    corpus = instantiate(cfg.corpus)
    if cfg.study is not None:
        return run_study(cfg, model, method, catalog, corpus)
    sets = evaluation_sets(catalog, corpus, model.tasks, cfg.prompts.mode, cfg.prompts.sentence, cfg.seed)
    if not sets:
        raise ValueError(
            f"the data config has no test sets of the model's tasks ({', '.join(model.tasks)}); "
            "expected test/<task>/<set> folders."
        )
    restore = restore_with(model, prompts_name_the_task=cfg.prompts.mode == "random")
    scores = score_sets(restore, sets, cfg.protocol.name, cfg.limit)
    results = tabulate(cfg, method, scores, model.precision.name)
    if cfg.get("report_dir"):
        path = write_report(results, restore, sets, cfg.report_dir)
        log.info("Wrote %s", path)
    return results


def run_study(cfg: DictConfig, model: Restorer, method: str, catalog, corpus) -> dict:
    """A prompt study (``study=composite`` or ``study=strength``, see ``tpir.evaluation.studies``; or
    ``study=ood``, :mod:`tpir.evaluation.ood`): what ``results.json`` holds, with its table."""
    if cfg.study not in STUDIES:
        raise ValueError(
            f"study={cfg.study}; expected one of {', '.join(STUDIES)}, or null for the test table."
        )
    restore = restore_with(model, prompts_name_the_task=False)
    lexicon = corpus.lexicon
    if cfg.study == "composite":
        sets = composite_sets(catalog, model.tasks, seed=cfg.seed)
        rows = composite_study(restore, sets, lexicon, cfg.protocol.name, cfg.limit)
        header, body = composite_table(rows)
    elif cfg.study == "ood":
        rows = ood_study(
            restore, ood_sets(cfg.data.root, model.tasks, cfg.seed), cfg.protocol.name, cfg.limit
        )
        header, body = ood_table(rows)
    else:
        clean = next((s for t, s in catalog.test.values() if t == "denoise" and hasattr(s, "bank")), None)
        if clean is None:
            raise ValueError(
                "study=strength degrades a clean test set (test/denoise/<set>); the data has none."
            )
        sweeps = [s for s in DEFAULT_SWEEPS if s.task in model.tasks]
        free = {s.task: corpus.sentences("test", s.task) for s in sweeps}
        rows = strength_study(restore, clean, sweeps, lexicon, free, cfg.protocol.name, cfg.seed, cfg.limit)
        header, body = strength_table(rows)
    precision = model.precision.name
    title = f"study={cfg.study}, protocol={cfg.protocol.name}, seed={cfg.seed}, precision={precision}, model={method}"
    return {
        "method": method,
        "study": cfg.study,
        "precision": precision,
        "rows": rows,
        "table": {"title": title, "header": header, "rows": body},
    }


def tabulate(cfg: DictConfig, method: str, scores: list[SetScores], precision: str) -> dict:
    """Scores of every set, and the table of them: what ``results.json`` holds (``precision``: the
    backbone's number format, in the title)."""
    header, body = table1(scores, method)
    if cfg.prompts.mode == "wrong":
        body.append(output_vs_input_row(scores, method))
    title = (
        f"protocol={cfg.protocol.name}, prompts={cfg.prompts.mode}, seed={cfg.seed}, precision={precision}"
    )
    return {
        "method": method,
        "protocol": cfg.protocol.name,
        "prompts": cfg.prompts.mode,
        "seed": cfg.seed,
        "precision": precision,
        "sets": [s.as_dict() for s in scores],
        "table": {"title": title, "header": header, "rows": body},
    }


def write_results(results: dict, folder: Path) -> str:
    """Write table.md, table.csv and results.json into ``folder``; returns the Markdown."""
    table = results["table"]
    text = f"{table['title']}\n\n" + markdown(table["header"], table["rows"])
    write_text_atomic(folder / "table.md", text)
    write_text_atomic(folder / "table.csv", csv_text(table["header"], table["rows"]))
    write_json_atomic(folder / "results.json", results)
    if results.get("study") == "strength":
        with atomic_path(folder / "strength.png") as path:
            plot_strength_walk(results["rows"]).savefig(path, dpi=120, format="png")
    return text
