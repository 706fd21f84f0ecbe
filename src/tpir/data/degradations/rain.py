"""Rain streaks added on top of an image, as in Rain100L (rainy >= clean)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d, get_motion_kernel2d
from torch import Tensor

from tpir.data.degradations.checks import as_batch, check_range, restore_rank
from tpir.data.degradations.params import DegradationParams, choice, uniform

# Rain, tuned against the streak layers (rainy - clean) of RainTrainL (Rain100L's training pairs)
# at 481x321: by eye (tapered streaks 20-45 px long, 1-3 px wide, within 35 degrees of vertical)
# and by statistics (median layer mean about 0.02, a fifth of pixels brightened by over 0.02,
# 99th percentile about 0.25), which the default ranges span from light to heavy rain.
RAIN_DENSITY_RANGE: tuple[float, float] = (0.002, 0.007)
RAIN_LENGTH_RANGE: tuple[int, int] = (21, 45)
RAIN_ANGLE_RANGE: tuple[float, float] = (-35.0, 35.0)
RAIN_INTENSITY_RANGE: tuple[float, float] = (0.3, 0.6)
RAIN_THICKNESS_RANGE: tuple[float, float] = (0.4, 0.7)
# Seed brightness is u ** RAIN_SEED_GAMMA, u uniform in [0, 1): most real streaks are faint.
RAIN_SEED_GAMMA = 3.0


@dataclass(frozen=True)
class RainParams(DegradationParams):
    """Additive rain streaks; a prompt states their density on [0, 1] ("remove rain of density 0.40"): the
    density over the top of ``RAIN_DENSITY_RANGE``, capped at 1.

    Attributes:
        density: fraction of pixels that seed a streak.
        length: streak length in pixels, an odd integer of at least 3.
        angle: streak angle in degrees from vertical; positive leans the top to the right ("/").
        intensity: peak brightness of an isolated full-strength streak, in [0, 1].
        thickness: standard deviation in pixels of the Gaussian blur that widens the streaks.
    """

    stated = "density"
    prompt = "remove rain of density {number:.2f}"

    density: float
    length: int
    angle: float
    intensity: float
    thickness: float = 0.5

    def to_number(self, value: float) -> float:
        return min(value / RAIN_DENSITY_RANGE[1], 1.0)

    def from_number(self, number: float) -> float:
        return float(number) * RAIN_DENSITY_RANGE[1]


def _streak_kernel(length: int, angle: float, thickness: float) -> Tensor:
    """Return the footprint of one streak: a tapered, blurred line scaled to a peak of 1.

    Two motion-blur lines at the same angle, of ``length - taper + 1`` and ``taper`` pixels
    (``taper`` about a third of ``length``), convolved give a line of ``length`` pixels whose
    brightness ramps up over its first and last ``taper`` pixels, like Rain100L's streaks.

    Args:
        length: line length in pixels, odd, >= 3.
        angle: degrees from vertical, positive leaning the top to the right.
        thickness: Gaussian blur standard deviation in pixels (0 for none).

    Returns:
        (K, K) kernel, K = ``length + 2 * ceil(3 * thickness)``, maximum 1.
    """
    # kornia's angle turns a horizontal line counter-clockwise; vertical is 90.
    rotation = 90.0 - angle
    taper = (length // 3) | 1
    line = get_motion_kernel2d(length - taper + 1, rotation, 0.0, mode="bilinear")  # (1, L', L')
    if taper >= 3:
        ramp = get_motion_kernel2d(taper, rotation, 0.0, mode="bilinear")
        line = F.conv2d(F.pad(line[None], (taper - 1,) * 4), ramp[None])[0]  # full: (1, L, L)
    radius = math.ceil(3.0 * thickness)
    if radius > 0:
        line = F.pad(line, (radius, radius, radius, radius))
        size = 2 * radius + 1
        line = gaussian_blur2d(line[None], size, (thickness, thickness), border_type="constant")[0]
    return line[0] / line.max()


def add_rain_streaks(
    image: Tensor,
    generator: torch.Generator,
    density: float,
    length: int,
    angle: float,
    intensity: float,
    thickness: float = 0.5,
) -> tuple[Tensor, RainParams]:
    """Add grey-white rain streaks on top of an image, as in Rain100L (rainy >= clean).

    A fraction ``density`` of pixels seed a streak, each with a brightness ``u ** RAIN_SEED_GAMMA``
    (``u`` uniform in [0, 1), so most streaks are faint). The seeds are drawn as tapered lines of
    ``length`` pixels at ``angle``, widened by a Gaussian blur of ``thickness``, scaled so an
    isolated full-brightness streak peaks at ``intensity`` (overlaps are capped there too), and
    the same layer is added to all three channels before clipping. Seeds are drawn on a canvas padded by the streak radius, so
    streaks enter from outside the frame. The streak count grows with the image area and the
    length is in pixels, so larger images get more streaks of the same size.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].
        generator: source of the streak positions and brightnesses.
        density: fraction of pixels seeding a streak, in [0, 1] (default range 0.002-0.007).
        length: streak length in pixels, an odd integer >= 3 (default range 21-45).
        angle: degrees from vertical, positive leaning the top to the right (default range -35 to 35).
        intensity: peak brightness added by a streak, in [0, 1] (default range 0.3-0.6).
        thickness: Gaussian blur standard deviation in pixels, >= 0 (default range 0.4-0.7).

    Returns:
        The rainy image, same shape as ``image``, and the ``RainParams`` used.

    Raises:
        ValueError: if ``image`` has the wrong shape or a parameter is out of range.
    """
    x, batched = as_batch(image)
    check_range("density", density, 0.0, 1.0)
    check_range("intensity", intensity, 0.0, 1.0)
    check_range("thickness", thickness, 0.0)
    if int(length) != length or length < 3 or length % 2 == 0:
        raise ValueError(f"Expected length to be an odd integer >= 3, got {length}.")
    length = int(length)

    kernel = _streak_kernel(length, angle, thickness).to(device=x.device, dtype=x.dtype)
    pad = kernel.shape[-1] // 2
    b, _, h, w = x.shape
    # One uniform draw gives both the seed mask (u < density) and, rescaled, the seed brightness.
    u = torch.rand((b, 1, h + 2 * pad, w + 2 * pad), generator=generator, device=generator.device)
    u = u.to(device=x.device, dtype=x.dtype)
    brightness = (u / max(density, 1e-12)) ** RAIN_SEED_GAMMA
    seeds = torch.where(u < density, brightness, torch.zeros_like(u))
    layer = F.conv2d(seeds, kernel[None, None]).clamp(max=1.0) * intensity  # (B, 1, H, W)
    rainy = (x + layer).clamp(0.0, 1.0)
    params = RainParams(density=density, length=length, angle=angle, intensity=intensity, thickness=thickness)
    return restore_rank(rainy, batched), params


def sample_rain_params(generator: torch.Generator) -> RainParams:
    """Draw rain parameters uniformly from the ``RAIN_*_RANGE`` constants (length: odd integers).

    Args:
        generator: source of the draws.

    Returns:
        ``RainParams`` within the default ranges.
    """
    lengths = range(RAIN_LENGTH_RANGE[0] | 1, RAIN_LENGTH_RANGE[1] + 1, 2)
    return RainParams(
        density=uniform(generator, *RAIN_DENSITY_RANGE),
        length=choice(generator, lengths),
        angle=uniform(generator, *RAIN_ANGLE_RANGE),
        intensity=uniform(generator, *RAIN_INTENSITY_RANGE),
        thickness=uniform(generator, *RAIN_THICKNESS_RANGE),
    )
