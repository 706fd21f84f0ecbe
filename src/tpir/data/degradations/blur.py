"""Blur made by the camera: a Gaussian defocus, then a linear motion (camera shake)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from kornia.filters import gaussian_blur2d, motion_blur
from torch import Tensor

from tpir.data.degradations.checks import as_batch, check_range, restore_rank
from tpir.data.degradations.params import DegradationParams, choice, uniform

# Blur: half the samples Gaussian (defocus), half linear motion (camera shake); sizes in pixels.
BLUR_SIGMA_RANGE: tuple[float, float] = (0.5, 3.5)
MOTION_LENGTH_RANGE: tuple[int, int] = (5, 21)


@dataclass(frozen=True)
class BlurParams(DegradationParams):
    """A Gaussian blur of ``sigma`` pixels, then a linear motion of ``length`` pixels (0: none of either).

    A prompt states the Gaussian sigma ("deblur with sigma 2"); a motion blur's prompts state no number.

    Attributes:
        sigma: standard deviation of the Gaussian kernel, pixels.
        length: length of the motion path, pixels: 0, or an odd integer of at least 3.
        angle: direction of the motion, degrees counter-clockwise from horizontal.
    """

    stated = "sigma"
    prompt = "deblur with sigma {number:g}"

    sigma: float = 0.0
    length: int = 0
    angle: float = 0.0

    def to_number(self, value: float) -> float | None:
        return value if self.length == 0 else None

    def describe(self) -> str:
        """The numeric prompt, e.g. ``"deblur with sigma 2"``, or ``"remove the motion blur"``."""
        return super().describe() if self.length == 0 else "remove the motion blur"


def add_blur(
    image: Tensor, generator: torch.Generator, sigma: float = 0.0, length: int = 0, angle: float = 0.0
) -> tuple[Tensor, BlurParams]:
    """Blur by a Gaussian of ``sigma`` pixels, then by a linear motion of ``length`` pixels at ``angle``.

    Both kernels sum to 1 (flat regions keep their value); borders are reflected.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].
        generator: unused (the blur is deterministic); taken like every degradation's.
        sigma: Gaussian standard deviation in pixels, >= 0 (default range 0.5-3.5).
        length: motion length in pixels, 0 or an odd integer >= 3 (default range 5-21).
        angle: motion direction, degrees counter-clockwise from horizontal.

    Returns:
        The blurred image, same shape, and the ``BlurParams`` used.

    Raises:
        ValueError: the image has the wrong shape, ``sigma`` is negative or ``length`` is not 0 or odd >= 3.
    """
    x, batched = as_batch(image)
    check_range("sigma", sigma, 0.0)
    if int(length) != length or (length != 0 and (length < 3 or length % 2 == 0)):
        raise ValueError(f"Expected length 0 or an odd integer >= 3, got {length}.")
    if sigma > 0:
        size = 2 * math.ceil(3.0 * sigma) + 1
        x = gaussian_blur2d(x, size, (sigma, sigma), border_type="reflect")
    if length:
        x = motion_blur(x, int(length), float(angle), 0.0, border_type="reflect", mode="bilinear")
    return restore_rank(x.clamp(0.0, 1.0), batched), BlurParams(float(sigma), int(length), float(angle))


def sample_blur_params(generator: torch.Generator) -> BlurParams:
    """Half Gaussian (sigma uniform in ``BLUR_SIGMA_RANGE``), half motion (odd length in
    ``MOTION_LENGTH_RANGE``, any direction)."""
    if uniform(generator, 0.0, 1.0) < 0.5:
        return BlurParams(sigma=uniform(generator, *BLUR_SIGMA_RANGE))
    lengths = range(MOTION_LENGTH_RANGE[0] | 1, MOTION_LENGTH_RANGE[1] + 1, 2)
    return BlurParams(length=choice(generator, lengths), angle=uniform(generator, 0.0, 180.0))
