"""Fixed evaluation sets: validation and test images of one task, the same degradation and prompt on every
call."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from tpir.data.batch import EvaluationSample
from tpir.data.prompting import pick
from tpir.data.sources import PairSource
from tpir.data.tasks import set_tasks
from tpir.data.transforms import centre_crop
from tpir.text.corpus import InstructionCorpus


def naming_prompts(corpus: InstructionCorpus, task: str, split: str = "test") -> list[str]:
    """The sentences of ``split`` that name what a set of ``task`` carries (``tpir.data.tasks.set_tasks``): the
    task's own, or for several tasks the compound sentences naming them all, else the lexicon's prompt
    naming them ("remove the blur, the low resolution, the noise and the JPEG artifacts")."""
    tasks = set_tasks(task)
    if len(tasks) == 1:
        return corpus.sentences(split, task)
    return corpus.compounds(split, tasks) or [corpus.lexicon.naming_prompt(tasks)]


class EvaluationSet(Dataset):
    """A fixed evaluation set of one task: sample ``i`` is the same on every call (seeded by ``i``).

    A sample is an :class:`~tpir.data.batch.EvaluationSample`.

    Args:
        name: name of the set (``CBSD68_sigma25``, ``Rain100L``), carried by each sample as ``set``.
        source: the pairs.
        task: task name; ``task_id`` its integer id.
        prompts: sentences the prompt of each sample is drawn from (the corpus's test split).
        seed: base seed of degradations and prompt draws.
        crop: side of a centre crop for speed, or None for whole images.
    """

    def __init__(
        self,
        name: str,
        source: PairSource,
        task: str,
        task_id: int,
        prompts: Sequence[str],
        seed: int,
        crop: int | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.task = task
        self.task_id = task_id
        self.prompts = list(prompts)
        self.seed = seed
        self.crop = crop

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> EvaluationSample:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        lq, gt = self.source.pair(index, generator, None)
        if self.crop is not None:
            lq, gt = (centre_crop(x, self.crop) for x in (lq, gt))
        prompt = pick(self.prompts, generator)
        return {
            "lq": lq,
            "gt": gt,
            "task": self.task_id,
            "prompt": prompt,
            "name": self.source.name(index),
            "set": self.name,
        }
