"""``tpir-eval``: score a trained restorer on every test set found, in the paper's Table 1 layout.

Composed by Hydra from the package's ``conf/eval.yaml`` (groups ``data``, ``protocol``, ``prompts``). Prints the table
as Markdown and writes ``table.md``, ``table.csv`` and ``results.json`` into the run folder.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from tpir.config import CONFIG_DIR
from tpir.evaluation.protocol import Restore, evaluation_sets, score_sets
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
from tpir.inference.checkpoints import find_checkpoint, restorer_from_checkpoint
from tpir.inference.model import Restorer
from tpir.utils import atomic_path, write_json_atomic, write_text_atomic
from tpir.viz.strength import plot_strength_walk

log = logging.getLogger(__name__)


def load_model(cfg: DictConfig) -> tuple[Restorer, str]:
    """The model to score (a checkpoint if ``ckpt_path`` is set, else ``model_dir``) on ``device`` in
    ``precision`` (printed), and its row name."""
    if str(cfg.device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={cfg.device}, but CUDA is not available here; use device=cpu.")
    if cfg.ckpt_path:
        checkpoint = find_checkpoint(cfg.ckpt_path)
        model = restorer_from_checkpoint(checkpoint)
        name = checkpoint.resolve().parent.parent.name
    else:
        if not Path(cfg.model_dir).is_dir():
            raise ValueError(
                f"model_dir={cfg.model_dir} does not exist; pass model_dir=<folder> or ckpt_path=<checkpoint>, "
                "set TPIR_MODEL, or run `make demo`, which exports outputs/demo/model."
            )
        model = Restorer.from_pretrained(cfg.model_dir, precision="fp32")
        folder = Path(cfg.model_dir).resolve()
        name = folder.parent.name if folder.name == "model" else folder.name  # outputs/demo/model: demo
    model.to(cfg.device)
    print(model.set_precision(cfg.precision).summary())
    return model, cfg.method or f"tpir ({name})"


def restore_with(model: Restorer, prompts_name_the_task: bool) -> Restore:
    """What :func:`score_sets` calls: the model on one whole image.

    Args:
        model: the restorer.
        prompts_name_the_task: the prompts are of the image's own task (``prompts=random``), so a
            ``guidance=onehot`` model is given that task, as in training; otherwise (fixed, wrong, blind)
            it takes the task it understands the prompt as.
    """

    def restore(lq: torch.Tensor, prompt: str, task: str) -> torch.Tensor:
        read = model.read_prompt(prompt, task if prompts_name_the_task else None)
        return model.restore_tensor(lq, read, tile=None)

    return restore


def evaluate(cfg: DictConfig) -> dict:
    """Score the model on the test sets of ``cfg.data`` of the tasks it was trained for.

    Returns what ``results.json`` holds. With ``cfg.report_dir`` set, also writes ``report.md`` and
    ``examples.png`` there (``make demo``).
    """
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"limit={cfg.limit}; expected at least 1 image per set, or null for all.")
    model, method = load_model(cfg)
    catalog = instantiate(cfg.data)
    skipped = [name for name, (task, _) in catalog.test.items() if task not in model.tasks]
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
    """A prompt study (``study=composite`` or ``study=strength``, see ``tpir.evaluation.studies``): what
    ``results.json`` holds, with its table."""
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


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    folder = Path(hydra.core.hydra_config.HydraConfig.get().runtime.output_dir)
    try:
        text = write_results(evaluate(cfg), folder)
    except (ValueError, InstantiationException) as error:
        # ValueError covers ModelFolderError, PromptError, DataLayoutError and PhotoError.
        reason = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
        print(f"tpir-eval: error: {reason}", file=sys.stderr)
        sys.exit(2)
    print(text)
    log.info("Wrote %s/{table.md,table.csv,results.json}", folder)


if __name__ == "__main__":
    main()
