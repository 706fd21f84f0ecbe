"""Additive white Gaussian noise, the denoising benchmarks' degradation (sigma on the 0-255 scale)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from tpir.data.degradations.checks import as_batch, check_range, restore_rank
from tpir.data.degradations.params import DegradationParams, choice

# Noise: sigma on the 0-255 scale, as in the denoising benchmarks.
NOISE_SIGMAS: tuple[float, ...] = (15, 25, 50)


@dataclass(frozen=True)
class NoiseParams(DegradationParams):
    """Additive Gaussian noise; a prompt states its sigma ("denoise with sigma 25").

    Attributes:
        sigma: standard deviation on the 0-255 scale.
    """

    stated = "sigma"
    prompt = "denoise with sigma {number:g}"

    sigma: float


def add_gaussian_noise(image: Tensor, sigma: float, generator: torch.Generator) -> tuple[Tensor, NoiseParams]:
    """Add white Gaussian noise of standard deviation ``sigma / 255``, then clip to [0, 1].

    Noise for a batch is drawn in one call, so on a CPU generator a batch gets the same noise as
    its samples degraded one after another from the same generator state.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].
        sigma: noise standard deviation on the 0-255 scale, >= 0 (benchmarks: 15, 25, 50).
        generator: source of the noise.

    Returns:
        The noisy image, same shape as ``image``, and ``NoiseParams(sigma)``.

    Raises:
        ValueError: if ``image`` is not (3, H, W) or (B, 3, H, W), or ``sigma`` is negative.
    """
    x, batched = as_batch(image)
    check_range("sigma", sigma, 0.0)
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    noisy = (x + noise.to(x.device) * (sigma / 255.0)).clamp(0.0, 1.0)
    return restore_rank(noisy, batched), NoiseParams(sigma=sigma)


def add_poisson_noise(image: Tensor, scale: float, generator: torch.Generator, grey: bool = False) -> Tensor:
    """Add shot noise, the Poisson noise of 8-bit photon counts (``Poisson(255 x) / 255 - x``) times
    ``scale``, then clip to [0, 1]: stronger in bright regions, unlike Gaussian noise (at mid-grey, scale 1
    is about sigma 8 on 0-255). ``grey`` draws it once from the mean of the channels, for all three.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].
        scale: >= 0 (Real-ESRGAN draws 0.05 to 3).
        generator: source of the noise.
        grey: the same noise on every channel.

    Returns:
        The noisy image, same shape.
    """
    x, batched = as_batch(image)
    check_range("scale", scale, 0.0)
    base = x.mean(dim=1, keepdim=True) if grey else x
    counts = torch.poisson(base.clamp(0.0, 1.0).cpu() * 255.0, generator=generator)
    noise = (counts / 255.0 - base.cpu()) * scale
    return restore_rank((x + noise.to(x.device, x.dtype)).clamp(0.0, 1.0), batched)


def sample_noise_params(generator: torch.Generator, sigmas: Sequence[float] = NOISE_SIGMAS) -> NoiseParams:
    """Pick a noise level uniformly from ``sigmas``.

    Args:
        generator: source of the choice.
        sigmas: candidate standard deviations on the 0-255 scale (default 15, 25, 50).

    Returns:
        ``NoiseParams`` with one of ``sigmas``.

    Raises:
        ValueError: if ``sigmas`` is empty.
    """
    if len(sigmas) == 0:
        raise ValueError("Expected at least one sigma to choose from, got none.")
    return NoiseParams(sigma=choice(generator, sigmas))
