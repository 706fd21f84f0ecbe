"""Training samples ask for a subset of their degradations, and their target is exactly that subset gone."""

import pytest
import torch

from tpir.data.images import ImageBank
from tpir.data.mixture import TaskMixture
from tpir.data.prompting import PromptMix, PromptWriter
from tpir.data.sources import SyntheticPairs
from tpir.text.corpus import InstructionCorpus
from tpir.text.parsing import PromptParser

TASKS = ("denoise", "derain", "dehaze")


def _mixture(corpus: InstructionCorpus, **shares) -> TaskMixture:
    """A mixture of the three tasks on one grey-ish image, with ``PromptMix(**shares)``."""
    grey = torch.full((3, 48, 48), 110, dtype=torch.uint8) + torch.randint(
        0, 30, (3, 48, 48), dtype=torch.uint8
    )
    bank = ImageBank([grey], names=["grey"])
    sources = {task: [(SyntheticPairs(bank, task), 1.0)] for task in TASKS}
    task_ids = {t: i for i, t in enumerate(TASKS)}
    return TaskMixture(sources, PromptWriter(corpus), task_ids, 32, 60, PromptMix(**shares), rotate=False)


def _named(sample: dict) -> list[str]:
    """The tasks a sample's prompt names, from its (T,) flags in the order of ``TASKS``."""
    return [task for task, named in zip(TASKS, sample["named"].tolist(), strict=True) if named]


def _understated_noise(corpus: InstructionCorpus) -> TaskMixture:
    """Noise on a flat grey image, every prompt numeric and stating less than is there."""
    flat = ImageBank([torch.full((3, 48, 48), 128, dtype=torch.uint8)], names=["flat"])
    return TaskMixture(
        {"denoise": [(SyntheticPairs(flat, "denoise"), 1.0)]},
        PromptWriter(corpus),
        {"denoise": 0},
        32,
        10,
        PromptMix(numeric=1.0, understate=1.0, strengths={"denoise": [5, 75]}),
    )


def test_composites_stack_two_or_three_and_the_reader_finds_what_the_prompt_removes(corpus) -> None:
    mixture = _mixture(corpus, composite=1.0, numeric=0.5)
    reader = PromptParser(corpus.lexicon)
    samples = [mixture[i] for i in range(60)]
    assert all(len(s["degradations"].split(",")) in (2, 3) for s in samples)
    by_words = 0
    for sample in samples:
        named, present = _named(sample), sample["degradations"].split(",")
        assert set(named) <= set(present)
        reading = reader.parse(sample["prompt"])
        if not reading.is_empty:  # free-form sentences without a lexicon word are read by embedding
            by_words += 1
            assert set(reading.removes(TASKS)) == set(named), sample["prompt"]
    assert by_words > 40


def test_blind_prompts_target_clean_and_wrong_prompts_target_the_input(corpus) -> None:
    blind = _mixture(corpus, blind=1.0, composite=0.5)
    wrong = _mixture(corpus, wrong=1.0)
    for index in range(9):
        sample = blind[index]
        assert sample["named"].all()
        assert sample["prompt"] in corpus.sentences("train", "blind")
        sample = wrong[index]
        (named,) = _named(sample)
        assert named not in sample["degradations"].split(",")
        assert torch.equal(sample["lq"], sample["gt"])


def test_prompts_may_name_absent_degradations_which_stay_absent(corpus) -> None:
    mixture = _mixture(corpus, absent=1.0)
    for index in range(6):
        sample = mixture[index]
        assert _named(sample) == list(TASKS)  # all of them
        assert len(sample["degradations"].split(",")) == 1 and not torch.equal(sample["lq"], sample["gt"])


def test_numeric_prompts_state_the_strength_the_image_has(corpus) -> None:
    mixture = _mixture(corpus, numeric=1.0, strengths={"denoise": [5, 75]})
    reader = PromptParser(corpus.lexicon)
    sigmas = []
    for index in range(0, 30, 3):  # the denoise samples
        sample = mixture[index]
        stated = reader.parse(sample["prompt"]).removed["denoise"]
        measured = float((sample["lq"] - sample["gt"]).std()) * 255
        assert stated == round(stated) and abs(measured - stated) < 0.2 * stated + 1.5, sample["prompt"]
        sigmas.append(stated)
    assert max(sigmas) - min(sigmas) > 20  # drawn on the continuum, not from 15/25/50


