import pytest
import torch

from tpir.data.images import ImageBank
from tpir.data.mixture import TaskMixture, task_cycle
from tpir.data.prompting import PromptWriter
from tpir.data.sources import SyntheticPairs
from tpir.text.corpus import InstructionCorpus


def test_mixture_balances_tasks_and_is_seeded(corpus: InstructionCorpus) -> None:
    bank = ImageBank([torch.randint(0, 256, (3, 50, 60), dtype=torch.uint8)], names=["x"])
    sources = {
        "denoise": [(SyntheticPairs(bank, "denoise"), 1.0)],
        "dehaze": [(SyntheticPairs(bank, "dehaze"), 1.0)],
    }
    prompts = {task: corpus.sentences("train", task) for task in sources}
    mixture = TaskMixture(sources, PromptWriter(corpus), {"denoise": 0, "dehaze": 1}, crop_size=32, length=8)
    samples = [mixture[i] for i in range(8)]
    assert [s["task"] for s in samples] == [0, 1] * 4
    assert all(s["lq"].shape == s["gt"].shape == (3, 32, 32) for s in samples)
    nouns = corpus.lexicon["denoise"].nouns
    assert all(s["named"].tolist() == [True, False] for s in samples[::2])  # denoise, alone
    assert all(  # a corpus sentence, or one written from the lexicon ("remove the noise")
        s["prompt"] in prompts["denoise"] or s["prompt"].endswith(tuple(f" the {noun}" for noun in nouns))
        for s in samples[::2]
    )
    torch.manual_seed(123)  # the global RNG plays no part: a key is the same sample in any process
    assert torch.equal(mixture[0]["lq"], samples[0]["lq"])
    next_epoch = mixture[0 + len(mixture)]  # key 8: image 0 of epoch 1, new crop and noise, same task
    assert next_epoch["task"] == 0 and not torch.equal(next_epoch["lq"], samples[0]["lq"])
    mixture.seed = 1
    assert not torch.equal(mixture[0]["lq"], samples[0]["lq"])


def test_task_shares_give_a_task_more_turns_spread_over_the_cycle(corpus: InstructionCorpus) -> None:
    assert task_cycle(["denoise", "derain", "deblur"], {}) == ["denoise", "derain", "deblur"]
    assert task_cycle(["denoise", "derain", "deblur"], {"denoise": 3, "deblur": 2}) == [
        *("denoise", "derain", "deblur"),
        *("denoise", "deblur"),
        "denoise",
    ]
    bank = ImageBank([torch.randint(0, 256, (3, 50, 60), dtype=torch.uint8)], names=["x"])
    sources = {task: [(SyntheticPairs(bank, task), 1.0)] for task in ("denoise", "dehaze")}
    mixture = TaskMixture(
        sources, PromptWriter(corpus), {"denoise": 0, "dehaze": 1}, 32, length=9, shares={"dehaze": 2}
    )
    assert [mixture[i]["task"] for i in range(9)] == [0, 1, 1] * 3


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ({"derain": 2}, r"task_shares.derain: not a trained task; expected one of denoise, dehaze"),
        ({"dehaze": 0}, r"task_shares.dehaze=0; expected a positive integer"),
        ({"dehaze": 1.5}, r"task_shares.dehaze=1.5; expected a positive integer"),
    ],
)
def test_a_wrong_task_share_is_named(shares: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        task_cycle(["denoise", "dehaze"], shares)
