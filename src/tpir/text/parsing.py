"""Parsing a prompt: which degradations it asks to remove, which to keep, their numbers, blind mode.

The grammar is small and written here; the words come from the lexicon (``tpir.text.lexicon``):

1. The prompt is cut into segments at punctuation and at "but", "while", "whereas", "instead", and each
   segment into parts at "and", "&", "plus", "as well as", "then", "also".
2. A part with a keep cue ("keep", "leave", "no need to", "don't touch", ...) keeps what it names; a part
   with a removal verb removes it; any other part does what the part before it in the same segment did
   (removal at the start of a segment): "remove the rain and the noise" removes both, "keep the grain and
   the rain" keeps both, "no need to denoise, just the rain" keeps the noise and removes the rain.
3. A part names a category by a noun, verb or number name of the lexicon (longest phrase first); a number
   in a part belongs to the category named nearest to it ("sigma=25", "σ 25" and "25 sigma" all read
   sigma 25); a number outside the category's range is refused with the range. A phrase that several
   categories list ("sigma": noise and blur) names the one of them that another word of the same part
   names ("deblur with sigma 2"), else the one removed last before it ("deblur, sigma 2"), else the first
   that lists it in the lexicon ("sigma 25" is noise).
4. A blind phrase ("all degradation", "everything") asks to remove every degradation but the kept ones.
5. A prompt that names nothing by word is understood from its embedding: the nearest category centroid
   (this is how free-form prompts such as "Can you make the photo less grey and washed out?" are read);
   its numbers are not read, as nothing ties them to a degradation ("shot at ISO 6400"). When the
   nearest category wins by little (confidence below :data:`LOW_CONFIDENCE`), :meth:`PromptParser.doubt`
   says so and suggests a prompt that names the degradation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from tpir.text.classify import CategoryCentroids
from tpir.text.corpus import BLIND_CATEGORY
from tpir.text.encoder import PromptError
from tpir.text.lexicon import Lexicon

_SEGMENT_BREAK = re.compile(r"[,;!?]|\.(?!\d)|\b(?:but|while|whereas|instead|however)\b")
_PART_BREAK = re.compile(r"&|\b(?:and|plus|as well as|then|also)\b")
_KEEP_CUE = re.compile(
    r"\b(?:keep|keeping|leave|leaving|preserve|retain|spare|stay|stays|remain|untouched|as it is|as is"
    r"|no need|not necessary|except|apart from|not the"
    r"|(?:don't|do not|dont|never)\s+(?:remove|touch|change|fix|clean|denoise|derain|dehaze|defog|get rid|take))\b"
)
_REMOVE_CUE = re.compile(
    r"\b(?:remove|get rid|take out|take away|clear|clean|erase|eliminate|fix|reduce|strip|wipe|lose)\b"
)
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(%?)")
# A letter followed by a digit or a digit by a letter ("sigma25", "25sigma") are read as two words.
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
# A prompt understood from its embedding with a confidence below this is flagged: few of the corpus's test
# sentences fall below it, most off-topic or foreign prompts do (the results pages give the figures). Tiny
# random encoders are always below; models of more categories spread their confidence thinner.
LOW_CONFIDENCE = 0.40


@dataclass(frozen=True)
class ParsedPrompt:
    """What a prompt asks for.

    Attributes:
        removed: categories named for removal, each with its number (benchmark scale) or None.
        kept: categories named to be kept.
        blind: whether the prompt asks to remove every degradation (but the kept ones).
        confidence: 1 when every category was named by a word of the lexicon, else the centroid
            classifier's confidence of the category the prompt was understood as.
        by_words: whether the categories were found by words (False: understood from the embedding).
    """

    removed: dict[str, float | None] = field(default_factory=dict)
    kept: tuple[str, ...] = ()
    blind: bool = False
    confidence: float = 1.0
    by_words: bool = True

    def removes(self, categories: Sequence[str]) -> list[str]:
        """Which of ``categories`` the prompt removes."""
        if self.blind:
            return [c for c in categories if c not in self.kept]
        return [c for c in categories if c in self.removed]

    @property
    def is_empty(self) -> bool:
        """Whether the prompt named nothing at all."""
        return not (self.removed or self.kept or self.blind)

    @property
    def is_doubtful(self) -> bool:
        """Whether the prompt was understood from its embedding with a confidence below :data:`LOW_CONFIDENCE`."""
        return not self.by_words and self.confidence < LOW_CONFIDENCE

    def summary(self) -> str:
        """One line: ``remove: denoise (sigma 25), derain; keep: dehaze`` or ``remove: everything (blind)``."""
        removed = ", ".join(c if n is None else f"{c} ({n:g})" for c, n in self.removed.items())
        parts = ["remove: everything (blind)" if self.blind else f"remove: {removed or 'nothing named'}"]
        if self.kept:
            parts.append(f"keep: {', '.join(self.kept)}")
        how = "named by words" if self.by_words else "understood from the embedding"
        return f"{'; '.join(parts)} ({how}, confidence {self.confidence:.2f})"


def instruction_vector(
    reading: ParsedPrompt, categories: Sequence[str], lexicon: Lexicon, numbers: bool = True
) -> torch.Tensor:
    """The reading as the backbone receives it beside Z: per category, (removed, number / top of its
    range, has a number), (3 * len(categories),), or with ``numbers=False`` only (removed,)
    (len(categories),). Blind prompts remove every category but the kept."""
    removed = set(reading.removes(categories))
    values = []
    for category in categories:
        values.append(float(category in removed))
        if not numbers:
            continue
        number = reading.removed.get(category) if not reading.blind else None
        number_range = lexicon[category].number_range if category in lexicon else None
        scaled = 0.0 if number is None or number_range is None else number / number_range[1]
        values += [scaled, float(number is not None)]
    return torch.tensor(values)


@dataclass(frozen=True)
class _Match:
    category: str
    start: int
    end: int
    number_name: str | None  # the number name matched ("sigma"), or None for a noun or verb


class PromptParser:
    """Reads prompts with a lexicon, falling back on category centroids for prompts it finds no word in.

    Args:
        lexicon: the words of every category.
        centroids: category centroids of the corpus under the encoder that embeds prompts; None reads by
            words only.
    """

    def __init__(self, lexicon: Lexicon, centroids: CategoryCentroids | None = None) -> None:
        self.lexicon = lexicon
        self.centroids = centroids
        # Each phrase with the categories that list it, in lexicon order: (category, number name or None).
        owners: dict[str, dict[str, str | None]] = {}
        for vocabulary in lexicon.vocabularies.values():
            for phrase in (*vocabulary.words, *vocabulary.number_names):
                number_name = phrase if phrase in vocabulary.number_names else None
                owners.setdefault(phrase, {}).setdefault(vocabulary.category, number_name)
        for phrase in lexicon.blind_phrases:
            owners.setdefault(phrase, {}).setdefault(BLIND_CATEGORY, None)
        self._phrases = [
            (re.compile(rf"(?<![\w-]){re.escape(phrase)}(?:s|es)?(?![\w-])"), tuple(owners[phrase].items()))
            for phrase in sorted(owners, key=lambda p: -len(p))
        ]

    def parse(self, prompt: str, embed: Callable[[str], torch.Tensor] | None = None) -> ParsedPrompt:
        """Read ``prompt``.

        Args:
            prompt: the user's words.
            embed: the prompt's embedding (D,) on demand, for prompts the lexicon finds nothing in.

        Raises:
            PromptError: a number outside its category's range, naming the range.
        """
        text = _LETTER_DIGIT.sub(" ", prompt.lower().replace("=", " ").replace(":", " "))
        removed: dict[str, float | None] = {}
        kept: list[str] = []
        blind = False
        numbers_without_category: list[tuple[float, str]] = []
        last_category: str | None = None
        for segment in _SEGMENT_BREAK.split(text):
            keeping = False
            for part in _PART_BREAK.split(segment):
                if _KEEP_CUE.search(part):
                    keeping = True
                elif _REMOVE_CUE.search(part):
                    keeping = False
                matches = self._matches(part, tuple(removed))
                for match in matches:
                    if match.category == BLIND_CATEGORY:
                        blind = blind or not keeping
                    elif keeping:
                        kept.append(match.category)
                        removed.pop(match.category, None)
                    else:
                        removed.setdefault(match.category, None)
                        last_category = match.category
                if keeping:
                    continue
                for number, name, position in self._numbers(part):
                    owner = _nearest(matches, position)
                    if owner is None:
                        numbers_without_category.append((number, name))
                    elif owner.category != BLIND_CATEGORY:
                        removed[owner.category] = self._checked(owner, number, name)
        if numbers_without_category and last_category is not None and removed.get(last_category) is None:
            number, name = numbers_without_category[0]
            removed[last_category] = self._checked(_Match(last_category, 0, 0, None), number, name)
        kept = list(dict.fromkeys(c for c in kept if c not in removed))
        if removed or kept or blind or embed is None or self.centroids is None:
            return ParsedPrompt(removed, tuple(kept), blind)
        # Numbers are not read here: with no word to tie them to, they may be anything ("ISO 6400").
        understood = self.centroids.match(embed(prompt))
        if understood.category == BLIND_CATEGORY:
            return ParsedPrompt(blind=True, confidence=understood.confidence, by_words=False)
        return ParsedPrompt({understood.category: None}, confidence=understood.confidence, by_words=False)

    def doubt(self, reading: ParsedPrompt) -> str | None:
        """A warning, one sentence, for a doubtful reading (:attr:`ParsedPrompt.is_doubtful`): its confidence, its
        nearest category, and a prompt that names that category by word; None for any other reading."""
        if not reading.is_doubtful:
            return None
        nearest = "every degradation (blind)" if reading.blind else next(iter(reading.removed))
        example = self._plain_prompt(reading)
        advice = f'name what to remove, e.g. "{example}"' if example else "name what to remove"
        return (
            f"the prompt is understood with low confidence ({reading.confidence:.2f}): none of its words "
            f"names a degradation and its meaning is only weakly nearest to {nearest}; {advice}."
        )

    def _plain_prompt(self, reading: ParsedPrompt) -> str | None:
        """A prompt naming the reading's category by word ("remove the rain", "remove all degradation")."""
        if reading.blind:
            phrases = self.lexicon.blind_phrases
            return f"remove {phrases[0]}" if phrases else None
        category = next(iter(reading.removed))
        nouns = self.lexicon[category].nouns if category in self.lexicon else ()
        return f"remove the {nouns[0]}" if nouns else None

    def _matches(self, part: str, removed_before: Sequence[str] = ()) -> list[_Match]:
        """Lexicon phrases in ``part``, longest first, none overlapping; a phrase several categories list
        goes to the one another phrase of ``part`` names, else to the last of ``removed_before`` (the
        categories removed earlier in the prompt, in order) that lists it, else to the first that lists it."""
        taken = [False] * len(part)
        found_phrases = []
        for pattern, owners in self._phrases:
            for found in pattern.finditer(part):
                if not any(taken[found.start() : found.end()]):
                    taken[found.start() : found.end()] = [True] * (found.end() - found.start())
                    found_phrases.append((found.start(), found.end(), owners))
        matches = [_Match(o[0][0], start, end, o[0][1]) for start, end, o in found_phrases if len(o) == 1]
        shared = [(start, end, dict(o)) for start, end, o in found_phrases if len(o) > 1]
        for start, end, owners in shared:
            named = [m for m in matches if m.category in owners]
            if named:
                category = min(named, key=lambda m: min(abs(start - m.end), abs(m.start - end))).category
            else:
                earlier = [c for c in removed_before if c in owners]
                category = earlier[-1] if earlier else next(iter(owners))
            matches.append(_Match(category, start, end, owners[category]))
        return sorted(matches, key=lambda m: m.start)

    @staticmethod
    def _numbers(part: str) -> list[tuple[float, str, int]]:
        """(value, as written, position) of each number in ``part``."""
        return [
            (float(found.group(1)), found.group(0).strip(), found.start()) for found in _NUMBER.finditer(part)
        ]

    def _checked(self, match: _Match, number: float, written: str) -> float:
        """``number`` on the category's scale (a percentage of a 0-1 range is divided by 100), in range."""
        vocabulary = self.lexicon[match.category]
        if vocabulary.number_range is None:
            raise PromptError(f"{written}: {match.category} takes no number.")
        if written.endswith("%") and vocabulary.number_range[1] <= 1:
            number /= 100
        name = match.number_name or (vocabulary.number_names[0] if vocabulary.number_names else "number")
        try:
            return vocabulary.check_number(number, name)
        except ValueError as error:
            raise PromptError(str(error)) from None


def _nearest(matches: Sequence[_Match], position: int) -> _Match | None:
    """The match closest to ``position``; number names win over nouns at the same distance."""
    if not matches:
        return None
    return min(
        matches,
        key=lambda m: (min(abs(position - m.start), abs(position - m.end)), m.number_name is None),
    )
