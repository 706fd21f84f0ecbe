"""Training objectives of the restoration backbone."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("l1", "psnr")
# Keeps the log finite for a sample restored exactly (the PSNR of an MSE of 1e-8 is 80 dB).
_MSE_FLOOR = 1e-8


def check_loss(loss: str) -> str:
    """``loss`` if it names one of :data:`LOSSES`.

    Raises:
        ValueError: it does not.
    """
    if loss not in LOSSES:
        raise ValueError(f"module.loss={loss!r}: expected one of {', '.join(LOSSES)}.")
    return loss


def restoration_loss(restored: torch.Tensor, target: torch.Tensor, loss: str = "l1") -> torch.Tensor:
    """The training loss of a batch.

    ``l1`` is the mean absolute error over every pixel of the batch (the paper's loss). ``psnr`` is minus
    the samples' mean PSNR, ``mean(10 log10 MSE_i)``: each sample's gradient is divided by its own error,
    so the small errors of one task (a blurred or rainy image is already close to its target) weigh as
    much as the large ones of another (a dark image is far from it), as in a table that averages PSNR
    over sets. It does not suit samples whose target is their input (prompts naming a degradation the
    image lacks, ``datamodule.mix.wrong``): leaving such a sample exactly as it is is worth up to 80 dB,
    and a backbone so trained learns to change nothing.

    Args:
        restored: the backbone's outputs, (B, 3, H, W).
        target: the targets, (B, 3, H, W).
        loss: one of :data:`LOSSES`.

    Returns:
        The loss, a scalar.
    """
    if check_loss(loss) == "l1":
        return F.l1_loss(restored, target)
    mse = (restored.float() - target.float()).square().flatten(1).mean(dim=1)
    return 10 * torch.log10(mse + _MSE_FLOOR).mean()
