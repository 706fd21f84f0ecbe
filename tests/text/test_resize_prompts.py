"""Resolution loss (category ``resize``) in the corpus and the prompt parser: its words, its factor ("4x",
"x4", "4×", "by 3"), sizes that state no factor ("4K", "3x zoom"), and prompts naming it beside others."""

import pytest

from tpir.text.corpus import InstructionCorpus, normalise
from tpir.text.encoder import PromptError
from tpir.text.parsing import PromptParser


@pytest.mark.parametrize(
    ("prompt", "removed"),
    [
        ("undo the 4x downscaling", {"resize": 4.0}),
        ("upscale it 2x", {"resize": 2.0}),
        ("upscale by 3", {"resize": 3.0}),
        ("x4 super-resolution", {"resize": 4.0}),
        ("4× downsampled", {"resize": 4.0}),
        ("Upscale by a factor of 2.5.", {"resize": 2.5}),
        ("It was shrunk 3 times; restore the resolution.", {"resize": 3.0}),
        ("x2", {"resize": 2.0}),
        ("it is low resolution, upscale it", {"resize": None}),
        ("The picture is pretty low-res, could you do something about it?", {"resize": None}),
        # The factor goes to the "x" beside it, not to the category named as near on the other side.
        ("deblur 2x upscaled", {"deblur": None, "resize": 2.0}),
        ("remove the noise of sigma 25 and upscale 2x", {"denoise": 25.0, "resize": 2.0}),
        ("remove JPEG artifacts of quality 20, then upscale x3", {"dejpeg": 20.0, "resize": 3.0}),
    ],
)
def test_resize_is_read_with_its_factor(parser: PromptParser, prompt: str, removed: dict) -> None:
    reading = parser.parse(prompt)
    assert reading.removed == removed and not reading.kept and not reading.blind


def test_a_compound_prompt_names_resize_beside_the_others(parser: PromptParser) -> None:
    reading = parser.parse("remove the blur, noise and JPEG artifacts and upscale it")
    assert set(reading.removed) == {"deblur", "denoise", "dejpeg", "resize"}
    assert set(reading.removed.values()) == {None}


@pytest.mark.parametrize(
    ("prompt", "removed"),
    [("sigma 25", {"denoise": 25.0}), ("remove JPEG artifacts of quality 20", {"dejpeg": 20.0})],
)
def test_other_number_names_keep_their_category(parser: PromptParser, prompt: str, removed: dict) -> None:
    assert parser.parse(prompt).removed == removed


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("upscale 10x", "factor 10 is out of range for resize: expected a number from 1 to 8"),
        ("undo the downscaling by a factor of 0.5", "factor 0.5 is out of range for resize"),
        ("upscale with a scale factor of 9", "scale factor 9 is out of range for resize"),
    ],
)
def test_a_factor_out_of_range_is_refused_with_the_range(
    parser: PromptParser, prompt: str, message: str
) -> None:
    with pytest.raises(PromptError, match=message):
        parser.parse(prompt)


@pytest.mark.parametrize(
    ("prompt", "removed"),
    [
        ("upscale to 4K", {"resize": None}),
        ("upscale this 720p video to 1080p", {"resize": None}),
        ("shot at 3x zoom; remove the grain", {"denoise": None}),
        ("a 640x480 scan of my painting; remove the noise", {"denoise": None}),
        ("a 12 MP photo, upscale it 2x", {"resize": 2.0}),
        ("photo by x; remove the noise", {"denoise": None}),  # a lone "x" is no number name
    ],
)
def test_sizes_and_a_lone_x_state_no_factor(parser: PromptParser, prompt: str, removed: dict) -> None:
    assert parser.parse(prompt).removed == removed


@pytest.mark.parametrize(
    ("prompt", "removed", "kept"),
    [
        # A category's own verb is a removal verb: the part after "keep the grain and" does not keep.
        ("keep the grain and upscale it", {"resize": None}, ("denoise",)),
        ("keep the grain and derain it", {"derain": None}, ("denoise",)),
        # Negated, it is a keep cue.
        ("don't upscale it, just remove the noise", {"denoise": None}, ("resize",)),
        ("no need to upscale, remove the noise", {"denoise": None}, ("resize",)),
        ("the film grain is deliberate, just undo the downscaling", {"resize": None}, ("denoise",)),
    ],
)
def test_resize_verbs_are_cues(parser: PromptParser, prompt: str, removed: dict, kept: tuple) -> None:
    reading = parser.parse(prompt)
    assert reading.removed == removed and reading.kept == kept


def test_resize_words_are_its_own(corpus: InstructionCorpus) -> None:
    lexicon = corpus.lexicon
    resize = lexicon["resize"]
    others = {
        phrase
        for category in lexicon
        if category != "resize"
        for phrase in (*lexicon[category].words, *lexicon[category].number_names)
    }
    assert not set(resize.words + resize.number_names) & others
    assert {"pixelation", "pixelated"} <= set(lexicon["dejpeg"].nouns)
    assert "resolution" not in resize.words  # "a high-resolution scan of ..." describes the photo
    assert resize.number_range == (1.0, 8.0)


def test_resize_has_enough_sentences_in_disjoint_splits(corpus: InstructionCorpus) -> None:
    train, test = corpus.sentences("train", "resize"), corpus.sentences("test", "resize")
    assert len(train) >= 50 and len(test) >= 20
    assert not {normalise(s) for s in train} & {normalise(s) for s in test}
    assert len(corpus.templates("train", "resize")) >= 8 and len(corpus.templates("test", "resize")) >= 3


def test_the_lexicon_reads_the_resize_test_sentences(corpus: InstructionCorpus, parser: PromptParser) -> None:
    sentences = corpus.sentences("test", "resize")
    right = [s for s in sentences if set(parser.parse(s).removes(corpus.task_categories)) == {"resize"}]
    assert len(right) >= 0.95 * len(sentences), sorted(set(sentences) - set(right))


@pytest.mark.parametrize(
    "names",
    [
        ("deblur", "resize"),
        ("denoise", "resize"),
        ("dejpeg", "resize"),
        ("deblur", "denoise", "dejpeg", "resize"),
    ],
)
def test_compound_sentences_with_resize_are_read_as_labelled(
    corpus: InstructionCorpus, parser: PromptParser, names: tuple[str, ...]
) -> None:
    for split, least in (("train", 4), ("test", 2)):
        sentences = corpus.compounds(split, names)
        assert len(sentences) >= least
        for sentence in sentences:
            assert set(parser.parse(sentence).removes(corpus.task_categories)) == set(names), sentence
