"""Degradations made by the camera and the file: blur, low light and JPEG compression.

Conventions as :mod:`tpir.data.degradations`: images (3, H, W) or (B, 3, H, W), RGB in [0, 1]; every
function takes a ``torch.Generator`` (blur and JPEG are deterministic and draw nothing), returns
``(degraded, params)`` with a frozen parameter dataclass, and the ``sample_*_params`` functions draw from
the module constants below.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from kornia.filters import gaussian_blur2d, motion_blur
from PIL import Image
from torch import Tensor

from tpir.data.degradations import as_batch, check_range, choice, restore_rank, uniform

# Blur: half the samples Gaussian (defocus), half linear motion (camera shake); sizes in pixels.
BLUR_SIGMA_RANGE: tuple[float, float] = (0.5, 3.5)
MOTION_LENGTH_RANGE: tuple[int, int] = (5, 21)

# JPEG quality factors of training samples (Pillow's scale, 1-95; the benchmarks test 10 to 40).
JPEG_QUALITY_RANGE: tuple[int, int] = (10, 60)
# Chroma subsampling as common encoders (and Pillow's default) do: 4:2:0.
JPEG_SUBSAMPLING = "4:2:0"

# Low light: exposure (share of the normal brightness), gamma of the tone curve, and the Poisson-Gaussian
# noise of the dark sensor signal (variance shot * signal + read ** 2).
LOWLIGHT_EXPOSURE_RANGE: tuple[float, float] = (0.1, 0.4)
LOWLIGHT_GAMMA_RANGE: tuple[float, float] = (1.2, 2.0)
LOWLIGHT_SHOT_RANGE: tuple[float, float] = (0.001, 0.01)
LOWLIGHT_READ_RANGE: tuple[float, float] = (0.002, 0.01)


@dataclass(frozen=True)
class BlurParams:
    """A Gaussian blur of ``sigma`` pixels, then a linear motion of ``length`` pixels (0: none of either).

    Attributes:
        sigma: standard deviation of the Gaussian kernel, pixels.
        length: length of the motion path, pixels: 0, or an odd integer of at least 3.
        angle: direction of the motion, degrees counter-clockwise from horizontal.
    """

    sigma: float = 0.0
    length: int = 0
    angle: float = 0.0

    @property
    def number(self) -> float | None:
        """The strength a prompt states: the Gaussian sigma ("deblur with sigma 2"); None for a motion blur,
        whose prompts state no number."""
        return self.sigma if self.length == 0 else None

    def with_number(self, number: float) -> BlurParams:
        """The same blur with the Gaussian sigma ``number``."""
        return replace(self, sigma=float(number))

    def describe(self) -> str:
        """The numeric prompt, e.g. ``"deblur with sigma 2"``, or ``"remove the motion blur"``."""
        return f"deblur with sigma {self.sigma:g}" if self.length == 0 else "remove the motion blur"


@dataclass(frozen=True)
class JpegParams:
    """JPEG compression.

    Attributes:
        quality: Pillow's quality factor, 1 (worst) to 95.
    """

    quality: int

    @property
    def number(self) -> float:
        """The quality factor a prompt states ("remove JPEG artifacts of quality 20"); lower is stronger."""
        return float(self.quality)

    def with_number(self, number: float) -> JpegParams:
        """The same compression at quality ``number``, rounded."""
        return replace(self, quality=round(number))

    def describe(self) -> str:
        return f"remove JPEG artifacts of quality {self.quality}"


@dataclass(frozen=True)
class LowLightParams:
    """An under-exposed capture: ``exposure * clean ** gamma`` plus Poisson-Gaussian sensor noise.

    Attributes:
        exposure: share of the normal brightness the sensor received, in (0, 1].
        gamma: exponent of the tone curve that darkens the shadows more than the highlights, >= 1.
        shot: variance of the signal-dependent (photon) noise per unit of signal.
        read: standard deviation of the signal-independent (read-out) noise.
    """

    exposure: float
    gamma: float = 1.5
    shot: float = 0.004
    read: float = 0.005

    @property
    def number(self) -> float:
        """The exposure a prompt states ("brighten this photo shot at exposure 0.2"); lower is darker."""
        return self.exposure

    def with_number(self, number: float) -> LowLightParams:
        return replace(self, exposure=float(number))

    def describe(self) -> str:
        return f"brighten the low light of exposure {self.exposure:.2f}"


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


def add_low_light(
    image: Tensor,
    generator: torch.Generator,
    exposure: float,
    gamma: float = 1.5,
    shot: float = 0.004,
    read: float = 0.005,
) -> tuple[Tensor, LowLightParams]:
    """Darken as an under-exposed capture, then add the sensor's signal-dependent noise.

    The dark signal is ``exposure * clean ** gamma`` (a gamma tone curve and a linear exposure scaling, as
    the synthetic low-light data of Lv et al., "Attention guided low-light image enhancement with a large
    scale low-light simulation dataset", IJCV 2021, is made); the noise is Gaussian with variance
    ``shot * signal + read ** 2``, the Poisson-Gaussian model of Foi et al., "Practical Poissonian-Gaussian
    noise modeling and fitting for single-image raw-data", IEEE TIP 2008. Before the noise the mapping is
    monotone: the order of intensities is kept.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].
        generator: source of the noise.
        exposure: share of the normal brightness, in (0, 1] (default range 0.1-0.4).
        gamma: tone-curve exponent, >= 1 (default range 1.2-2.0).
        shot: signal-dependent noise variance per unit signal, >= 0 (default range 0.001-0.01).
        read: signal-independent noise standard deviation, >= 0 (default range 0.002-0.01).

    Returns:
        The dark image, same shape, and the ``LowLightParams`` used.
    """
    x, batched = as_batch(image)
    check_range("exposure", exposure, 1e-6, 1.0)
    check_range("gamma", gamma, 1.0)
    check_range("shot", shot, 0.0)
    check_range("read", read, 0.0)
    signal = exposure * x.clamp(0, 1) ** gamma
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
    dark = (signal + noise * (shot * signal + read**2).sqrt()).clamp(0.0, 1.0)
    return restore_rank(dark, batched), LowLightParams(exposure, gamma, shot, read)


def sample_blur_params(generator: torch.Generator) -> BlurParams:
    """Half Gaussian (sigma uniform in ``BLUR_SIGMA_RANGE``), half motion (odd length in
    ``MOTION_LENGTH_RANGE``, any direction)."""
    if uniform(generator, 0.0, 1.0) < 0.5:
        return BlurParams(sigma=uniform(generator, *BLUR_SIGMA_RANGE))
    lengths = range(MOTION_LENGTH_RANGE[0] | 1, MOTION_LENGTH_RANGE[1] + 1, 2)
    return BlurParams(length=choice(generator, lengths), angle=uniform(generator, 0.0, 180.0))


def sample_jpeg_params(generator: torch.Generator) -> JpegParams:
    """A quality factor drawn uniformly among the integers of ``JPEG_QUALITY_RANGE``."""
    return JpegParams(choice(generator, range(JPEG_QUALITY_RANGE[0], JPEG_QUALITY_RANGE[1] + 1)))


def sample_low_light_params(generator: torch.Generator) -> LowLightParams:
    """Exposure, gamma and noise drawn uniformly from the ``LOWLIGHT_*_RANGE`` constants."""
    return LowLightParams(
        exposure=uniform(generator, *LOWLIGHT_EXPOSURE_RANGE),
        gamma=uniform(generator, *LOWLIGHT_GAMMA_RANGE),
        shot=uniform(generator, *LOWLIGHT_SHOT_RANGE),
        read=uniform(generator, *LOWLIGHT_READ_RANGE),
    )
