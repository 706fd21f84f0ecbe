"""Blur, JPEG and low light in the bundled corpus: enough sentences, read by words, numbers in range."""

import pytest

from tpir.text.corpus import InstructionCorpus, normalise
from tpir.text.encoder import PromptError
from tpir.text.parsing import PromptParser

NEW = ("deblur", "dejpeg", "lowlight")


@pytest.mark.parametrize("category", NEW)
def test_each_new_category_has_enough_sentences_in_disjoint_splits(
    corpus: InstructionCorpus, category: str
) -> None:
    train, test = corpus.sentences("train", category), corpus.sentences("test", category)
    assert len(train) >= 55 and len(test) >= 18
    assert not {normalise(s) for s in train} & {normalise(s) for s in test}
    assert len(corpus.templates("train", category)) >= 8 and len(corpus.templates("test", category)) >= 3


@pytest.mark.parametrize("category", NEW)
def test_the_lexicon_reads_the_test_sentences_of_each_new_category(
    corpus: InstructionCorpus, parser: PromptParser, category: str
) -> None:
    sentences = corpus.sentences("test", category)
    right = [s for s in sentences if set(parser.parse(s).removes(corpus.task_categories)) == {category}]
    assert len(right) >= 0.95 * len(sentences), sorted(set(sentences) - set(right))


@pytest.mark.parametrize(
    ("category", "template", "written", "number"),
    [
        ("deblur", "Deblur with sigma {n}.", "2", 2.0),
        ("dejpeg", "Remove JPEG artifacts of quality {n}.", "20", 20.0),
        ("lowlight", "Brighten this photo shot at exposure {n}.", "0.2", 0.2),
        ("lowlight", "Brighten the image at exposure level {n}.", "20%", 0.2),
    ],
)
def test_a_filled_template_gives_its_number(
    corpus: InstructionCorpus, parser: PromptParser, category: str, template: str, written: str, number: float
) -> None:
    assert template in corpus.templates("train", category)
    assert parser.parse(template.replace("{n}", written)).removed == {category: pytest.approx(number)}


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (
            "remove JPEG artifacts of quality 300",
            "300 is out of range for dejpeg: expected a number from 1 to 100",
        ),
        (
            "deblur with blur sigma 8",
            "blur sigma 8 is out of range for deblur: expected a number from 0 to 5",
        ),
        (
            "brighten at exposure level 1.5",
            "exposure level 1.5 is out of range for lowlight: expected a number from 0 to 1",
        ),
    ],
)
def test_a_number_out_of_range_is_refused_with_the_range(
    parser: PromptParser, prompt: str, message: str
) -> None:
    with pytest.raises(PromptError, match=message):
        parser.parse(prompt)


def test_compound_prompts_name_a_new_and_an_old_degradation(
    corpus: InstructionCorpus, parser: PromptParser
) -> None:
    for names in (("deblur", "denoise"), ("dejpeg", "denoise"), ("denoise", "lowlight")):
        for split, least in (("train", 4), ("test", 2)):
            sentences = corpus.compounds(split, names)
            assert len(sentences) >= least
            for sentence in sentences:
                assert set(parser.parse(sentence).removes(corpus.task_categories)) == set(names), sentence
