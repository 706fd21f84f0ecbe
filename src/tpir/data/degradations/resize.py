"""Resolution lost by a camera, an app or a website: the image shrunk by a factor, then enlarged back to its
size, so the restoration keeps the image's size and only its detail is missing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from tpir.data.degradations.checks import as_batch, check_range, restore_rank
from tpir.data.degradations.params import DegradationParams, choice, uniform
from tpir.data.transforms import enlarge

# Factors of training samples (2: half the width and height), and the kernels that shrink them, as
# Real-ESRGAN's resize draws them (area, bilinear, bicubic).
RESIZE_FACTOR_RANGE: tuple[float, float] = (1.5, 4.0)
RESIZE_KERNELS: tuple[str, ...] = ("bicubic", "bilinear", "area")


@dataclass(frozen=True)
class ResizeParams(DegradationParams):
    """The image shrunk ``factor`` times with ``kernel``, then enlarged back bicubically; a prompt states the
    factor ("undo the 2x downscaling").

    Attributes:
        factor: how many times smaller each side was, >= 1 (1: unchanged).
        kernel: how it was shrunk: ``bicubic`` or ``bilinear`` (both antialiased, as image libraries shrink),
            or ``area`` (the mean of each block of pixels).
    """

    stated = "factor"
    prompt = "undo the {number:g}x downscaling"

    factor: float
    kernel: str = "bicubic"


def add_resize(
    image: Tensor, generator: torch.Generator, factor: float, kernel: str = "bicubic"
) -> tuple[Tensor, ResizeParams]:
    """Shrink each side ``factor`` times with ``kernel``, then enlarge back bicubically to the same size.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].
        generator: unused (resizing is deterministic); taken like every degradation's.
        factor: >= 1 (default range 1.5-4); the small image is (round(H / factor), round(W / factor)),
            at least 1 pixel.
        kernel: one of ``RESIZE_KERNELS``.

    Returns:
        The image at its own size with the detail of the small one, and the ``ResizeParams`` used.

    Raises:
        ValueError: the image has the wrong shape, ``factor`` is below 1 or ``kernel`` is unknown.
    """
    x, batched = as_batch(image)
    check_range("factor", factor, 1.0)
    if kernel not in RESIZE_KERNELS:
        raise ValueError(f"Expected kernel one of {', '.join(RESIZE_KERNELS)}, got {kernel!r}.")
    height, width = x.shape[-2:]
    small = (max(1, round(height / factor)), max(1, round(width / factor)))
    restored = enlarge(resample(x, small, kernel), (height, width))
    return restore_rank(restored, batched), ResizeParams(float(factor), kernel)


def resample(image: Tensor, size: tuple[int, int], kernel: str) -> Tensor:
    """``image`` (B, 3, h, w) in [0, 1] resized to ``size`` with ``kernel`` of ``RESIZE_KERNELS``: bicubic
    and bilinear antialiased (as image libraries shrink), area the mean of each block (enlarging with it is
    bicubic); clipped to [0, 1]."""
    if kernel == "area" and size[0] <= image.shape[-2]:
        return F.interpolate(image, size=size, mode="area")
    mode = "bicubic" if kernel == "area" else kernel
    return F.interpolate(image, size=size, mode=mode, align_corners=False, antialias=True).clamp(0.0, 1.0)


def sample_resize_params(generator: torch.Generator) -> ResizeParams:
    """A factor uniform in ``RESIZE_FACTOR_RANGE`` (to 0.1) and a kernel of ``RESIZE_KERNELS``."""
    factor = math.floor(uniform(generator, *RESIZE_FACTOR_RANGE) * 10) / 10
    return ResizeParams(factor, choice(generator, RESIZE_KERNELS))
