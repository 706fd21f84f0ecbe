"""``tpir-eval``: score a trained restorer on every test set found, in the paper's Table 1 layout, or run a
prompt study (:mod:`tpir.evaluation.evaluate`).

Composed by Hydra from the package's ``conf/eval.yaml`` (groups ``data``, ``protocol``, ``prompts``). Prints the
table as Markdown and writes ``table.md``, ``table.csv`` and ``results.json`` into the run folder.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from tpir.cli.common import EXIT_SETUP, choose_model
from tpir.config import CONFIG_DIR
from tpir.evaluation.evaluate import evaluate, write_results
from tpir.inference.checkpoints import find_checkpoint, restorer_from_checkpoint
from tpir.inference.restorer import Restorer

log = logging.getLogger(__name__)


def restorer_of_config(cfg: DictConfig) -> tuple[Restorer, str]:
    """The model to score (a checkpoint if ``ckpt_path`` is set, else ``model_dir``, else the default model
    folder: :func:`~tpir.cli.common.choose_model`) on ``device`` in ``precision`` (both printed), and its
    row name."""
    if str(cfg.device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={cfg.device}, but CUDA is not available here; use device=cpu.")
    if cfg.ckpt_path:
        checkpoint = find_checkpoint(cfg.ckpt_path)
        model = restorer_from_checkpoint(checkpoint)
        name = checkpoint.resolve().parent.parent.name
    else:
        choice = choose_model(cfg.model_dir, given_as="model_dir")
        if not choice.folder.is_dir():
            raise ValueError(
                f"no model folder at {choice.folder} ({choice.origin}); pass model_dir=<folder> or "
                "ckpt_path=<checkpoint>, set TPIR_MODEL, or run `make demo`, which exports outputs/demo/model."
            )
        print(choice.summary())
        model = Restorer.from_pretrained(choice.folder, precision="fp32")
        folder = choice.folder.resolve()
        name = folder.parent.name if folder.name == "model" else folder.name  # outputs/demo/model: demo
        if choice.origin == "packaged":  # not "resources"
            name = choice.origin
    model.to(cfg.device)
    print(model.set_precision(cfg.precision).summary())
    return model, cfg.method or f"tpir ({name})"


def score(cfg: DictConfig) -> dict:
    """Load the model ``cfg`` names and :func:`~tpir.evaluation.evaluate.evaluate` it; what ``results.json``
    holds."""
    model, method = restorer_of_config(cfg)
    return evaluate(cfg, model, method)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    folder = Path(hydra.core.hydra_config.HydraConfig.get().runtime.output_dir)
    try:
        text = write_results(score(cfg), folder)
    except (ValueError, InstantiationException) as error:
        # ValueError covers ModelFolderError, PromptError, DataLayoutError and PhotoError.
        reason = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
        print(f"tpir-eval: error: {reason}", file=sys.stderr)
        sys.exit(EXIT_SETUP)
    print(text)
    log.info("Wrote %s/{table.md,table.csv,results.json}", folder)


if __name__ == "__main__":
    main()
