"""Low light: an under-exposed capture with the dark sensor's signal-dependent noise."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from tpir.data.degradations.checks import as_batch, check_range, restore_rank
from tpir.data.degradations.params import DegradationParams, uniform

# Low light: exposure (share of the normal brightness), gamma of the tone curve, and the Poisson-Gaussian
# noise of the dark sensor signal (variance shot * signal + read ** 2).
LOWLIGHT_EXPOSURE_RANGE: tuple[float, float] = (0.1, 0.4)
LOWLIGHT_GAMMA_RANGE: tuple[float, float] = (1.2, 2.0)
LOWLIGHT_SHOT_RANGE: tuple[float, float] = (0.001, 0.01)
LOWLIGHT_READ_RANGE: tuple[float, float] = (0.002, 0.01)


@dataclass(frozen=True)
class LowLightParams(DegradationParams):
    """An under-exposed capture: ``exposure * clean ** gamma`` plus Poisson-Gaussian sensor noise. A prompt
    states the exposure ("brighten this photo shot at exposure 0.2"); lower is darker.

    Attributes:
        exposure: share of the normal brightness the sensor received, in (0, 1].
        gamma: exponent of the tone curve that darkens the shadows more than the highlights, >= 1.
        shot: variance of the signal-dependent (photon) noise per unit of signal.
        read: standard deviation of the signal-independent (read-out) noise.
    """

    stated = "exposure"
    prompt = "brighten the low light of exposure {number:.2f}"

    exposure: float
    gamma: float = 1.5
    shot: float = 0.004
    read: float = 0.005


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


def sample_low_light_params(generator: torch.Generator) -> LowLightParams:
    """Exposure, gamma and noise drawn uniformly from the ``LOWLIGHT_*_RANGE`` constants."""
    return LowLightParams(
        exposure=uniform(generator, *LOWLIGHT_EXPOSURE_RANGE),
        gamma=uniform(generator, *LOWLIGHT_GAMMA_RANGE),
        shot=uniform(generator, *LOWLIGHT_SHOT_RANGE),
        read=uniform(generator, *LOWLIGHT_READ_RANGE),
    )
