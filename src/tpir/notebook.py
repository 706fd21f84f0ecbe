"""What the notebooks in ``notebooks/`` share: the project root, smoke mode, a model to look at.

Smoke mode (environment variable ``TPIR_NOTEBOOK_SMOKE=1``, set by the test run) makes every notebook
run in seconds on a CPU: small crops, few prompts, and a tiny random model instead of the exported
demo model. Outside smoke mode :func:`notebook_restorer` loads ``outputs/demo/model`` when it exists.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from tpir.cli.common import choose_model
from tpir.data.bundled_photos import bundled_image
from tpir.data.photos import to_float
from tpir.data.tasks import TASKS
from tpir.data.transforms import centre_crop
from tpir.inference.folder import CONFIG_FILE
from tpir.inference.restorer import Restorer
from tpir.models.guidance import TextGuidance
from tpir.text.classify import corpus_centroids
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import TextEncoder, corpus_words, tiny_random_bert

__all__ = [
    "SMOKE_ENV",
    "bundled_crop",
    "find_project_root",
    "notebook_restorer",
    "smoke",
    "tiny_model",
]

SMOKE_ENV = "TPIR_NOTEBOOK_SMOKE"
# The tiny random model of smoke mode (the tests' `model_folder` fixture saves it too).
TINY_BACKBONE = {
    "dim": 8,
    "num_blocks": [1, 1, 1, 1],
    "heads": [1, 2, 4, 8],
    "num_refinement": 1,
    "ffn_expansion": 2.0,
    "guidance_width": 16,
}
TINY_TEXT_WIDTH = 32
_FALSE_VALUES = ("", "0", "false", "no", "off")


def smoke() -> bool:
    """Whether notebooks run in smoke mode: ``TPIR_NOTEBOOK_SMOKE`` set to anything but 0/false/no/off."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() not in _FALSE_VALUES


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding tpir's pyproject.

    Notebooks run with their own folder as working directory (Jupyter, nbmake); this lets them name
    project paths such as ``outputs/demo/model`` relative to the root.

    Returns:
        The project root, or ``start`` itself when no ancestor is the tpir project (an installed copy).
    """
    start = Path.cwd() if start is None else Path(start)
    start = start.resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and 'name = "tpir"' in pyproject.read_text(encoding="utf-8"):
            return folder
    return start


def tiny_model(seed: int = 0, tasks: Sequence[str] | None = None) -> Restorer:
    """A tiny random ``guidance=text`` model whose output differs from its input, built in about a second.

    A tiny random BERT over the corpus words reads the prompts; the centroids are those of the corpus
    train split; the backbone's last projection is perturbed so that restoring changes pixels. It claims
    ``tasks`` (default: every declared task).
    """
    corpus = InstructionCorpus.load()
    bundle = tiny_random_bert(corpus_words(corpus), hidden_size=TINY_TEXT_WIDTH, seed=seed)
    encoder = TextEncoder.from_bundle(bundle)
    with torch.random.fork_rng():  # seeded weights, without touching the caller's random state
        torch.manual_seed(seed)
        restorer = Restorer.assemble(
            list(tasks or TASKS),
            TINY_BACKBONE,
            TextGuidance(encoder),
            encoder,
            corpus_centroids(encoder, corpus),
        )
        torch.nn.init.normal_(restorer.model.backbone.output.weight, std=0.01)
    return restorer


def notebook_restorer(folder: str | Path | None = None) -> Restorer:
    """The model a notebook looks at: the exported folder, or a tiny random one in smoke mode or without it.

    Prints one line saying which model it uses.

    Args:
        folder: an exported model folder (``tpir-export``); a relative path is taken from the project root.
            None: the commands' default (:func:`tpir.cli.common.choose_model`), from the project root.

    Returns:
        The model, on the CPU, in eval mode.

    Raises:
        ModelFolderError: ``folder`` exists but is not a usable model folder.
    """
    choice = choose_model(folder or None, given_as="argument")
    if not choice.folder.is_absolute():
        choice = replace(choice, folder=find_project_root() / choice.folder)
    folder = choice.folder
    if smoke():
        print(f"smoke mode ({SMOKE_ENV}=1): a tiny random model, not {folder}")
        return tiny_model()
    if not (folder / CONFIG_FILE).is_file():
        print(
            f"no model folder at {folder} (run `make demo`): a tiny random model, so restorations mean nothing"
        )
        return tiny_model()
    print(choice.summary())
    return Restorer.from_pretrained(folder)


def bundled_crop(key: str, size: int | None) -> torch.Tensor:
    """The centre crop of a bundled photograph, (3, size, size) RGB in [0, 1]; ``size`` None keeps it whole.

    Args:
        key: a bundled image key, e.g. ``"skimage:coffee.png"`` (see ``BUNDLED_TEST``).
        size: side of the square crop in pixels, at most the image's shorter side.

    Raises:
        ValueError: ``size`` is larger than the image.
    """
    image = to_float(bundled_image(key))
    if size is None:
        return image
    shorter = min(image.shape[-2:])
    if not 0 < size <= shorter:
        raise ValueError(f"crop size must be in [1, {shorter}] for {key}, got {size}.")
    return centre_crop(image, size).contiguous()
