"""``tpir-text``: score a text encoder on labelled prompts, show what it understands of one prompt, or
score the prompt parser on the corpus's sentences as people write them.

    tpir-text eval --encoder DIR --prompts FILE [--json]
    tpir-text explain --encoder DIR "get rid of the rain"
    tpir-text read [--split test] [--json]

Without ``--encoder`` the default MiniLM is used, as it comes (not fine-tuned); ``read`` needs none.
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
    SPLITS,
    TAGS,
    CorpusError,
    InstructionCorpus,
    check_known_categories,
    read_prompt_file,
)
from tpir.text.encoder import PromptError, TextEncoder, minilm_path
from tpir.text.parsing import ParsedPrompt, PromptParser, reads_as_labelled


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


def run_read(args: argparse.Namespace) -> int:
    """Of the corpus's tagged sentences of a split (described, keep, improve), how many the prompt parser
    reads as labelled (:func:`tpir.text.parsing.reads_as_labelled`), by words alone: no encoder, so the
    figure is the grammar's and the lexicon's."""
    corpus = InstructionCorpus.load(args.corpus_dir)
    parser = PromptParser(corpus.lexicon)
    scores = {kind: [0, 0] for kind in (*TAGS, "all")}
    missed = []
    for prompt in (p for p in corpus.split(args.split) if p.tags):
        try:
            reading = parser.parse(prompt.sentence)
            right, read = reads_as_labelled(reading, prompt), reading.summary()
        except PromptError as error:
            right, read = False, f"refused: {error}"
        for kind in (*prompt.kinds, "all"):
            scores[kind][0] += right
            scores[kind][1] += 1
        if not right:
            missed.append(
                {
                    "category": prompt.category,
                    "tags": list(prompt.tags),
                    "sentence": prompt.sentence,
                    "read": read,
                }
            )
    if args.json:
        print(
            json.dumps(
                {
                    "split": args.split,
                    "right": {k: {"right": r, "of": n} for k, (r, n) in scores.items()},
                    "missed": missed,
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"{'kind':<10} {'right':>5} {'of':>4} {'share':>7}")
    for kind, (right, total) in scores.items():
        share = f"{100 * right / total:.1f}%" if total else "-"
        print(f"{kind:<10} {right:>5} {total:>4} {share:>7}")
    print(f"(the corpus's tagged {args.split} sentences, read by words: removed, kept and blind as labelled)")
    for miss in missed:
        print(f"missed: {miss['sentence']!r} ({miss['category']}, {' '.join(miss['tags'])}): {miss['read']}")
    return EXIT_OK


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
    corpus_options = argparse.ArgumentParser(add_help=False)
    corpus_options.add_argument(
        "--corpus-dir", action="append", default=[], help="extra corpus folder (repeatable)"
    )
    corpus_options.add_argument("--json", action="store_true", help="print JSON for machines")
    common = argparse.ArgumentParser(add_help=False, parents=[corpus_options])
    common.add_argument("--encoder", help="folder of a text encoder (stage-1 output); default: MiniLM")
    common.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="embedding cache folder")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("eval", parents=[common], help="accuracy on category<TAB>sentence lines")
    evaluate.add_argument("--prompts", required=True, type=Path, help="file of category<TAB>sentence lines")
    evaluate.set_defaults(run=run_eval)
    explain = commands.add_parser("explain", parents=[common], help="what the model understood of a prompt")
    explain.add_argument("prompt", help="the prompt, quoted")
    explain.set_defaults(run=run_explain)
    read = commands.add_parser(
        "read", parents=[corpus_options], help="the prompt parser on the corpus's tagged sentences, by words"
    )
    read.add_argument("--split", choices=SPLITS, default="test", help="corpus split (default: test)")
    read.set_defaults(run=run_read)
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
