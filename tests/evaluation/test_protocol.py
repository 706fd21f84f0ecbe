"""Evaluation protocols and prompt modes."""

import pytest
import torch

from tpir.evaluation.prompts import prompt_pool
from tpir.evaluation.protocol import apply_protocol

TASKS = ("denoise", "derain", "dehaze")


def test_paper_protocol_centre_crops_to_multiples_of_16() -> None:
    image = torch.arange(3 * 37 * 50, dtype=torch.float32).reshape(3, 37, 50)
    cropped = apply_protocol(image, "paper")
    assert cropped.shape == (3, 32, 48)
    # Centred: 5 rows and 2 columns trimmed, split as evenly as possible.
    assert torch.equal(cropped, image[:, 2:34, 1:49])


def test_full_protocol_keeps_the_whole_image() -> None:
    image = torch.rand(3, 37, 50)
    assert apply_protocol(image, "full") is image


def test_protocol_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="expected one of paper, full"):
        apply_protocol(torch.rand(3, 32, 32), "crop")
    with pytest.raises(ValueError, match="smaller than 16x16"):
        apply_protocol(torch.rand(3, 10, 40), "paper")


def test_prompt_modes_draw_from_the_right_category(corpus) -> None:
    assert prompt_pool("random", "derain", TASKS, corpus) == corpus.sentences("test", "derain")
    assert prompt_pool("wrong", "derain", TASKS, corpus) == corpus.sentences("test", "dehaze")
    assert prompt_pool("wrong", "dehaze", TASKS, corpus) == corpus.sentences("test", "denoise")
    assert prompt_pool("blind", "denoise", TASKS, corpus) == corpus.sentences("test", "blind")
    assert prompt_pool("fixed", "denoise", TASKS, corpus, " remove the rain ") == ["remove the rain"]


def test_prompt_mode_errors_are_clear(corpus) -> None:
    with pytest.raises(ValueError, match=r"needs prompts\.sentence"):
        prompt_pool("fixed", "denoise", TASKS, corpus)
    with pytest.raises(ValueError, match="expected one of random, fixed, wrong, blind"):
        prompt_pool("noisy", "denoise", TASKS, corpus)
