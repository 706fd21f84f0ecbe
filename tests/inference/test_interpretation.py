"""What a model folder reads of a prompt: numbers and compound prompts reach a model trained on them;
an older model still loads and says what it cannot do."""

from pathlib import Path

import pytest
import torch

from tpir.cli.train import train
from tpir.inference.checkpoints import restorer_from_checkpoint
from tpir.inference.interpretation import PromptWarning
from tpir.inference.restorer import Restorer
from tpir.models.guidance import TextGuidance
from tpir.text.classify import corpus_centroids

STEPS = ("trainer.max_steps=2", "trainer.val_check_interval=2", "degradation=composite", "test_limit=1")


def test_numbers_and_compound_prompts_reach_a_model_that_reads_them(
    compose_config, small_restore_run, tmp_path: Path
) -> None:
    cfg = compose_config(*small_restore_run, *STEPS)
    train(cfg)
    exported = restorer_from_checkpoint(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    model = Restorer.from_pretrained(exported.save_pretrained(tmp_path / "model"))
    low, high = model.interpret("denoise with sigma 15"), model.interpret("denoise with sigma 50")
    assert low.parsed.removed == {"denoise": 15.0} and high.parsed.removed == {"denoise": 50.0}
    assert model.config.estimator["measured"] == ["denoise", "derain", "dehaze"]
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    # The numbers reach the model as the share of the change it keeps: in proportion, on the same image.
    plans = [model.plan_for(image, read) for read in (low, high)]
    assert plans[0].prompt == low.text and plans[0].share > 0
    assert plans[0].share / plans[1].share == pytest.approx(15 / 50, rel=1e-5)
    assert not torch.equal(
        model.restore(image, "denoise with sigma 15"), model.restore(image, "denoise with sigma 50")
    )
    two = model.interpret("remove the rain of density 0.2 and the noise of sigma 40")
    assert two.parsed.removed == {"derain": 0.2, "denoise": 40.0}
    both = model.interpret("remove the rain but keep the grain")
    assert both.parsed.removes(model.tasks) == ["derain"] and both.parsed.kept == ("denoise",)
    assert both.notes == ()
    for loaded in (exported, model):  # the centroids travel with the weights: free-form prompts read alike
        assert torch.equal(loaded.model.guidance.centroids, exported.model.guidance.centroids)


def test_a_model_without_strength_inputs_loads_and_says_what_it_cannot_do(model_folder: Path) -> None:
    model = Restorer.from_pretrained(model_folder)
    read = model.interpret("denoise with sigma 25")
    assert read.parsed.removed == {"denoise": 25.0}
    assert any("reads no numbers" in note for note in read.notes)
    compound = model.interpret("remove the rain and the noise")
    assert any("one degradation at a time" in note for note in compound.notes)
    assert "note: this model reads no numbers" in read.summary()
    with pytest.warns(PromptWarning, match="this model reads no numbers"):  # a string's notes are told
        assert model.restore(torch.rand(3, 16, 16), "denoise with sigma 25").shape == (3, 16, 16)


def test_reading_centroids_are_the_corpus_centroids(tiny_encoder, corpus, tmp_path: Path) -> None:
    guidance = TextGuidance(tiny_encoder, corpus, tmp_path, parsed_tasks=["denoise", "derain", "dehaze"])
    expected = corpus_centroids(tiny_encoder, corpus, tmp_path)  # what tpir-text explain reads with
    assert guidance.categories == list(expected.categories)
    torch.testing.assert_close(guidance.centroids, expected.centroids, atol=1e-5, rtol=0)


def test_a_prompt_without_a_naming_word_is_placed_among_the_model_s_own_tasks(
    tiny_encoder, corpus, tmp_path: Path
) -> None:
    three = TextGuidance(tiny_encoder, corpus, tmp_path, parsed_tasks=["denoise", "derain", "dehaze"])
    one = TextGuidance(tiny_encoder, corpus, tmp_path, parsed_tasks=["derain"])
    assert len(three.categories) > 4  # the corpus knows more categories than these models remove
    sentences = ["make it look nice", *(p.sentence for p in corpus.test if p.is_free_form)]
    placed = [s for s in sentences if not three.parse(s).by_words]
    assert len(placed) >= 3
    for sentence in placed:
        assert set(three.parse(sentence).removed) <= {"denoise", "derain", "dehaze"}
        assert set(one.parse(sentence).removed) <= {"derain"}
