"""Samples of the realistic chain: degraded by four tasks at once, prompted to remove them, target clean."""

import math

import pytest
import torch

from tpir.data.images import ImageBank
from tpir.data.mixture import TaskMixture
from tpir.data.prompting import PromptMix, PromptWriter
from tpir.data.sources import SyntheticPairs
from tpir.text.corpus import InstructionCorpus
from tpir.text.parsing import PromptParser

TASKS = ("denoise", "derain", "deblur", "dejpeg", "resize")
CHAIN = ["deblur", "resize", "denoise", "dejpeg"]


def _mixture(corpus: InstructionCorpus, tasks=TASKS, **shares) -> TaskMixture:
    image = torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    bank = ImageBank([image], names=["texture"])
    sources = {task: [(SyntheticPairs(bank, task), 1.0)] for task in tasks}
    task_ids = {t: i for i, t in enumerate(tasks)}
    return TaskMixture(sources, PromptWriter(corpus), task_ids, 32, 40, PromptMix(**shares), rotate=False)


def test_realistic_samples_name_the_four_tasks_and_their_target_is_clean(corpus) -> None:
    mixture = _mixture(corpus, realistic=1.0)
    parser = PromptParser(corpus.lexicon)
    read_back = 0
    for key in range(40):
        sample = mixture[key]
        named = [t for t, flag in zip(TASKS, sample["named"].tolist(), strict=True) if flag]
        assert set(CHAIN) <= set(named) and sample["degradations"] == ",".join(CHAIN)
        assert not torch.equal(sample["lq"], sample["gt"])
        assert torch.all(sample["target_present"] == 0)
        present = sample["present"].tolist()
        assert present[TASKS.index("derain")] == 0  # not in the chain: known absent
        assert all(present[TASKS.index(t)] == 1 or math.isnan(present[TASKS.index(t)]) for t in CHAIN)
        assert all(math.isnan(v) for v in sample["strength"].tolist())
        reading = parser.parse(sample["prompt"])
        read_back += set(reading.removes(TASKS)) == set(named)
    assert read_back >= 30  # the prompts name what goes, as the parser reads them


def test_the_share_of_realistic_samples_is_about_the_one_asked(corpus) -> None:
    mixture = _mixture(corpus, realistic=0.5)
    chained = sum(mixture[key]["degradations"] == ",".join(CHAIN) for key in range(200))
    assert 70 < chained < 130


def test_realistic_samples_need_the_chains_tasks(corpus) -> None:
    with pytest.raises(ValueError, match=r"realistic.*resize"):
        _mixture(corpus, tasks=("denoise", "deblur", "dejpeg"), realistic=0.2)
