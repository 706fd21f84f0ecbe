"""tpir: textual-prompt guided all-in-one image restoration.

import tpir
model = tpir.load()   # TPIR_MODEL, else the model the package ships, else outputs/demo/model
restored = model.restore("photo.png", "remove the rain")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from tpir.inference.restorer import Restorer

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def load(
    folder: str | Path | None = None, device: str | torch.device = "cpu", precision: str = "auto"
) -> Restorer:
    """The restorer of a model folder (``tpir-export``; ``make demo`` writes ``outputs/demo/model``).

    Returns a :class:`tpir.inference.restorer.Restorer`: ``.restore(image, prompt)`` takes a path, PIL image,
    numpy array or tensor and returns the same kind. Imported on first call, so ``import tpir`` stays light.
    ``folder`` None takes the commands' default (:func:`tpir.cli.common.choose_model`): ``TPIR_MODEL``,
    else the model the package ships, else ``<output dir>/demo/model``. ``precision`` is ``auto`` (bf16
    where the device computes it natively, else fp32), ``fp32`` or ``bf16``; the choice and its reason are
    ``model.precision``. Which folder and which precision are logged at INFO.
    """
    import logging

    from tpir.cli.common import choose_model
    from tpir.inference.restorer import Restorer

    choice = choose_model(folder, given_as="argument")
    model = Restorer.from_pretrained(choice.folder, device, precision)
    log = logging.getLogger(__name__)
    log.info(choice.summary())
    log.info(model.precision.summary())
    return model
