"""The instruction corpus: free-form prompts per degradation category, in a train and a test split.

Files are UTF-8 text, one example per line, ``category<TAB>sentence``; lines starting with ``#`` are
comments. The bundled corpus lives in ``tpir/resources/corpus/{train,test}.tsv``; more categories
(``blur``, ``lowlight``) come from extra folders holding their own ``train.tsv`` and ``test.tsv`` (and a
``lexicon.tsv``, see ``tpir.text.lexicon``).

Three kinds of sentence share the files:

- free-form prompts of one category: ``derain<TAB>Please get rid of the rain.``;
- numeric templates, whose number is written ``{n}`` and filled with a degradation's strength:
  ``denoise<TAB>Denoise with sigma {n}.``;
- compound prompts naming several degradations, their categories joined by ``+``:
  ``denoise+derain<TAB>Remove the rain and the noise.``

Stage 1 and the category centroids read the free-form prompts; stage 2 draws prompts of every kind.

A line may end with a third field, tags that say how people wrote the sentence, separated by spaces; the
prompt parser's tests and ``tpir-text read`` check that it is read as labelled:

- ``described``: a description of the scene beside the instruction (``a child on a swing; remove the
  noise``);
- ``keep:<categories joined by +>``: degradations the sentence keeps, asked for or liked
  (``derain<TAB>I love the grain, just remove the rain.<TAB>keep:denoise``);
- ``improve``: a general request to improve the photo, read as blind (``blind<TAB>enhance this photo
  <TAB>improve``); one that names a degradation takes its category (``enhance it by removing the rain``).

A sentence's category says what it removes; a blind sentence keeps nothing, since its training target is
the clean image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tpir.text.lexicon import Lexicon

SPLITS = ("train", "test")
BLIND_CATEGORY = "blind"
NUMBER_SLOT = "{n}"
COMPOUND_JOIN = "+"
KEEP_TAG = "keep:"
TAGS = ("described", "improve", "keep")  # "keep" is written keep:<categories>
_CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$")


class CorpusError(ValueError):
    """A corpus or prompt file breaks the format; the message names the file and line."""


@dataclass(frozen=True)
class Prompt:
    """One sentence of the corpus and where it came from."""

    category: str  # one category, or several joined by "+" for a compound prompt
    sentence: str
    source: str  # "file:line", for error messages
    tags: tuple[str, ...] = ()  # how people wrote it: "described", "improve", "keep:denoise+dehaze"

    @property
    def names(self) -> tuple[str, ...]:
        """The categories the sentence names: one, or several for a compound prompt."""
        return tuple(self.category.split(COMPOUND_JOIN))

    @property
    def kept(self) -> tuple[str, ...]:
        """The categories its ``keep:`` tag says it keeps (empty without one)."""
        return tuple(
            c for t in self.tags if t.startswith(KEEP_TAG) for c in t[len(KEEP_TAG) :].split(COMPOUND_JOIN)
        )

    @property
    def kinds(self) -> tuple[str, ...]:
        """Its tags without their categories (``keep:denoise`` is ``keep``), in the order of :data:`TAGS`."""
        return tuple(k for k in TAGS if any(t.split(":")[0] == k for t in self.tags))

    @property
    def is_template(self) -> bool:
        """Whether the sentence is a numeric template (holds ``{n}``)."""
        return NUMBER_SLOT in self.sentence

    @property
    def is_free_form(self) -> bool:
        """A prompt of one category without a number slot: what stage 1 and the centroids read."""
        return len(self.names) == 1 and not self.is_template


def bundled_corpus_dir() -> Path:
    """Folder of the corpus shipped with the package."""
    return Path(str(resources.files("tpir") / "resources" / "corpus"))


def normalise(sentence: str) -> str:
    """Key under which two sentences count as the same: case, spacing and final punctuation ignored."""
    return " ".join(sentence.lower().split()).rstrip(".!?")


def read_prompt_file(path: str | Path) -> list[Prompt]:
    """Read ``category<TAB>sentence`` lines, each with an optional ``<TAB>tags``.

    Raises:
        CorpusError: a missing file, an empty line, a line without one or two tabs, a bad category name,
            an unknown tag, or a sentence repeated within the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: prompt file not found (expected lines of 'category<TAB>sentence').")
    prompts: list[Prompt] = []
    seen: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path}:{number}"
        if line.startswith("#"):
            continue
        if not line.strip():
            raise CorpusError(f"{where}: empty line (expected 'category<TAB>sentence').")
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise CorpusError(
                f"{where}: expected 'category<TAB>sentence', found {len(fields) - 1} tabs "
                "(a third field, after a second tab, may hold tags)."
            )
        category, sentence = fields[0].strip(), fields[1].strip()
        tags = _read_tags(fields[2], category, where) if len(fields) == 3 else ()
        if not _CATEGORY_NAME.match(category):
            raise CorpusError(
                f"{where}: category {category!r} should be a lower-case identifier, or several joined by '+'."
            )
        if sentence.count(NUMBER_SLOT) > 1 or (NUMBER_SLOT in sentence and COMPOUND_JOIN in category):
            raise CorpusError(f"{where}: a numeric template has one category and one {NUMBER_SLOT} slot.")
        if not sentence:
            raise CorpusError(f"{where}: empty sentence for category {category!r}.")
        key = normalise(sentence)
        if key in seen:
            raise CorpusError(f"{where}: duplicate sentence {sentence!r} (first at {seen[key]}).")
        seen[key] = where
        prompts.append(Prompt(category, sentence, where, tags))
    return prompts


