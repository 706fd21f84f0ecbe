"""What every command shares: which model folder to use, loading it for a command, and exit codes.

Exit codes: :data:`EXIT_OK` when all was done; :data:`EXIT_SOME_FAILED` when some inputs failed (each
named on stderr, the others done); :data:`EXIT_SETUP` for a mistake found before any work (a bad
argument, model folder, prompt, device, config value or output folder); :data:`EXIT_INTERRUPTED` on
Ctrl-C.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: tpir-collect and tpir-text start without torch's model code
    import torch

    from tpir.inference.restorer import Restorer

EXIT_OK, EXIT_SOME_FAILED, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 130
# Names the model folder used when a command or tpir.load is given none.
MODEL_ENV = "TPIR_MODEL"
# The model folder the wheel ships (package data), when it ships one.
PACKAGED_MODEL = Path(str(resources.files("tpir") / "resources" / "model"))


class SetupError(Exception):
    """A mistake found before any work is done (model, prompt, device, output folder): exit 2."""


def output_root() -> Path:
    """Where runs and exported models are (``TPIR_OUTPUT_DIR``, else ``./outputs``)."""
    return Path(os.environ.get("TPIR_OUTPUT_DIR", "outputs"))


@dataclass(frozen=True)
class ModelChoice:
    """A model folder and what chose it: the argument that named it (``--model``), ``TPIR_MODEL``,
    ``packaged`` (the wheel's own) or ``demo`` (the one ``make demo`` exports)."""

    folder: Path
    origin: str

    def summary(self) -> str:
        """The line a command prints: ``model: <folder> (<origin>)``."""
        return f"model: {self.folder} ({self.origin})"


def choose_model(given: str | Path | None = None, given_as: str = "--model") -> ModelChoice:
    """The model folder to use: ``given`` (named by ``given_as``), else ``TPIR_MODEL``, else the packaged
    model if the wheel has one (:data:`PACKAGED_MODEL`), else ``<output dir>/demo/model``. Whether the
    folder exists is left to the caller."""
    if given is not None:
        return ModelChoice(Path(given), given_as)
    if os.environ.get(MODEL_ENV):
        return ModelChoice(Path(os.environ[MODEL_ENV]), MODEL_ENV)
    if PACKAGED_MODEL.is_dir():
        return ModelChoice(PACKAGED_MODEL, "packaged")
    return ModelChoice(output_root() / "demo" / "model", "demo")


def pick_device(name: str | None) -> torch.device:
    """The device asked for, or CUDA when there is one; raises :class:`SetupError` for missing CUDA."""
    import torch

    if name is not None and str(name).startswith("cuda") and not torch.cuda.is_available():
        raise SetupError(f"--device {name}: CUDA is not available here; use --device cpu.")
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_restorer(choice: ModelChoice, device: torch.device | str, precision: str = "auto") -> Restorer:
    """The model of ``choice`` (:func:`choose_model`) on ``device`` in ``precision``; raises
    :class:`SetupError` naming the folder and what chose it if it is unusable, or the precision."""
    from tpir.inference.folder import ModelFolderError
    from tpir.inference.restorer import Restorer
    from tpir.inference.runtime import PrecisionError

    if not choice.folder.is_dir():
        if choice.origin == "demo":
            raise SetupError(
                f"no model folder at {choice.folder}: pass --model, set {MODEL_ENV}, or run `make demo`, "
                "which exports one there."
            )
        separator = "=" if choice.origin == MODEL_ENV else " "
        raise SetupError(f"{choice.origin}{separator}{choice.folder}: no such folder.")
    try:
        return Restorer.from_pretrained(choice.folder, device, precision)
    except ModelFolderError as error:  # its message names the folder
        raise SetupError(f"{choice.origin}: {error}") from error
    except PrecisionError as error:
        raise SetupError(f"--precision: {error}") from error
