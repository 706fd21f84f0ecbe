"""The words that name each degradation, and the number that sets its strength.

A corpus folder may hold a ``lexicon.tsv``: UTF-8, one entry per line, ``category<TAB>kind<TAB>words``,
words separated by ``|``, ``#`` lines are comments. Kinds:

- ``noun``: what the degradation is called (``noise|grain|speckles``);
- ``verb``: a verb that removes it (``denoise``);
- ``number``: the names of its strength (``sigma|noise level``), in the benchmark's own scale;
- ``range``: the valid strengths, ``low high`` (``0 100`` for sigma on 0-255).

The category ``blind`` lists, as ``noun``, phrases that mean every degradation (``all degradation``).
The prompt parser (``tpir.text.parsing``) finds these words; the prompt writer (``tpir.data.prompting``)
writes prompts with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LEXICON_FILE = "lexicon.tsv"
KINDS = ("noun", "verb", "number", "range")


class LexiconError(ValueError):
    """A lexicon file breaks the format; the message names the file and line."""


@dataclass(frozen=True)
class Vocabulary:
    """How prompts speak of one degradation category.

    Attributes:
        category: the corpus category (``denoise``).
        nouns: what the degradation is called, most common first (``noise``).
        verbs: verbs that remove it (``denoise``).
        number_names: names of its strength, most common first (``sigma``); empty if it has none.
        number_range: the valid strengths (low, high), or None if it takes no number.
    """

    category: str
    nouns: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    number_names: tuple[str, ...] = ()
    number_range: tuple[float, float] | None = None

    @property
    def words(self) -> tuple[str, ...]:
        """Every word or phrase that names this degradation."""
        return self.nouns + self.verbs

    def check_number(self, value: float, name: str) -> float:
        """``value`` if it lies in :attr:`number_range`.

        Raises:
            ValueError: the category takes no number, or ``value`` is outside its range.
        """
        if self.number_range is None:
            raise ValueError(f"{name} {value:g}: {self.category} takes no number.")
        low, high = self.number_range
        if not low <= value <= high:
            raise ValueError(
                f"{name} {value:g} is out of range for {self.category}: expected a number from {low:g} to {high:g}."
            )
        return value

    def format_number(self, value: float) -> str:
        """``value`` as a prompt writes it: whole numbers for wide ranges (sigma 25), else 1 or 2 decimals."""
        high = 1.0 if self.number_range is None else self.number_range[1]
        if high >= 10:
            return f"{round(value):d}"
        return f"{value:.1f}" if high > 2 else f"{value:.2f}"


@dataclass(frozen=True)
class Lexicon:
    """The vocabulary of every category, and the phrases that mean "every degradation"."""

    vocabularies: dict[str, Vocabulary] = field(default_factory=dict)
    blind_phrases: tuple[str, ...] = ()

    def __getitem__(self, category: str) -> Vocabulary:
        if category not in self.vocabularies:
            raise KeyError(f"the lexicon has no words for {category!r} (expected one of {', '.join(self)}).")
        return self.vocabularies[category]

    def __iter__(self):
        return iter(self.vocabularies)

    def __contains__(self, category: object) -> bool:
        return category in self.vocabularies

    def naming_prompt(self, categories: Sequence[str]) -> str:
        """A prompt that names ``categories`` by their first noun: ``remove the rain and the noise``."""
        return f"remove {join_list([f'the {self[category].nouns[0]}' for category in categories])}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for a model folder's ``config.json``)."""
        return {
            "vocabularies": {c: asdict(v) for c, v in self.vocabularies.items()},
            "blind_phrases": list(self.blind_phrases),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Lexicon:
        """The lexicon of :meth:`to_dict`."""
        vocabularies = {}
        for category, entry in values["vocabularies"].items():
            number_range = entry.get("number_range")
            vocabularies[category] = Vocabulary(
                category=category,
                nouns=tuple(entry.get("nouns", ())),
                verbs=tuple(entry.get("verbs", ())),
                number_names=tuple(entry.get("number_names", ())),
                number_range=None
                if number_range is None
                else (float(number_range[0]), float(number_range[1])),
            )
        return cls(vocabularies, tuple(values.get("blind_phrases", ())))

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], blind_category: str = "blind") -> Lexicon:
        """Read ``lexicon.tsv`` files (later files add words to earlier categories).

        Raises:
            LexiconError: a line without three fields, an unknown kind, a bad range.
        """
        entries: dict[str, dict[str, Any]] = {}
        for path in map(Path, paths):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip() or line.startswith("#"):
                    continue
                where = f"{path}:{number}"
                fields = line.split("\t")
                if len(fields) != 3:
                    raise LexiconError(
                        f"{where}: expected 'category<TAB>kind<TAB>words', found {len(fields)} fields."
                    )
                category, kind, words = (f.strip() for f in fields)
                if kind not in KINDS:
                    raise LexiconError(f"{where}: kind {kind!r}; expected one of {', '.join(KINDS)}.")
                entry = entries.setdefault(category, {})
                if kind == "range":
                    entry["number_range"] = _read_range(words, where)
                else:
                    key = {"noun": "nouns", "verb": "verbs", "number": "number_names"}[kind]
                    phrases = tuple(w.strip().lower() for w in words.split("|") if w.strip())
                    entry[key] = entry.get(key, ()) + phrases
        blind = entries.pop(blind_category, {}).get("nouns", ())
        for category, entry in entries.items():
            if entry.get("number_names") and entry.get("number_range") is None:
                raise LexiconError(f"lexicon: category {category!r} names a number but gives no range.")
        return cls({c: Vocabulary(category=c, **e) for c, e in entries.items()}, tuple(blind))

    @classmethod
    def from_folders(cls, folders: Sequence[str | Path]) -> Lexicon:
        """The lexicons of the corpus folders that have one."""
        return cls.from_files([Path(f) / LEXICON_FILE for f in folders if (Path(f) / LEXICON_FILE).is_file()])


def join_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _read_range(words: str, where: str) -> tuple[float, float]:
    try:
        low, high = (float(w) for w in words.split())
    except ValueError as error:
        raise LexiconError(f"{where}: a range is two numbers 'low high', got {words!r}.") from error
    if low >= high:
        raise LexiconError(f"{where}: range {words!r} should go from low to high.")
    return low, high
