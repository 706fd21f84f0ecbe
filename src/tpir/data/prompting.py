"""The prompt grammar that writes stage 2's training prompts.

A training sample asks to remove some of the degradations it has (or, to teach the paper's Fig. 7, one it
does not have). Its prompt says so in one of four ways:

- free-form: a corpus sentence of the category (``"Please get rid of the rain."``);
- numeric: a corpus template of the category filled with the degradation's strength
  (``"Denoise with sigma 25."``), or, for several, clauses joined ("remove the rain of density 0.40 and
  the noise of sigma 25");
- compound: a corpus sentence naming exactly those categories (``"Remove the rain and the noise."``) or
  one written from the lexicon's nouns and verbs ("get rid of the haze, the rain and the grain");
- blind: a sentence of the ``blind`` category ("remove all degradation").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

import torch

from tpir.text.corpus import BLIND_CATEGORY, NUMBER_SLOT, InstructionCorpus
from tpir.text.lexicon import join_list

# Openings of written compound prompts; the named degradations follow as a list.
# Share of prompts naming one category that are written from the lexicon ("remove the haze"), as blind
# prompts are resolved (tpir.models.steering), rather than drawn from the corpus.
WRITTEN_SINGLE = 0.25
_OPENINGS = ("remove", "get rid of", "please remove", "clean up", "take out", "can you remove")


@dataclass(frozen=True)
class PromptMix:
    """How stage 2's training samples are degraded and prompted (config ``datamodule.mix``).

    Attributes:
        blind: share of samples prompted "remove all degradation"-style (SPIRE's blind mode).
        composite: share of samples with two or three degradations stacked in physical order.
        numeric: share of prompts naming degradations that state their strengths.
        wrong: share of samples whose prompt names only a degradation they lack (the target is the input).
        absent: chance that a prompt naming degradations a sample has also names each one it lacks.
        understate: chance that a numeric prompt states, for each degradation, a strength drawn below the
            true one; the target then keeps the rest ("sigma 10" on sigma 25 leaves sigma 15 of the same
            noise), so that the number, not only the image, decides how much goes.
        strengths: per task, the (low, high) range its strength is drawn from (sigma on 0-255 for denoise)
            instead of the task's own sampler.
        realistic: share of samples degraded by the realistic chain (blur, resize, noise and JPEG twice in
            random order, :mod:`tpir.data.degradations.realistic`) instead of the tasks' own degradations;
            their prompt names the four (or, with ``blind``, is blind) and their target is clean.
    """

    blind: float = 0.0
    composite: float = 0.0
    numeric: float = 0.0
    wrong: float = 0.0
    absent: float = 0.0
    understate: float = 0.0
    realistic: float = 0.0
    strengths: Mapping[str, Sequence[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for share in fields(self):
            value = getattr(self, share.name)
            if share.name != "strengths" and not 0.0 <= value <= 1.0:
                raise ValueError(f"datamodule.mix.{share.name}={value}; expected a share in [0, 1].")
        if self.blind + self.wrong > 1.0:
            raise ValueError("datamodule.mix: blind + wrong should not exceed 1.")
        for task, span in self.strengths.items():
            if len(span) != 2 or not span[0] < span[1]:
                raise ValueError(f"datamodule.mix.strengths.{task}={list(span)}; expected [low, high].")

    @classmethod
    def from_config(cls, values: Mapping[str, object] | PromptMix) -> PromptMix:
        """The mix of a config mapping; an unknown key is named."""
        if isinstance(values, PromptMix):
            return values
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"datamodule.mix.{unknown[0]}: unknown key; expected some of {', '.join(sorted(known))}."
            )
        return cls(**values)


def pick(options: Sequence, generator: torch.Generator):
    """One element of ``options``, drawn uniformly."""
    return options[int(torch.randint(len(options), (1,), generator=generator))]


class PromptWriter:
    """Writes prompts from one split of a corpus (the training split for training).

    Args:
        corpus: the instruction corpus, with its lexicon.
        split: ``train`` or ``test``.
    """

    def __init__(self, corpus: InstructionCorpus, split: str = "train") -> None:
        self.corpus = corpus
        self.split = split
        self.lexicon = corpus.lexicon

    def takes_number(self, category: str) -> bool:
        """Whether prompts can state a strength for ``category``."""
        return category in self.lexicon and self.lexicon[category].number_range is not None

    def rounded(self, category: str, number: float) -> float:
        """``number`` as a prompt states it (sigma 37.4 -> 37): training degrades with this value, so the
        prompt's number is exact."""
        return float(self.lexicon[category].format_number(number))

    def blind(self, generator: torch.Generator) -> str:
        return pick(self.corpus.sentences(self.split, BLIND_CATEGORY), generator)

    def free(self, category: str, generator: torch.Generator) -> str:
        return pick(self.corpus.sentences(self.split, category), generator)

    def numeric(self, numbers: Mapping[str, float], generator: torch.Generator) -> str:
        """A prompt stating each category's number (benchmark scale), in physical order as given."""
        if len(numbers) == 1:
            ((category, number),) = numbers.items()
            templates = self.corpus.templates(self.split, category)
            if templates:
                return pick(templates, generator).replace(
                    NUMBER_SLOT, self.lexicon[category].format_number(number)
                )
        clauses = []
        for category, number in numbers.items():
            vocabulary = self.lexicon[category]
            noun, name = pick(vocabulary.nouns[:3], generator), pick(vocabulary.number_names[:2], generator)
            clauses.append(f"the {noun} of {name} {vocabulary.format_number(number)}")
        return f"{pick(_OPENINGS, generator)} {join_list(clauses)}"

    def compound(self, categories: Sequence[str], generator: torch.Generator) -> str:
        """A prompt naming every one of ``categories``: a corpus sentence, or one written from the lexicon."""
        sentences = self.corpus.compounds(self.split, categories)
        if sentences and bool(torch.rand(1, generator=generator) < 0.5):
            return pick(sentences, generator)
        nouns = [f"the {pick(self.lexicon[c].nouns[:4], generator)}" for c in categories]
        return f"{pick(_OPENINGS, generator)} {join_list(nouns)}"

    def write(
        self, removed: Sequence[str], numbers: Mapping[str, float] | None, generator: torch.Generator
    ) -> str:
        """A prompt asking to remove ``removed`` (stating ``numbers`` when given): for one category
        free-form, or with :data:`WRITTEN_SINGLE` written from the lexicon; compound for several."""
        if numbers:
            return self.numeric(numbers, generator)
        if len(removed) == 1 and bool(torch.rand(1, generator=generator) >= WRITTEN_SINGLE):
            return self.free(removed[0], generator)
        return self.compound(removed, generator)
