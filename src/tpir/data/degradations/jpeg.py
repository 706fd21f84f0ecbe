"""JPEG compression made by the file: a real encoding and decoding by Pillow."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from tpir.data.degradations.checks import as_batch, restore_rank
from tpir.data.degradations.params import DegradationParams, choice

# JPEG quality factors of training samples (Pillow's scale, 1-95; the benchmarks test 10 to 40).
JPEG_QUALITY_RANGE: tuple[int, int] = (10, 60)
# Chroma subsampling as common encoders (and Pillow's default) do: 4:2:0.
JPEG_SUBSAMPLING = "4:2:0"


@dataclass(frozen=True)
class JpegParams(DegradationParams):
    """JPEG compression; a prompt states its quality factor ("remove JPEG artifacts of quality 20"), lower
    is stronger.

    Attributes:
        quality: Pillow's quality factor, 1 (worst) to 95.
    """

    stated = "quality"
    prompt = "remove JPEG artifacts of quality {number:.0f}"

    quality: int

    def to_number(self, value: int) -> float:
        return float(value)

    def from_number(self, number: float) -> int:
        return round(number)


def add_jpeg(image: Tensor, generator: torch.Generator, quality: int) -> tuple[Tensor, JpegParams]:
    """Encode each image as a real JPEG at ``quality`` (Pillow, 4:2:0 chroma subsampling) and decode it.

    The image is first rounded to 8 bits, as a photo is before it is saved.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].
        generator: unused (compression is deterministic); taken like every degradation's.
        quality: quality factor, an integer in [1, 95] (default range 10-60).

    Returns:
        The decoded image, same shape, and ``JpegParams(quality)``.
    """
    x, batched = as_batch(image)
    if int(quality) != quality or not 1 <= quality <= 95:
        raise ValueError(f"Expected quality an integer in [1, 95], got {quality}.")
    pixels = x.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = []
    for one in pixels:
        stream = io.BytesIO()
        Image.fromarray(one).save(stream, format="JPEG", quality=int(quality), subsampling=JPEG_SUBSAMPLING)
        with Image.open(stream) as jpeg:
            decoded.append(np.asarray(jpeg.convert("RGB")))
    out = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype) / 255.0
    return restore_rank(out, batched), JpegParams(int(quality))


def sample_jpeg_params(generator: torch.Generator) -> JpegParams:
    """A quality factor drawn uniformly among the integers of ``JPEG_QUALITY_RANGE``."""
    return JpegParams(choice(generator, range(JPEG_QUALITY_RANGE[0], JPEG_QUALITY_RANGE[1] + 1)))
