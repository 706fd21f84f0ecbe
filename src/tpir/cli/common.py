"""What every command shares: the default model, loading a model folder for a command, and exit codes.

Exit codes: :data:`EXIT_OK` when all was done; :data:`EXIT_SOME_FAILED` when some inputs failed (each
named on stderr, the others done); :data:`EXIT_SETUP` for a mistake found before any work (a bad
argument, model folder, prompt, device, config value or output folder); :data:`EXIT_INTERRUPTED` on
Ctrl-C.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: tpir-collect and tpir-text start without torch's model code
    import torch

    from tpir.inference.restorer import Restorer

EXIT_OK, EXIT_SOME_FAILED, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 130
# Names the model folder used when a command or tpir.load is given none.
MODEL_ENV = "TPIR_MODEL"


class SetupError(Exception):
    """A mistake found before any work is done (model, prompt, device, output folder): exit 2."""


def output_root() -> Path:
    """Where runs and exported models are (``TPIR_OUTPUT_DIR``, else ``./outputs``)."""
    return Path(os.environ.get("TPIR_OUTPUT_DIR", "outputs"))


def default_model() -> Path:
    """The model used when none is named: ``TPIR_MODEL``, else the one ``make demo`` exports."""
    return Path(os.environ.get(MODEL_ENV) or output_root() / "demo" / "model")


def pick_device(name: str | None) -> torch.device:
    """The device asked for, or CUDA when there is one; raises :class:`SetupError` for missing CUDA."""
    import torch

    if name is not None and str(name).startswith("cuda") and not torch.cuda.is_available():
        raise SetupError(f"--device {name}: CUDA is not available here; use --device cpu.")
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_restorer(folder: Path | None, device: torch.device | str, precision: str = "auto") -> Restorer:
    """The model in ``folder`` (default: :func:`default_model`) on ``device`` in ``precision``; raises
    :class:`SetupError` naming the folder if it is unusable, or the precision."""
    from tpir.inference.folder import ModelFolderError
    from tpir.inference.restorer import Restorer
    from tpir.inference.runtime import PrecisionError

    if folder is None:
        folder = default_model()
        if not folder.is_dir():
            raise SetupError(
                f"no model folder at {folder}: pass --model, set {MODEL_ENV}, or run `make demo`, "
                "which exports one there."
            )
    if not folder.is_dir():
        raise SetupError(f"--model {folder}: no such folder.")
    try:
        return Restorer.from_pretrained(folder, device, precision)
    except ModelFolderError as error:  # its message names the folder
        raise SetupError(f"--model: {error}") from error
    except PrecisionError as error:
        raise SetupError(f"--precision: {error}") from error
