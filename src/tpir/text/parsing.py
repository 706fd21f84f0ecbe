"""Parsing a prompt: which degradations it asks to remove, which to keep, their numbers, blind mode.

The grammar is small and written here; the words come from the lexicon (``tpir.text.lexicon``):

1. The prompt is cut into segments at punctuation and at "but", "while", "whereas", "instead", and each
   segment into parts at "and", "&", "plus", "as well as", "then", "also". A segment that names no
   degradation, such as a description of the scene ("a child on a swing in the park; remove the noise"),
   changes nothing: the same instruction reads the same with or without one (but see point 4).
2. A part with a keep cue keeps what it names; a part with a removal verb (a general one, "remove", or
   a category's verb of the lexicon, "upscale", which negated is a keep cue: "don't upscale") removes it;
   any other part does what the part before it in the same segment did (removal at the start of a
   segment): "remove the rain and the noise" removes both, "keep the grain and the rain" keeps both, "no
   need to denoise, just the rain" keeps the noise and removes the rain. Keep cues are asked ("keep",
   "leave", "no need to", "don't touch", "except"), liked ("I love the grain", "I don't mind the fog",
   "fine with the blur") or said of the degradation ("the fog is intentional", "the grain is deliberate",
   "on purpose", "an artistic choice", "the haze can stay"); a negated one ("the noise is not
   intentional") is no cue. A part holding both kinds of cue is cut where the cue changes, each clause
   doing what its own cue says: a cue said of a degradation governs the one named just before it, any
   other cue what follows it ("the fog is intentional fix the noise", "remove everything except the
   grain"); a removal verb right after a keep cue is negated by it ("no need to remove the grain"). A keep
   cue of a pronoun in a part that names nothing ("the grain? keep it") keeps the degradation named just
   before, unless a cue asked to remove it ("remove the rain and the noise, keep it" removes both).
3. A part names a category by a noun, verb or number name of the lexicon (longest phrase first); a number
   in a part belongs to the category named nearest to it ("sigma=25", "σ 25" and "25 sigma" all read
   sigma 25; "4x", "x4" and "4×" read a factor 4 by the number name "x"), a number in a part that names
   none to the category removed last before it ("denoise, 25"), and one before any category to nothing
   (a description's "my 2 kids on the beach; remove the noise"); sizes ("4K", "1080p", "3x zoom") are no
   number (``tpir.text.numbers``). A number outside the category's range is refused with the range. A
   phrase that several categories list ("sigma": noise and blur) names the one of them that another word
   of the same part names ("deblur with sigma 2"), else the one removed last before it ("deblur, sigma
   2"), else the first that lists it in the lexicon ("sigma 25" is noise).
4. A blind phrase ("all degradation", "everything") asks to remove every degradation but the kept ones.
   So does a general request to improve the photo ("enhance this photo", "make it look better", "improve
   the quality", "restore this old photo", "fix this image") when the prompt names nothing to remove:
   "enhance it by removing the rain" removes the rain only, and "improve the JPEG quality" names JPEG by
   its number name. Bare "fix it" or "clean it up" is no such request: it follows a complaint that
   names one degradation, often in words the lexicon lacks ("too grainy, clean it up"). A description's
   words count too: "my restored old car; keep the grain" removes nothing by name and so reads blind.
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
from itertools import pairwise

import torch

from tpir.text.classify import CategoryCentroids
from tpir.text.corpus import BLIND_CATEGORY, Prompt
from tpir.text.lexicon import Lexicon
from tpir.text.numbers import checked_number, prepared_prompt, stated_numbers

_SEGMENT_BREAK = re.compile(r"[,;!?]|\.(?!\d)|\b(?:but|while|whereas|instead|however)\b")
_PART_BREAK = re.compile(r"&|\b(?:and|plus|as well as|then|also)\b")
# Keep cues that govern what follows them: asked ("keep the grain", "no need to"), liked ("I love the grain",
# "love the fog", not "I'd love the fog gone" nor "looks like static"), accepted ("I don't mind the fog").
_KEEP_CUE = re.compile(
    r"\b(?:keep|keeping|leave|leaving|preserve|retain|spare|no need|not necessary|except|apart from|not the"
    r"|without (?:touching|removing|changing|affecting|losing|hurting|ruining|killing)"
    r"|(?:don't|do not|dont|never)\s+(?:remove|touch|change|fix|clean|get rid|take|mind)"
    r"|(?<!not )(?<!n't )(?:fine|ok|okay|happy|good|cool|alright) with)\b"
    r"|(?:^\s*|\b(?:i|we)\s+(?!(?:would|wd|could|should|might|dont|didnt|never|not|no|feel|felt|look|seem)\b)(?:\w+\s+)?)"
    r"(?:love|like|adore|enjoy|dig)\b"
)
# Keep cues said of the degradation named just before them ("the fog is intentional", "the grain can stay",
# "the fog is pretty", not "the photo is pretty blurry").
_KEEP_PREDICATE = re.compile(
    r"\b(?:stay|stays|remain|remains|untouched|as it is|as is|kept(?! (?:out|away|down|off|low))"
    r"|(?<!not )(?<!n't )(?<!never )(?:intentional|intentionally|intended|deliberate|deliberately|on purpose"
    r"|purposely|purposeful|artistic|stylistic|by design|creative choice|style choice|aesthetic choice"
    r"|part of the (?:look|style|mood|charm|atmosphere|aesthetic|vibe|feel|scene)"
    r"|(?:adds?|gives?(?: it)?) (?:a |some |the )?(?:\w+ )?(?:mood|atmosphere|character|charm|drama|feel|vibe|look)"
    r"|the (?:whole )?point|meant to be there|supposed to be there"
    r"|(?:is|are|'s|was|looks|seems) (?:fine|ok|okay|nice|cool|great|good|beautiful|lovely|wanted"
    r"|pretty(?!\s+(?!(?:nice|cool|good|great|neat|lovely|beautiful|awesome)\b)[^\W\d_]))))\b"
)
# A keep cue of a pronoun ("the grain gives it a vibe, keep it") keeps the degradation named just before.
_KEEP_PRONOUN = re.compile(
    r"\b(?:keep|leave|preserve|(?:don't|do not|dont) (?:remove|touch))\s+(?:it|that|them|those)"
    r"(?:\s+(?:alone|as is|as it is|in|there|please|pls|though|tho|too))*\s*$"
)
_REMOVE_CUE = re.compile(
    r"\b(?:remove|removed|removing|get rid|getting rid|take out|take away|clear|clean|erase|eliminate|fix"
    r"|reduce|strip|wipe|lose|without)\b"
)
# Words between a keep cue and a removal verb that leave the verb negated: "no need (for you) to remove".
_NEGATED_VERB_GAP = re.compile(r"\s*(?:(?:to|for|you|me|us|it|them|even|bother|try|really)\s+)*")
# A general request to improve the photo (grammar point 4): blind when the prompt names nothing to remove.
_PHOTO = r"(?:photo|photograph|image|picture|pic|shot|scan|snapshot|selfie|portrait|frame)s?"
_IMPROVE_REQUEST = re.compile(
    r"\b(?:enhanc\w*|improv\w*|restor\w*|repair\w*|retouch\w*|touch(?:ed|ing)? (?:it |this )?up|touch-up"
    r"|beautif\w*|polish|spruce (?:it |this )?up|revive|back to life|upgrade"
    r"|better|nicer|prettier|best|good as new|look (?:more |really |so )?(?:good|great|nice|amazing|professional)"
    r"|like a (?:pro|professional)"
    r"|(?:high|higher|top|max|maximum|full|good) quality"
    r"|(?:fix|clean|clean up|clear up|sort out|tidy up) (?:up )?(?:this|that|my|our|the|your) "
    rf"(?:(?:old|whole|entire|damaged|poor|bad|ruined|little) )?{_PHOTO})\b"
)
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


def reads_as_labelled(reading: ParsedPrompt, prompt: Prompt) -> bool:
    """Whether ``reading`` does what the corpus labels ``prompt`` with: a blind sentence is read as blind and
    names nothing to remove or keep (its training target is the clean image); any other removes exactly the
    categories of its label, and, with a ``keep:`` tag, keeps exactly those (without one, what it keeps is
    not checked)."""
    if prompt.category == BLIND_CATEGORY:
        return reading.blind and not reading.removed and not reading.kept
    removes = not reading.blind and set(reading.removed) == set(prompt.names)
    return removes and (not prompt.kept or set(reading.kept) == set(prompt.kept))


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
            (re.compile(_phrase_pattern(phrase)), tuple(owners[phrase].items()))
            for phrase in sorted(owners, key=lambda p: -len(p))
        ]
        # A category's own verb is a removal verb ("keep the grain and upscale it"); negated, a keep cue.
        verbs = sorted({v for vocabulary in lexicon.vocabularies.values() for v in vocabulary.verbs}, key=len)
        verb = rf"(?:{'|'.join(map(re.escape, reversed(verbs))) or '(?!)'})(?![\w-])"
        self._verb = re.compile(rf"(?<![\w-]){verb}")
        self._negated_verb = re.compile(rf"\b(?:don't|do not|dont|never)\s+{verb}")

    def parse(self, prompt: str, embed: Callable[[str], torch.Tensor] | None = None) -> ParsedPrompt:
        """Read ``prompt``.

        Args:
            prompt: the user's words.
            embed: the prompt's embedding (D,) on demand, for prompts the lexicon finds nothing in.

        Raises:
            PromptError: a number outside its category's range, naming the range.
        """
        text = prepared_prompt(prompt)
        removed: dict[str, float | None] = {}
        kept: list[str] = []
        blind = False
        # Numbers in no part that names a category, with the category removed last before them: the
        # first goes to it ("denoise, 25"); one before any (a description's "my 2 kids") goes nowhere.
        numbers_without_category: list[tuple[float, str, str]] = []
        last_category: str | None = None  # the category removed last
        last_named: str | None = None  # the category named last, removed or kept
        unasked: str | None = None  # the category named last, if in a segment without a cue before it
        asks_to_improve = False
        for segment in _SEGMENT_BREAK.split(text):
            keeping, cued = False, False
            for part in (c for p in _PART_BREAK.split(segment) for c in self._clauses(p)):
                cue = self._cue(part)
                keeping = keeping if cue is None else cue
                cued = cued or cue is not None
                asks_to_improve = asks_to_improve or (not keeping and bool(_IMPROVE_REQUEST.search(part)))
                matches = self._matches(part, tuple(removed))
                if keeping and not matches and unasked == last_named and _KEEP_PRONOUN.search(part):
                    matches = [
                        _Match(unasked, 0, 0, None)
                    ]  # "the fog, keep it", not "remove the fog, keep it"
                for match in matches:
                    last_named = match.category
                    unasked = None if cued else match.category
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
                for number, name, span in stated_numbers(part):
                    owner = _nearest(matches, span)
                    if owner is None:
                        if last_category is not None:
                            numbers_without_category.append((number, name, last_category))
                    elif owner.category != BLIND_CATEGORY:
                        removed[owner.category] = self._checked(owner, number, name)
        if numbers_without_category:
            number, name, category = numbers_without_category[0]
            if category in removed and removed[category] is None:
                removed[category] = self._checked(_Match(category, 0, 0, None), number, name)
        kept = list(dict.fromkeys(c for c in kept if c not in removed))
        blind = blind or (asks_to_improve and not removed)
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

    def _clauses(self, part: str) -> list[str]:
        """``part`` cut where its cue changes between keeping and removing (grammar point 2), or ``[part]``
        when it holds one kind of cue or none."""
        keep = [m.span() for cue in (_KEEP_CUE, self._negated_verb) for m in cue.finditer(part)]
        said_of = [m.span() for m in _KEEP_PREDICATE.finditer(part)]
        removal = [
            m.span()
            for m in (*_REMOVE_CUE.finditer(part), *self._verb.finditer(part))
            if not any(
                start <= m.start() < end
                or (end <= m.start() and _NEGATED_VERB_GAP.fullmatch(part[end : m.start()]))
                for start, end in keep
            )
        ]
        if not (keep or said_of) or not removal:
            return [part]
        # (start, end, keeps, said of what precedes it) of every cue, in order.
        cues = sorted(
            [*((*s, True, False) for s in keep), *((*s, True, True) for s in said_of)]
            + [(*s, False, False) for s in removal]
        )
        named = [m.start for m in self._matches(part)]
        cuts, keeping, previous_end = [0], None, 0
        for start, end, keeps, said in cues:
            if keeps != keeping:
                # A cue said of a degradation starts its clause at the degradation named just before it.
                subjects = [at for at in named if previous_end <= at < start] if said else []
                cuts.append(max(subjects[-1] if subjects else start, cuts[-1]))
                keeping = keeps
            previous_end = end
        cuts.append(len(part))
        return [part[a:b] for a, b in pairwise(cuts) if b > a]

    def _cue(self, clause: str) -> bool | None:
        """True for a clause with a keep cue, False for one with a removal verb, None for one without a cue."""
        if _KEEP_CUE.search(clause) or _KEEP_PREDICATE.search(clause) or self._negated_verb.search(clause):
            return True
        return False if _REMOVE_CUE.search(clause) or self._verb.search(clause) else None

    def _checked(self, match: _Match, number: float, written: str) -> float:
        """``number`` on the scale of the category of ``match``, in range (raises PromptError)."""
        return checked_number(self.lexicon[match.category], number, written, match.number_name)


def _phrase_pattern(phrase: str) -> str:
    """A lexicon phrase as a whole word, plurals too; one of one character ("σ", "x") only beside a number
    ("σ 25", "4 x", "x 4"): alone it is a letter of something else."""
    if len(phrase) > 1:
        return rf"(?<![\w-]){re.escape(phrase)}(?:s|es)?(?![\w-])"
    return rf"(?:(?<=\d)|(?<=\d\s)){re.escape(phrase)}(?![\w-])|(?<![\w-]){re.escape(phrase)}(?=\s*\.?\d)"


def _nearest(matches: Sequence[_Match], span: tuple[int, int]) -> _Match | None:
    """The match closest to the number at ``span`` (start, end); number names win over nouns at the same
    distance ("deblur 2x upscaled": the 2 is the factor of the "x")."""
    if not matches:
        return None
    start, end = span
    return min(matches, key=lambda m: (max(m.start - end, start - m.end, 0), m.number_name is None))
