"""Prompt handling on random strings: any text is read, or refused with PromptError; nothing else escapes.

The strings are hypothesis's unicode text (control characters included), long text, and phrases of
lexicon words with odd numbers ("sigma 1e309", "nan", "-5", 400 nines). They go through the path of
``tpir-restore`` (``Restorer.interpret``) of a model that reads prompts by lexicon for display
(``tiny_model``) and of one trained to read them (``parsed_tasks``), and through ``PromptParser.read``.
The same strings on every run (``derandomize``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tpir.data.tasks import TASKS
from tpir.inference.restorer import Restorer
from tpir.models.guidance import TextGuidance
from tpir.notebook import TINY_BACKBONE, tiny_model
from tpir.text.classify import CategoryCentroids
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PromptError
from tpir.text.parsing import PromptParser

EXAMPLES = 500  # per test and model: 2 x 500 through interpret, 500 through PromptParser.read

WORDS = [
    *("remove", "the", "rain", "noise", "haze", "fog", "grain", "sigma", "σ", "density"),
    *("thickness", "level", "keep", "but", "and", "all", "all degradation", "everything"),
    *("don't touch", "no need to", "de-noise", "%", "=", ":", ".", ","),
    *("upscale", "factor", "x", "×", "4x", "x4", "4k", "1080p", "640x480", "zoom"),
]
ODD_NUMBERS = ["1e309", "nan", "inf", "-5", "-0", "0.", ".5", "1e-400", "9" * 400, "٣", "²", "½", "0x1F"]
numbers = st.one_of(st.sampled_from(ODD_NUMBERS), st.integers().map(str), st.floats(allow_nan=True).map(str))
phrases = st.lists(st.one_of(st.sampled_from(WORDS), numbers, st.text(max_size=4)), max_size=16).map(" ".join)
prompts = st.one_of(
    st.text(),
    phrases,
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn"]), max_size=30),
    st.text(min_size=300, max_size=3000),
)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def reading_model() -> Restorer:
    """``tiny_model``'s encoder and centroids with a guidance that reads prompts, as a model trained
    with ``parsed_tasks`` has (random backbone weights: only the prompt path is used)."""
    display = tiny_model()
    guidance = TextGuidance(display.text_encoder, InstructionCorpus.load(), parsed_tasks=list(TASKS))
    return Restorer.assemble(list(TASKS), TINY_BACKBONE, guidance, display.text_encoder, display.centroids)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors on one thread: on a busy machine, waiting for a second thread costs milliseconds an op."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=["display", "reading"])
def model(request: pytest.FixtureRequest) -> Restorer:
    return tiny_model() if request.param == "display" else reading_model()


@pytest.fixture(scope="module")
def parser() -> PromptParser:
    corpus = InstructionCorpus.load()
    centroids = CategoryCentroids(torch.eye(len(corpus.categories)), list(corpus.categories))
    return PromptParser(corpus.lexicon, centroids)


@SETTINGS
@given(prompt=prompts)
def test_the_restore_path_reads_any_text_or_raises_prompt_error(model: Restorer, prompt: str) -> None:
    try:
        read = model.interpret(prompt)
    except PromptError as error:
        assert str(error).strip()
        return
    assert read.z is not None and read.z.ndim == 2 and torch.isfinite(read.z).all()
    assert read.summary().startswith(f'understood "{prompt.strip()}" as: ')


@SETTINGS
@given(prompt=prompts)
def test_the_reader_reads_any_text_or_raises_prompt_error(parser: PromptParser, prompt: str) -> None:
    embedding = torch.linspace(-1, 1, len(parser.centroids.categories))
    try:
        reading = parser.parse(prompt, lambda _: embedding)
    except PromptError as error:
        assert str(error).strip()
        return
    assert 0 <= reading.confidence <= 1
    assert all(number is None or number == number for number in reading.removed.values())  # no NaN
    parser.doubt(reading)
    reading.summary()
