"""Stage 1 end to end: fine-tune the text encoder, save it, score it before and after, plot it."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from tpir.stages.trainer import build_trainer
from tpir.text.classify import CategoryCentroids, accuracy_by_category
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PretrainingBert, TextEncoder
from tpir.utils import write_json_atomic
from tpir.viz.embeddings import plot_embedding_panels

log = logging.getLogger(__name__)

ENCODER_FOLDER = "text_encoder"


def score_encoder(encoder: TextEncoder, corpus: InstructionCorpus) -> tuple[dict[str, float], torch.Tensor]:
    """Classify the test split by the nearest training-split centroid.

    Returns:
        Accuracy per category and overall, and the test-split embeddings (N, D).
    """
    centroids = CategoryCentroids(encoder.encode(corpus.sentences("train")), corpus.labels("train"))
    test_embeddings = encoder.encode(corpus.sentences("test"))
    accuracy = accuracy_by_category(centroids.predict(test_embeddings), corpus.labels("test"))
    return accuracy, test_embeddings.cpu()


def fit_text_encoder(cfg: DictConfig) -> dict[str, float]:
    """Run stage 1 from a composed config; returns the metrics also written to ``metrics.json``.

    Writes into ``cfg.paths.output_dir``: ``text_encoder/`` (Hugging Face model + tokenizer),
    ``embeddings.png`` (test-split projection before and after) and ``metrics.json``.
    """
    output_dir = Path(cfg.paths.output_dir)
    corpus: InstructionCorpus = instantiate(cfg.corpus)
    bert: PretrainingBert = instantiate(cfg.text_encoder)
    encoder = TextEncoder.from_bundle(bert, cfg.datamodule.max_length)

    accuracy_before, embeddings_before = score_encoder(encoder, corpus)
    log.info("Test-split accuracy before fine-tuning: %.3f", accuracy_before["overall"])

    # Objects go in through partials: Hydra would turn a dataclass argument into a config node.
    datamodule = instantiate(cfg.datamodule, _partial_=True)(corpus=corpus, tokenizer=bert.tokenizer)
    module = instantiate(cfg.module, _partial_=True)(bert=bert.model)
    trainer = build_trainer(cfg)
    trainer.fit(module, datamodule=datamodule)

    encoder_dir = output_dir / ENCODER_FOLDER
    bert.model.save_pretrained(encoder_dir)
    bert.tokenizer.save_pretrained(encoder_dir)
    accuracy_after, embeddings_after = score_encoder(encoder, corpus)
    log.info("Test-split accuracy after fine-tuning: %.3f", accuracy_after["overall"])

    figure = plot_embedding_panels(
        {"before fine-tuning": embeddings_before, "after fine-tuning": embeddings_after},
        corpus.labels("test"),
        output_dir / "embeddings.png",
        method=cfg.stage.projection,
        seed=cfg.seed,
    )
    metrics = {f"text/acc_before/{k}": v for k, v in accuracy_before.items()}
    metrics |= {f"text/acc_after/{k}": v for k, v in accuracy_after.items()}
    metrics |= {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    metrics_file = write_json_atomic(output_dir / "metrics.json", metrics)
    log.info("Saved the fine-tuned encoder to %s", encoder_dir)
    log.info("Wrote %s and %s", figure, metrics_file)
    return metrics
