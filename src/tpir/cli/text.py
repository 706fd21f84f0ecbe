"""``tpir-text``: score a text encoder on labelled prompts, or show what it understands of one prompt.

    tpir-text eval --encoder DIR --prompts FILE [--json]
    tpir-text explain --encoder DIR "get rid of the rain"

Without ``--encoder`` the default MiniLM is used, as it comes (not fine-tuned).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from tpir.cli.common import EXIT_OK, EXIT_SETUP
from tpir.text.classify import accuracy_by_category, corpus_centroids
from tpir.text.corpus import (
    BLIND_CATEGORY,
    CorpusError,
    InstructionCorpus,
    check_known_categories,
    read_prompt_file,
)
from tpir.text.encoder import PromptError, TextEncoder, minilm_path
from tpir.text.parsing import ParsedPrompt, PromptParser


def default_cache_dir() -> Path:
    """``$TPIR_CACHE_DIR``, else ``$XDG_CACHE_HOME/tpir``, else ``~/.cache/tpir``."""
    if "TPIR_CACHE_DIR" in os.environ:
        return Path(os.environ["TPIR_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tpir"


def load_encoder(folder: str | None) -> TextEncoder:
    """The encoder in ``folder``, or the default MiniLM."""
    path = Path(folder) if folder else minilm_path()
    if not path.is_dir():
        raise FileNotFoundError(f"--encoder {path}: no such folder (expected a saved text encoder).")
    return TextEncoder.from_pretrained(path)


def run_eval(args: argparse.Namespace) -> int:
    """Two accuracies per category: the nearest centroid of the embedding (``accuracy``), and what
    ``explain`` understands (``understood``: the reading removes exactly the labelled category)."""
    encoder = load_encoder(args.encoder)
    corpus = InstructionCorpus.load(args.corpus_dir)
    prompts = read_prompt_file(args.prompts)
    check_known_categories(prompts, corpus.categories)
    centroids = corpus_centroids(encoder, corpus, args.cache_dir)
    embeddings = encoder.encode([p.sentence for p in prompts])
    labels = [p.category for p in prompts]
    accuracy = accuracy_by_category(centroids.predict(embeddings), labels)
    parser = PromptParser(corpus.lexicon, centroids)
    readings = [parser.parse(p.sentence, lambda _, e=e: e) for p, e in zip(prompts, embeddings, strict=True)]
    understood = accuracy_by_category([understood_category(r) for r in readings], labels)
    if args.json:
        print(json.dumps({"accuracy": accuracy, "understood": understood, "prompts": len(prompts)}, indent=2))
        return EXIT_OK
    print(f"{'category':<12} {'nearest':>8} {'understood':>10}")
    for category, value in accuracy.items():
        print(f"{category:<12} {value:>8.3f} {understood[category]:>10.3f}")
    print(f"({len(prompts)} prompts from {args.prompts}; understood: what `tpir-text explain` reads)")
    return EXIT_OK


def understood_category(reading: ParsedPrompt) -> str | None:
    """The one category a reading removes (``blind`` for a blind prompt), None for several or none."""
    if reading.blind:
        return BLIND_CATEGORY
    return next(iter(reading.removed)) if len(reading.removed) == 1 else None


def run_explain(args: argparse.Namespace) -> int:
    prompt = args.prompt
    if not prompt.strip():
        raise PromptError(
            'the prompt is empty; say what to remove, or "remove all degradation" for blind mode.'
        )
    encoder = load_encoder(args.encoder)
    encoder.check_prompt(prompt)
    corpus = InstructionCorpus.load(args.corpus_dir)
    centroids = corpus_centroids(encoder, corpus, args.cache_dir)
    embedding = encoder.encode([prompt])[0]
    understood = centroids.match(embedding)
    parser = PromptParser(corpus.lexicon, centroids)
    reading = parser.parse(prompt, lambda _: embedding)
    doubt = parser.doubt(reading)
    if args.json:
        print(json.dumps({**understood.__dict__, "reading": asdict(reading), "doubt": doubt}, indent=2))
        return EXIT_OK
    print(f"prompt:        {prompt!r}")
    print(f"understood as: {reading.summary()}")
    if doubt is not None:
        print(f"note: {doubt}")
    for category, number in reading.removed.items():
        stated = "" if number is None else f", {corpus.lexicon[category].number_names[0]} {number:g}"
        print(f"  remove {category}{stated}")
    for category in reading.kept:
        print(f"  keep   {category}")
    print(f"nearest category: {understood.category} (confidence {understood.confidence:.2f})")
    ranked = sorted(understood.similarities.items(), key=lambda item: -item[1])
    print("cosine to each category: " + ", ".join(f"{c} {s:.3f}" for c, s in ranked))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tpir-text", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--encoder", help="folder of a text encoder (stage-1 output); default: MiniLM")
    common.add_argument("--corpus-dir", action="append", default=[], help="extra corpus folder (repeatable)")
    common.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="embedding cache folder")
    common.add_argument("--json", action="store_true", help="print JSON for machines")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("eval", parents=[common], help="accuracy on category<TAB>sentence lines")
    evaluate.add_argument("--prompts", required=True, type=Path, help="file of category<TAB>sentence lines")
    evaluate.set_defaults(run=run_eval)
    explain = commands.add_parser("explain", parents=[common], help="what the model understood of a prompt")
    explain.add_argument("prompt", help="the prompt, quoted")
    explain.set_defaults(run=run_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CorpusError, PromptError, FileNotFoundError) as error:
        print(f"tpir-text: {error}", file=sys.stderr)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
