"""The instruction corpus: free-form prompts per degradation category, in a train and a test split.

Files are UTF-8 text, one example per line, ``category<TAB>sentence``; lines starting with ``#`` are
comments. The bundled corpus lives in ``tpir/resources/corpus/{train,test}.tsv``; more categories
(``blur``, ``lowlight``) come from extra folders holding their own ``train.tsv`` and ``test.tsv``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SPLITS = ("train", "test")
BLIND_CATEGORY = "blind"
_CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CorpusError(ValueError):
    """A corpus or prompt file breaks the format; the message names the file and line."""


@dataclass(frozen=True)
class Prompt:
    """One sentence of the corpus and where it came from."""

    category: str
    sentence: str
    source: str  # "file:line", for error messages


def bundled_corpus_dir() -> Path:
    """Folder of the corpus shipped with the package."""
    return Path(str(resources.files("tpir") / "resources" / "corpus"))


def normalise(sentence: str) -> str:
    """Key under which two sentences count as the same: case, spacing and final punctuation ignored."""
    return " ".join(sentence.lower().split()).rstrip(".!?")


def read_prompt_file(path: str | Path) -> list[Prompt]:
    """Read ``category<TAB>sentence`` lines.

    Raises:
        CorpusError: a missing file, an empty line, a line without exactly one tab, a bad category name,
            or a sentence repeated within the file.
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
        if len(fields) != 2:
            raise CorpusError(f"{where}: expected 'category<TAB>sentence', found {len(fields) - 1} tabs.")
        category, sentence = fields[0].strip(), fields[1].strip()
        if not _CATEGORY_NAME.match(category):
            raise CorpusError(f"{where}: category {category!r} should be a lower-case identifier.")
        if not sentence:
            raise CorpusError(f"{where}: empty sentence for category {category!r}.")
        key = normalise(sentence)
        if key in seen:
            raise CorpusError(f"{where}: duplicate sentence {sentence!r} (first at {seen[key]}).")
        seen[key] = where
        prompts.append(Prompt(category, sentence, where))
    return prompts


def check_known_categories(prompts: Iterable[Prompt], known: Sequence[str]) -> None:
    """Raise a :class:`CorpusError` naming the first prompt whose category is not in ``known``."""
    for prompt in prompts:
        if prompt.category not in known:
            raise CorpusError(
                f"{prompt.source}: unknown category {prompt.category!r} (expected one of {', '.join(known)})."
            )


@dataclass(frozen=True)
class InstructionCorpus:
    """Train and test prompts per category, validated.

    Attributes:
        train: training prompts (stage-1 fine-tuning, stage-2 prompt sampling, category centroids).
        test: held-out prompts (classification accuracy, evaluation prompts).
    """

    train: tuple[Prompt, ...]
    test: tuple[Prompt, ...]

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
        )

    @classmethod
    def from_files(cls, train: Sequence[str | Path], test: Sequence[str | Path]) -> InstructionCorpus:
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
        corpus = cls(train=tuple(splits["train"]), test=tuple(splits["test"]))
        check_known_categories(corpus.test, corpus.categories)
        for category in corpus.categories:
            if len(corpus.sentences("train", category)) < 2:
                raise CorpusError(
                    f"category {category!r} has fewer than 2 training sentences; next-sentence pairs need two."
                )
        return corpus

    @property
    def categories(self) -> tuple[str, ...]:
        """Categories in order of first appearance in the training split."""
        return tuple(dict.fromkeys(p.category for p in self.train))

    @property
    def task_categories(self) -> tuple[str, ...]:
        """Categories that name one degradation (all but the blind prompts)."""
        return tuple(c for c in self.categories if c != BLIND_CATEGORY)

    def split(self, split: str) -> tuple[Prompt, ...]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
        return self.train if split == "train" else self.test

    def sentences(self, split: str, category: str | None = None) -> list[str]:
        """Sentences of a split, optionally of one category."""
        return [p.sentence for p in self.split(split) if category is None or p.category == category]

    def labels(self, split: str) -> list[str]:
        """Category of each sentence of a split, aligned with :meth:`sentences`."""
        return [p.category for p in self.split(split)]
