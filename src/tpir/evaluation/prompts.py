"""Which prompt each test image gets (``tpir-eval prompts=random|fixed|wrong|blind``).

- ``random``: a sentence of the image's task from the corpus's test split (seeded per image); for a set of
  the realistic chain, one naming its four tasks.
- ``fixed``: one given sentence for every image.
- ``wrong``: a test sentence of another task (the next in ``tasks`` after the set's last one): a wrong prompt
  should change the image little (paper, Fig. 7).
- ``blind``: a test sentence of the blind category ("remove all degradation").
"""

from __future__ import annotations

from collections.abc import Sequence

from tpir.data.evaluation_sets import naming_prompts
from tpir.data.tasks import set_tasks
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
    if mode == "random":
        category, pool = task, naming_prompts(corpus, task)
    else:
        category = _other_task(task, list(tasks)) if mode == "wrong" else BLIND_CATEGORY
        pool = corpus.sentences("test", category)
    if not pool:
        raise ValueError(f"the corpus has no test sentences of category {category!r}.")
    return pool


def _other_task(task: str, tasks: list[str]) -> str:
    """The first of ``tasks`` after the last one a ``task`` set carries that the set does not carry."""
    named = set_tasks(task)
    start = tasks.index(named[-1]) + 1
    others = [t for t in tasks[start:] + tasks[:start] if t not in named]
    if not others:
        raise ValueError(f"prompts.mode=wrong needs a task besides {', '.join(named)}, got {tasks}.")
    return others[0]
