"""``tpir-eval``: score a trained restorer on every test set found, in the paper's Table 1 layout.

Composed by Hydra from ``conf/eval.yaml`` (groups ``data``, ``protocol``, ``prompts``). Prints the table
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
from tqdm.auto import tqdm

from tpir.data.datamodule import TASKS
from tpir.data.datasets import EvaluationSet
from tpir.evaluation.protocol import GuidanceCache, SetScores, evaluation_sets, score_set
from tpir.evaluation.report import write_report
from tpir.evaluation.tables import csv_text, markdown, output_vs_input_row, table1
from tpir.inference.model import RestorationModel
from tpir.train import CONFIG_DIR
from tpir.utils import write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)


def load_model(cfg: DictConfig) -> tuple[RestorationModel, str]:
    """The model to score (a checkpoint if ``ckpt_path`` is set, else ``model_dir``) and its row name."""
    if str(cfg.device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={cfg.device}, but CUDA is not available here; use device=cpu.")
    if cfg.ckpt_path:
        model = RestorationModel.from_checkpoint(cfg.ckpt_path)
        name = Path(cfg.ckpt_path).resolve().parent.parent.name
    else:
        model = RestorationModel.load(cfg.model_dir)
        folder = Path(cfg.model_dir).resolve()
        name = folder.parent.name if folder.name == "model" else folder.name  # outputs/demo/model: demo
    return model.to(cfg.device), cfg.method or f"tpir ({name})"


def evaluate(cfg: DictConfig) -> dict:
    """Score the model on the test sets of ``cfg.data`` of the tasks it was trained for.

    Returns what ``results.json`` holds. With ``cfg.report_dir`` set, also writes ``report.md`` and
    ``examples.png`` there (``make demo``).
    """
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"limit={cfg.limit}; expected at least 1 image per set, or null for all.")
    model, method = load_model(cfg)
    corpus = instantiate(cfg.corpus)
    sets = evaluation_sets(
        instantiate(cfg.data), corpus, TASKS, cfg.prompts.mode, cfg.prompts.sentence, cfg.seed
    )
    skipped = [s.name for s in sets if s.task not in model.spec.tasks]
    if skipped:
        log.info("Skipping %s: the model was not trained for their tasks", ", ".join(skipped))
    sets = [s for s in sets if s.task in model.spec.tasks]
    if not sets:
        raise ValueError(
            f"the data config has no test sets of the model's tasks ({', '.join(model.spec.tasks)}); "
            "expected test/<task>/<set> folders."
        )
    guidance = GuidanceCache(model, prompts_name_the_task=cfg.prompts.mode == "random")
    results = score(cfg, model, method, sets, guidance)
    if cfg.get("report_dir"):
        path = write_report(results, model, sets, guidance, cfg.report_dir)
        log.info("Wrote %s", path)
    return results


def score(
    cfg: DictConfig, model: RestorationModel, method: str, sets: list[EvaluationSet], guidance: GuidanceCache
) -> dict:
    """Scores of every set, and the table of them."""
    total = sum(len(s) if cfg.limit is None else min(cfg.limit, len(s)) for s in sets)
    scores: list[SetScores] = []
    with torch.inference_mode(), tqdm(total=total, desc="images", unit="img") as bar:
        for dataset in sets:
            bar.set_postfix_str(dataset.name)
            scores.append(score_set(model, dataset, cfg.protocol.name, guidance, cfg.limit, bar.update))
    header, body = table1(scores, method)
    if cfg.prompts.mode == "wrong":
        body.append(output_vs_input_row(scores, method))
    title = f"protocol={cfg.protocol.name}, prompts={cfg.prompts.mode}, seed={cfg.seed}"
    return {
        "method": method,
        "protocol": cfg.protocol.name,
        "prompts": cfg.prompts.mode,
        "seed": cfg.seed,
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
    return text


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    folder = Path(hydra.core.hydra_config.HydraConfig.get().runtime.output_dir)
    try:
        text = write_results(evaluate(cfg), folder)
    except (ValueError, InstantiationException) as error:  # ModelFolderError, PromptError, DataLayoutError
        reason = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
        print(f"tpir-eval: error: {reason}", file=sys.stderr)
        sys.exit(2)
    print(text)
    log.info("Wrote %s/{table.md,table.csv,results.json}", folder)


if __name__ == "__main__":
    main()