def _read_tags(field: str, category: str, where: str) -> tuple[str, ...]:
    """The tags of a line's third field, checked against its category."""
    tags = tuple(field.split())
    for tag in tags:
        name, _, kept = tag.partition(":")
        if name not in TAGS or (name == "keep") != bool(_CATEGORY_NAME.match(kept)):
            raise CorpusError(
                f"{where}: tag {tag!r}; expected described, improve or keep:<categories joined by +>."
            )
        removed = set(category.split(COMPOUND_JOIN))
        if kept and (category == BLIND_CATEGORY or removed & set(kept.split(COMPOUND_JOIN))):
            raise CorpusError(
                f"{where}: {tag!r} on a {category} sentence; a sentence keeps only what it does not remove, "
                "and a blind one keeps nothing (its training target is the clean image)."
            )
    return tags


def check_known_categories(prompts: Iterable[Prompt], known: Sequence[str]) -> None:
    """Raise a :class:`CorpusError` naming the first prompt with a category (or, for a compound prompt, a
    part, or a category its ``keep:`` tag names) that is not in ``known``."""
    for prompt in prompts:
        unknown = [name for name in (*prompt.names, *prompt.kept) if name not in known]
        if unknown:
            raise CorpusError(
                f"{prompt.source}: unknown category {unknown[0]!r} (expected one of {', '.join(known)})."
            )


@dataclass(frozen=True)
class InstructionCorpus:
    """Train and test prompts per category, validated.

    Attributes:
        train: training prompts (stage-1 fine-tuning, stage-2 prompt sampling, category centroids).
        test: held-out prompts (classification accuracy, evaluation prompts).
        lexicon: the words that name each category and its number (the folders' ``lexicon.tsv``).
    """

    train: tuple[Prompt, ...]
    test: tuple[Prompt, ...]
    lexicon: Lexicon = field(default_factory=Lexicon)

    @classmethod
    def load(cls, extra_dirs: Sequence[str | Path] = ()) -> InstructionCorpus:
        """Load the bundled corpus plus any extra folders holding ``train.tsv`` and ``test.tsv``.

        Raises:
            CorpusError: any format problem, a sentence in both splits or twice across files, a test
                category absent from training, or a category with fewer than two training sentences.
        """
        folders = [bundled_corpus_dir(), *map(Path, extra_dirs)]
        return cls.from_files(
            train=[folder / "train.tsv" for folder in folders],
            test=[folder / "test.tsv" for folder in folders],
            lexicon=Lexicon.from_folders(folders),
        )

    @classmethod
    def from_files(
        cls, train: Sequence[str | Path], test: Sequence[str | Path], lexicon: Lexicon | None = None
    ) -> InstructionCorpus:
        """Build a corpus from explicit train and test files (see :meth:`load`)."""
        splits = {
            "train": [p for path in train for p in read_prompt_file(path)],
            "test": [p for path in test for p in read_prompt_file(path)],
        }
        first_seen: dict[str, Prompt] = {}
        for split, prompts in splits.items():
            for prompt in prompts:
                key = normalise(prompt.sentence)
                earlier = first_seen.get(key)
                if earlier is not None:
                    raise CorpusError(
                        f"{prompt.source}: sentence {prompt.sentence!r} already appears at {earlier.source}"
                        + (" (a sentence may not be in both splits)." if split == "test" else ".")
                    )
                first_seen[key] = prompt
        corpus = cls(train=tuple(splits["train"]), test=tuple(splits["test"]), lexicon=lexicon or Lexicon())
        check_known_categories(corpus.test, corpus.categories)
        check_known_categories(corpus.train, corpus.categories)
        for category in corpus.categories:
            if len(corpus.sentences("train", category)) < 2:
                raise CorpusError(
                    f"category {category!r} has fewer than 2 training sentences; next-sentence pairs need two."
                )
        return corpus

    @property
    def categories(self) -> tuple[str, ...]:
        """Single categories, in order of first appearance in the training split."""
        return tuple(dict.fromkeys(p.category for p in self.train if len(p.names) == 1))

    @property
    def task_categories(self) -> tuple[str, ...]:
        """Categories that name one degradation (all but the blind prompts)."""
        return tuple(c for c in self.categories if c != BLIND_CATEGORY)

    def split(self, split: str) -> tuple[Prompt, ...]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
        return self.train if split == "train" else self.test

    def sentences(self, split: str, category: str | None = None) -> list[str]:
        """Free-form sentences of a split, optionally of one category."""
        return [
            p.sentence
            for p in self.split(split)
            if p.is_free_form and (category is None or p.category == category)
        ]

    def labels(self, split: str) -> list[str]:
        """Category of each free-form sentence of a split, aligned with :meth:`sentences`."""
        return [p.category for p in self.split(split) if p.is_free_form]

    def templates(self, split: str, category: str) -> list[str]:
        """Numeric templates of a category (``"Denoise with sigma {n}."``)."""
        return [p.sentence for p in self.split(split) if p.is_template and p.category == category]

    def compounds(self, split: str, categories: Iterable[str]) -> list[str]:
        """Compound prompts naming exactly ``categories`` (in any order)."""
        wanted = set(categories)
        return [p.sentence for p in self.split(split) if len(p.names) > 1 and set(p.names) == wanted]
