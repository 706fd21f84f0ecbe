"""The degradations of photos as cameras and apps make them: a chain of blur, resizing, noise and JPEG,
applied twice, each time in a random order and at random strengths (Real-ESRGAN's second-order model).

Ranges follow Real-ESRGAN (Wang et al., "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
Synthetic Data", ICCVW 2021, section 3 and its training options), stage by stage:

=============================  ===========================  ===========================
                               first stage                  second stage
=============================  ===========================  ===========================
Gaussian blur                  always, sigma 0.2-3 px       chance 0.8, sigma 0.2-1.5 px
resize (up / down / keep)      chance 0.2 / 0.7 / 0.1       chance 0.3 / 0.4 / 0.3
resize scale                   up 1-1.5, down 0.25-1        up 1-1.2, down 0.3-1
noise: Gaussian or Poisson     0.5 / 0.5                    0.5 / 0.5
Gaussian sigma (0-255)         1-30                         1-25
Poisson scale                  0.05-3                       0.05-2.5
grey noise (same on R, G, B)   chance 0.4                   chance 0.4
JPEG quality                   30-95                        30-95
=============================  ===========================  ===========================

Where this chain departs from Real-ESRGAN: the order of the four steps is drawn anew in each stage (SPIRE's
"random order"; Real-ESRGAN keeps blur, resize, noise, JPEG); blur kernels are isotropic Gaussians only (no
anisotropic, generalised or plateau kernels, no final sinc filter); the first stage shrinks to a scale of
0.25 at least (Real-ESRGAN: 0.15), the largest factor of the ``resize`` task; at least one stage shrinks the
image below its size (so every chain loses resolution); and the image is enlarged back to its own size at the end (bicubic),
as the restoration keeps sizes. Steps after a shrink act on the small image, as an app's JPEG does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from tpir.data.degradations.blur import add_blur
from tpir.data.degradations.checks import as_batch, restore_rank
from tpir.data.degradations.jpeg import add_jpeg
from tpir.data.degradations.noise import add_poisson_noise
from tpir.data.degradations.params import choice, uniform
from tpir.data.degradations.resize import RESIZE_KERNELS, resample
from tpir.data.transforms import enlarge

# The four families of the chain, the names of its steps.
CHAIN_FAMILIES: tuple[str, ...] = ("blur", "resize", "noise", "jpeg")
# The smallest scale the image reaches over the whole chain (a factor of 4).
MIN_SCALE = 0.25
# Below these, a family's change is too faint to tell in the result (see RealisticParams.evident): the
# blur's largest sigma in pixels, the resize's smallest scale, the noise's largest Gaussian sigma on 0-255
# or Poisson scale, the JPEG's lowest quality.
EVIDENT_BLUR_SIGMA = 1.0
EVIDENT_SCALE = 1 / 1.5
EVIDENT_NOISE_SIGMA = 5.0
EVIDENT_POISSON_SCALE = 0.5
EVIDENT_JPEG_QUALITY = 75


@dataclass(frozen=True)
class ChainStage:
    """The draws of one stage of the chain (the module's table)."""

    blur_chance: float
    blur_sigma: tuple[float, float]
    resize_chances: tuple[float, float, float]  # up, down, keep
    scale_up: tuple[float, float]
    scale_down: tuple[float, float]
    noise_sigma: tuple[float, float]
    poisson_scale: tuple[float, float]
    grey_chance: float = 0.4
    gaussian_chance: float = 0.5
    jpeg_quality: tuple[int, int] = (30, 95)


FIRST_STAGE = ChainStage(
    1.0, (0.2, 3.0), (0.2, 0.7, 0.1), (1.0, 1.5), (MIN_SCALE, 1.0), (1.0, 30.0), (0.05, 3.0)
)
SECOND_STAGE = ChainStage(0.8, (0.2, 1.5), (0.3, 0.4, 0.3), (1.0, 1.2), (0.3, 1.0), (1.0, 25.0), (0.05, 2.5))


@dataclass(frozen=True)
class ChainStep:
    """One step of the chain.

    Attributes:
        family: ``blur``, ``resize``, ``noise`` or ``jpeg``.
        value: the blur's sigma in pixels, the resize's scale (the image's side against the input's, after
            the step), the noise's sigma on 0-255 (Gaussian) or scale (Poisson), the JPEG quality.
        kind: the resize kernel; the noise's ``gaussian`` or ``poisson``, with ``-grey`` for noise that is
            the same on the three channels; empty otherwise.
    """

    family: str
    value: float
    kind: str = ""


@dataclass(frozen=True)
class RealisticParams:
    """A drawn chain: its steps in the order they act (two stages).

    Attributes:
        steps: the steps, first stage then second.
    """

    steps: tuple[ChainStep, ...]

    def evident(self) -> dict[str, bool]:
        """Per family, whether its change is strong enough to be told in the result: a blur of sigma
        ``EVIDENT_BLUR_SIGMA`` or more, a scale of ``EVIDENT_SCALE`` or less, noise of Gaussian sigma
        ``EVIDENT_NOISE_SIGMA`` or Poisson scale ``EVIDENT_POISSON_SCALE`` or more, a JPEG quality of
        ``EVIDENT_JPEG_QUALITY`` or less. A degradation estimator is told nothing of the faint ones."""
        found = dict.fromkeys(CHAIN_FAMILIES, False)
        for step in self.steps:
            if step.family == "blur":
                found["blur"] |= step.value >= EVIDENT_BLUR_SIGMA
            elif step.family == "resize":
                found["resize"] |= step.value <= EVIDENT_SCALE
            elif step.family == "noise":
                limit = EVIDENT_POISSON_SCALE if step.kind.startswith("poisson") else EVIDENT_NOISE_SIGMA
                found["noise"] |= step.value >= limit
            else:
                found["jpeg"] |= step.value <= EVIDENT_JPEG_QUALITY
        return found


def sample_realistic_params(generator: torch.Generator) -> RealisticParams:
    """Draw a chain: each stage's steps (the module's table) in an order drawn from ``generator``."""
    steps: list[ChainStep] = []
    scale, shrunk = 1.0, False
    for stage in (FIRST_STAGE, SECOND_STAGE):
        drawn = {}
        if uniform(generator, 0.0, 1.0) < stage.blur_chance:
            drawn["blur"] = ChainStep("blur", uniform(generator, *stage.blur_sigma))
        up, down, _ = stage.resize_chances
        draw = uniform(generator, 0.0, 1.0)
        forced = stage is SECOND_STAGE and not shrunk  # at least one stage shrinks below the input's size
        if forced:
            draw = up
        if draw < up + down:
            factor = uniform(generator, *(stage.scale_up if draw < up else stage.scale_down))
            scale = min(max((min(scale, 1.0) if forced else scale) * factor, MIN_SCALE), 1.5)
            shrunk |= scale < 1
            drawn["resize"] = ChainStep("resize", scale, choice(generator, RESIZE_KERNELS))
        grey = "-grey" if uniform(generator, 0.0, 1.0) < stage.grey_chance else ""
        if uniform(generator, 0.0, 1.0) < stage.gaussian_chance:
            drawn["noise"] = ChainStep("noise", uniform(generator, *stage.noise_sigma), "gaussian" + grey)
        else:
            drawn["noise"] = ChainStep("noise", uniform(generator, *stage.poisson_scale), "poisson" + grey)
        low, high = stage.jpeg_quality
        drawn["jpeg"] = ChainStep("jpeg", float(choice(generator, range(low, high + 1))))
        order = torch.randperm(len(drawn), generator=generator).tolist()
        steps += [list(drawn.values())[i] for i in order]
    return RealisticParams(tuple(steps))


def add_realistic_degradations(
    image: Tensor, generator: torch.Generator, params: RealisticParams | None = None
) -> tuple[Tensor, RealisticParams]:
    """Degrade ``image`` by a realistic chain (drawn from ``generator`` unless given), then enlarge it back.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1]; a batch gets the same chain, its own noise.
        generator: source of the chain and of the noise.
        params: a chain drawn before (:func:`sample_realistic_params`).

    Returns:
        The degraded image, same shape, and the chain.
    """
    x, batched = as_batch(image)
    params = params or sample_realistic_params(generator)
    height, width = x.shape[-2:]
    for step in params.steps:
        if step.family == "blur":
            x, _ = add_blur(x, generator, sigma=step.value)
        elif step.family == "resize":
            x = resample(
                x, (max(1, round(height * step.value)), max(1, round(width * step.value))), step.kind
            )
        elif step.family == "noise":
            x = _add_noise(x, step, generator)
        else:
            x, _ = add_jpeg(x, generator, quality=int(step.value))
    if x.shape[-2:] != (height, width):
        x = enlarge(x, (height, width))
    return restore_rank(x, batched), params


def _add_noise(x: Tensor, step: ChainStep, generator: torch.Generator) -> Tensor:
    """``x`` (B, 3, h, w) with the noise of ``step``: Gaussian of sigma ``value`` on 0-255, or Poisson scaled
    by ``value`` (:func:`~tpir.data.degradations.noise.add_poisson_noise`); grey noise is drawn once for the
    three channels."""
    grey = step.kind.endswith("-grey")
    if step.kind.startswith("poisson"):
        return add_poisson_noise(x, step.value, generator, grey)
    shape = (x.shape[0], 1, *x.shape[-2:]) if grey else x.shape
    noise = torch.randn(shape, generator=generator, dtype=x.dtype) * (step.value / 255.0)
    return (x + noise.to(x.device)).clamp(0.0, 1.0)
