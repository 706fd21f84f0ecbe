"""Which prompt each test image gets (``tpir-eval prompts=random|fixed|wrong|blind``).

- ``random``: a sentence of the image's task from the corpus's test split (seeded per image).
- ``fixed``: one given sentence for every image.
- ``wrong``: a test sentence of another task (the next in ``tasks``): a wrong prompt should change the
  image little (paper, Fig. 7).
- ``blind``: a test sentence of the blind category ("remove all degradation").
"""

from __future__ import annotations

from collections.abc import Sequence

from tpir.text.corpus import BLIND_CATEGORY, InstructionCorpus

PROMPT_MODES = ("random", "fixed", "wrong", "blind")


def prompt_pool(
    mode: str, task: str, tasks: Sequence[str], corpus: InstructionCorpus, sentence: str | None = None
) -> list[str]:
    """The sentences the prompt of a ``task`` image is drawn from under ``mode``.

    Raises:
        ValueError: unknown mode, ``fixed`` without a sentence, or a category the corpus lacks.
    """
    if mode not in PROMPT_MODES:
        raise ValueError(f"prompts.mode={mode!r}; expected one of {', '.join(PROMPT_MODES)}.")
    if mode == "fixed":
        if not sentence or not sentence.strip():
            raise ValueError('prompts.mode=fixed needs prompts.sentence (e.g. "remove the rain").')
        return [sentence.strip()]
    if mode == "wrong":
        if len(tasks) < 2:
            raise ValueError(f"prompts.mode=wrong needs at least two tasks, got {list(tasks)}.")
        category = tasks[(list(tasks).index(task) + 1) % len(tasks)]
    else:
        category = BLIND_CATEGORY if mode == "blind" else task
    pool = corpus.sentences("test", category)
    if not pool:
        raise ValueError(f"the corpus has no test sentences of category {category!r}.")
    return pool
