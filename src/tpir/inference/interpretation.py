"""A prompt as a restorer takes it: checked, turned into Z, matched to a corpus category and parsed, once.

:class:`Interpreter` does it for one steered model and keeps what it made; :class:`Interpretation` is the
result, with the notes a user should read (a low confidence, what the model cannot do of the prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tpir.data.degradations.resize import ResizeParams
from tpir.models.guidance import TaskEmbeddingGuidance, TextGuidance
from tpir.models.steered import SteeredModel
from tpir.text.classify import CategoryCentroids, CategoryMatch
from tpir.text.corpus import bundled_corpus_dir
from tpir.text.encoder import PromptError, TextEncoder
from tpir.text.lexicon import Lexicon
from tpir.text.parsing import ParsedPrompt, PromptParser

# The factors a photo may be enlarged by before it is restored: those the resize task trains on reach 4.
UPSCALING_RANGE = (1.0, 4.0)


class PromptWarning(UserWarning):
    """A note on a prompt given as a string to ``restore``, whose :class:`Interpretation` the caller never
    sees (``warnings.filterwarnings("ignore", category=PromptWarning)`` silences them)."""


@dataclass(frozen=True)
class Interpretation:
    """A prompt as the model took it, once.

    Attributes:
        text: the prompt, stripped.
        z: its guidance vector (1, D), or None for a model without guidance.
        match: the nearest corpus category and its confidence, when the model has centroids.
        parsed: every degradation the prompt names to remove (with its number) or keep; None when the
            model has no text encoder.
        notes: what the user should know of this interpretation, one sentence each: a low confidence
            (:meth:`PromptParser.doubt`), then what this model cannot do of what the prompt asks.
    """

    text: str
    z: torch.Tensor | None
    match: CategoryMatch | None
    parsed: ParsedPrompt | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """What was understood, for people: the parse (or the nearest category), then the notes."""
        if self.parsed is not None:
            lines = [f'understood "{self.text}" as: {self.parsed.summary()}']
        elif self.match is not None:
            lines = [
                f'understood "{self.text}" as: {self.match.category} (confidence {self.match.confidence:.2f})'
            ]
        else:
            lines = [f'read "{self.text}" (this model does not tell what it understood)']
        return "\n".join([*lines, *(f"note: {note}" for note in self.notes)])


class Interpreter:
    """Interprets prompts for one steered model, each once.

    Args:
        model: the steered model (its guidance makes Z and, trained to, parses prompts).
        tasks: the tasks the model was trained for.
        text_encoder: the frozen text encoder (the guidance's own for text guidance), or None.
        centroids: the corpus categories' centroids under ``text_encoder`` (a model folder's), or None.
    """

    def __init__(
        self,
        model: SteeredModel,
        tasks: list[str],
        text_encoder: TextEncoder | None,
        centroids: CategoryCentroids | None,
    ) -> None:
        self.model = model
        self.tasks = tasks
        self.text_encoder = text_encoder
        self.centroids = centroids
        self._done: dict[tuple[str, str | None], Interpretation] = {}
        self._display_parser: PromptParser | None = None  # the bundled lexicon, for models that parse none

    def check(self, prompt: str) -> str:
        """The prompt, stripped; raises :class:`PromptError` if it is empty or too long to read."""
        prompt = prompt.strip()
        if not prompt:
            raise PromptError('the prompt is empty; say what to remove (e.g. "remove the rain").')
        if self.text_encoder is not None:
            self.text_encoder.check_prompt(prompt)
        return prompt

    @torch.no_grad()
    def __call__(self, prompt: str, task: str | None = None) -> Interpretation:
        """Check, encode, match and parse a prompt, once (repeated calls are cached).

        Args:
            prompt: what to remove, in words.
            task: the image's task when the caller knows it (evaluation); a ``guidance=onehot`` model,
                which reads no text, takes it, else the task the prompt is matched to.

        Raises:
            PromptError: the prompt is empty or too long, or a one-hot model cannot tell its task.
        """
        key = (prompt, task)
        if key not in self._done:
            text = self.check(prompt)
            guidance = self.model.guidance
            reads_text = isinstance(guidance, TextGuidance)
            z = embedding = None
            if reads_text:  # Z starts with the text encoder's embedding: encode once, for Z and the match
                z = guidance([text], torch.zeros(1, dtype=torch.long))
                embedding = z[0, : guidance.encoder.dim]
            elif self.text_encoder is not None:
                embedding = self.text_encoder.encode([text])[0]
            match = None
            if embedding is not None and self.centroids is not None:
                match = self.centroids.match(embedding.cpu())
            if not reads_text:
                z = guidance([text], self._task_ids(text, task, match))
            parsed, notes = self._parse(text, embedding)
            self._done[key] = Interpretation(text, z, match, parsed, notes)
        return self._done[key]

    def _parse(
        self, text: str, embedding: torch.Tensor | None
    ) -> tuple[ParsedPrompt | None, tuple[str, ...]]:
        """What the prompt names, and what of it this model cannot do.

        A model trained to parse prompts (``parsed_tasks``) parses them as in training. Any other model with
        centroids is parsed for the user's sake with the bundled lexicon, and says that numbers, compound
        and keep prompts do not reach it. Either says first when the prompt is matched with low
        confidence (:meth:`PromptParser.doubt`).
        """
        guidance = self.model.guidance
        if self.model.parses_prompts:
            parsed = guidance.parse(text, embedding)
            notes = [guidance.parser.doubt(parsed)]
        elif self.centroids is not None and embedding is not None:
            if self._display_parser is None:
                self._display_parser = PromptParser(
                    Lexicon.from_folders([bundled_corpus_dir()]), self.centroids
                )
            parsed = self._display_parser.parse(text, lambda _: embedding.cpu())
            notes = [self._display_parser.doubt(parsed)]
            if any(number is not None for number in parsed.removed.values()):
                notes.append(
                    "this model reads no numbers (it was trained before strength prompts); the strength is its own guess."
                )
            if len(parsed.removes(self.tasks)) > 1 or parsed.kept:
                notes.append(
                    "this model removes one degradation at a time; it does not read which to keep or remove of several."
                )
        else:
            return None, ()
        unknown = [c for c in (*parsed.removed, *parsed.kept) if c not in self.tasks]
        if unknown:
            notes.append(
                f"this model was not trained for {', '.join(unknown)} (its tasks: {', '.join(self.tasks)})."
            )
        return parsed, tuple(note for note in notes if note is not None)

    def _task_ids(self, prompt: str, task: str | None, match: CategoryMatch | None) -> torch.Tensor:
        """The task id (1,) a one-hot guidance is given; zeros for guidances that read no task."""
        guidance = self.model.guidance
        if not isinstance(guidance, TaskEmbeddingGuidance):
            return torch.zeros(1, dtype=torch.long)
        category = task or (match.category if match else None)
        if category not in guidance.tasks:
            raise PromptError(
                f"this model picks a task from the prompt ({', '.join(guidance.tasks)}), "
                f"but {prompt!r} reads as {category!r}."
            )
        return torch.tensor([guidance.tasks.index(category)])


def upscaling_prompt(prompt: str | None, scale: float, tasks: Sequence[str]) -> str:
    """The prompt of a photo enlarged ``scale`` times before a model of ``tasks`` restores it: ``prompt``
    with the request to undo the enlargement ("remove the rain, and undo the 2x downscaling"), or that
    request alone.

    Raises:
        PromptError: the model was not trained to restore resolution (task ``resize``), or ``scale`` is
            outside :data:`UPSCALING_RANGE`.
    """
    if "resize" not in tasks:
        raise PromptError(
            f"scale {scale:g}: this model was not trained to restore resolution (its tasks: "
            f"{', '.join(tasks)}); expected a model with the task resize."
        )
    low, high = UPSCALING_RANGE
    if not low <= scale <= high:
        raise PromptError(f"scale {scale:g}: expected a factor from {low:g} to {high:g}.")
    request = ResizeParams(scale).describe()
    text = (prompt or "").strip().rstrip(".")
    return f"{text}, and {request}" if text else request