def test_the_mixture_is_seeded(corpus) -> None:
    mixture = _mixture(corpus, composite=0.5, numeric=0.5, wrong=0.1)
    first = [mixture[i] for i in range(6)]
    torch.manual_seed(3)  # nothing but the mixture's seed and the key decides a sample
    again = [mixture[i] for i in range(6)]
    assert all(
        torch.equal(a["lq"], b["lq"]) and a["prompt"] == b["prompt"]
        for a, b in zip(first, again, strict=True)
    )


def test_shares_out_of_range_are_refused(corpus) -> None:
    with pytest.raises(ValueError, match=r"composite=1\.5"):
        _mixture(corpus, composite=1.5)
    with pytest.raises(ValueError, match=r"strengths\.deblur: not a trained task"):
        _mixture(corpus, strengths={"deblur": [0, 1]})


def test_an_understated_strength_leaves_the_rest_of_the_noise_in_the_target(corpus) -> None:
    mixture = _understated_noise(corpus)
    reader = PromptParser(corpus.lexicon)
    for index in range(10):
        sample = mixture[index]
        stated = reader.parse(sample["prompt"]).removed["denoise"]
        true, left = (float(x.std()) * 255 for x in (sample["lq"], sample["gt"]))  # a flat image: all noise
        assert abs(float((sample["lq"] - sample["gt"]).std()) * 255 - stated) < 0.15 * stated + 1.0
        assert abs(true - stated - left) < 0.1 * true + 1.0, (true, stated, left)  # sigma 25, "10": 15 left
        assert stated < true + 1.0  # (true is measured)


def test_samples_say_which_degradations_they_have_and_how_strong(corpus) -> None:
    mixture = _mixture(corpus, composite=0.5, strengths={"denoise": [5, 75]})
    for index in range(12):
        sample = mixture[index]
        present = sample["degradations"].split(",")
        assert sample["present"].tolist() == [float(task in present) for task in TASKS]
        for position, task in enumerate(TASKS):
            assert torch.isfinite(sample["strength"][position]) == (task in present), (task, present)
        if "denoise" in present:  # the number is the noise's sigma, on 0-255
            stated = float(sample["strength"][0])
            assert 5 <= stated <= 75 and stated == round(stated)


def test_targets_say_what_is_left_once_the_named_degradations_are_gone(corpus) -> None:
    mixture = _mixture(corpus, composite=1.0, absent=0.5, strengths={"denoise": [5, 75]})
    cleaned = 0
    for index in range(30):
        sample = mixture[index]
        named, present = _named(sample), sample["degradations"].split(",")
        left = [task for task in present if task not in named]
        assert sample["target_present"].tolist() == [float(task in left) for task in TASKS]
        for position, task in enumerate(TASKS):
            kept = task in left and torch.isfinite(sample["strength"][position])
            assert torch.isfinite(sample["target_strength"][position]) == kept, (task, named, present)
            if kept:  # what stays, stays as strong
                assert sample["target_strength"][position] == sample["strength"][position]
        cleaned += not left
    assert 0 < cleaned < 30  # clean targets ("remove all") and targets that keep something


def test_an_understated_target_keeps_the_rest_of_the_strength(corpus) -> None:
    mixture = _understated_noise(corpus)
    reader = PromptParser(corpus.lexicon)
    for index in range(10):
        sample = mixture[index]
        stated = reader.parse(sample["prompt"]).removed["denoise"]
        true = float(sample["strength"][0])
        if stated < true:
            assert sample["target_present"].tolist() == [1.0]
            assert float(sample["target_strength"][0]) == pytest.approx(true - stated)
        else:
            assert sample["target_present"].tolist() == [0.0]


def test_degradations_hidden_under_others_are_labelled_unknown(corpus) -> None:
    mixture = _mixture(corpus, composite=1.0, strengths={"denoise": [5, 75]})
    seen = 0
    for index in range(30):
        mixture.visible = 0.0
        labels = mixture[index]
        mixture.visible = 0.25
        hidden = mixture[index]
        assert torch.equal(labels["lq"], hidden["lq"]) and labels["prompt"] == hidden["prompt"]  # only labels
        unknown = hidden["present"].isnan()
        assert torch.equal(hidden["present"][~unknown], labels["present"][~unknown])
        assert (labels["present"][unknown] == 1).all() and hidden["strength"][unknown].isnan().all()
        assert not unknown[0]  # noise, the outermost layer here, is never hidden
        seen += int(unknown.any())
    assert seen > 0  # faint rain or haze under noise of sigma up to 75 happens
