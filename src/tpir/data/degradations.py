"""Synthetic degradations of the scene and the sensor: Gaussian noise, rain streaks and haze, as pure tensor
functions (blur, low light and JPEG, made by the camera and the file, are in :mod:`tpir.data.camera`).

Every function takes images as float tensors, RGB in [0, 1], of shape (3, H, W) or (B, 3, H, W),
returns the same rank, clips its output to [0, 1], and draws any randomness from the
``torch.Generator`` it is given, so the same generator state gives the same output. Each returns
``(degraded, params)``: ``params`` is a frozen dataclass of the numbers used, whose ``describe()``
writes the numeric restoration prompt of SPIRE ("denoise with sigma 25").

The ``sample_*_params`` functions draw parameters from the documented default ranges (the module
constants below). Which task uses which degradation is declared in :mod:`tpir.data.tasks`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale
from kornia.filters import gaussian_blur2d, get_motion_kernel2d
from torch import Tensor

# Noise: sigma on the 0-255 scale, as in the denoising benchmarks.
NOISE_SIGMAS: tuple[float, ...] = (15, 25, 50)

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

# Haze: beta with a depth proxy in [0, 1]; grey airlight with a small random tint.
HAZE_BETA_RANGE: tuple[float, float] = (0.3, 1.5)
HAZE_AIRLIGHT_RANGE: tuple[float, float] = (0.7, 1.0)
HAZE_TINT_MAX = 0.03

# Depth proxy: weight of the vertical ramp against blurred brightness, and the working grid
# (long side, pixels) and blur on which brightness is smoothed, so the cost is size-independent.
DEPTH_RAMP_WEIGHT = 0.6
DEPTH_GRID = 32
DEPTH_BLUR_SIGMA = 2.0


@dataclass(frozen=True)
class NoiseParams:
    """Additive Gaussian noise.

    Attributes:
        sigma: standard deviation on the 0-255 scale.
    """

    sigma: float

    @property
    def number(self) -> float:
        """The strength a prompt states: sigma on the 0-255 scale."""
        return self.sigma

    def with_number(self, number: float) -> NoiseParams:
        """The same noise at the strength ``number`` (sigma)."""
        return replace(self, sigma=float(number))

    def describe(self) -> str:
        """Return the numeric prompt, e.g. ``"denoise with sigma 25"``."""
        return f"denoise with sigma {self.sigma:g}"


@dataclass(frozen=True)
class RainParams:
    """Additive rain streaks.

    Attributes:
        density: fraction of pixels that seed a streak.
        length: streak length in pixels, an odd integer of at least 3.
        angle: streak angle in degrees from vertical; positive leans the top to the right ("/").
        intensity: peak brightness of an isolated full-strength streak, in [0, 1].
        thickness: standard deviation in pixels of the Gaussian blur that widens the streaks.
    """

    density: float
    length: int
    angle: float
    intensity: float
    thickness: float = 0.5

    @property
    def number(self) -> float:
        """The strength a prompt states, in [0, 1]: density over the top of ``RAIN_DENSITY_RANGE``,
        capped at 1 ("rain of density 0.4")."""
        return min(self.density / RAIN_DENSITY_RANGE[1], 1.0)

    def with_number(self, number: float) -> RainParams:
        """The same rain at the stated strength ``number`` in [0, 1] (density ``number`` times the top of
        ``RAIN_DENSITY_RANGE``)."""
        return replace(self, density=float(number) * RAIN_DENSITY_RANGE[1])

    def describe(self) -> str:
        """Return the numeric prompt, e.g. ``"remove rain of density 0.40"`` (the :attr:`number`)."""
        return f"remove rain of density {self.number:.2f}"


@dataclass(frozen=True)
class HazeParams:
    """Atmospheric-scattering haze.

    Attributes:
        beta: scattering coefficient, with depth in [0, 1]; 0 is no haze.
        airlight: grey level of the atmospheric light, in [0, 1].
        tint: largest per-channel deviation of the airlight colour from grey.
    """

    beta: float
    airlight: float
    tint: float = 0.0

    @property
    def number(self) -> float:
        """The strength a prompt states: beta ("haze of thickness 1.2")."""
        return self.beta

    def with_number(self, number: float) -> HazeParams:
        """The same haze at the thickness ``number`` (beta)."""
        return replace(self, beta=float(number))

    def describe(self) -> str:
        """Return the numeric prompt, e.g. ``"remove haze of thickness 1.2"`` (beta)."""
        return f"remove haze of thickness {self.beta:.1f}"


def as_batch(image: Tensor) -> tuple[Tensor, bool]:
    """Check an image and view it as a batch.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].

    Returns:
        The image as (B, 3, H, W) and whether the input had a batch dimension.

    Raises:
        ValueError: if the shape or dtype is not that of an RGB float image.
    """
    if not isinstance(image, Tensor) or image.ndim not in (3, 4) or image.shape[-3] != 3:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"Expected an image of shape (3, H, W) or (B, 3, H, W), got {shape}.")
    if not image.is_floating_point():
        raise ValueError(f"Expected a floating-point image with values in [0, 1], got dtype {image.dtype}.")
    batched = image.ndim == 4
    return (image if batched else image.unsqueeze(0)), batched


def restore_rank(x: Tensor, batched: bool) -> Tensor:
    """``x`` (B, 3, H, W) back to the rank of the input :func:`as_batch` was given."""
    return x if batched else x.squeeze(0)


def check_range(name: str, value: float, low: float, high: float = math.inf) -> None:
    """Raise ValueError naming ``name`` and its expected range unless ``low <= value <= high``."""
    if not low <= value <= high:
        expected = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"Expected {name} {expected}, got {value}.")


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


def estimate_depth_proxy(image: Tensor) -> Tensor:
    """Guess a relative depth map for synthetic haze, far = 1.

    Outdoor photographs are usually farther at the top of the frame, and large bright smooth
    regions (sky, distant haze) are far. The proxy is ``DEPTH_RAMP_WEIGHT`` times a vertical ramp
    (1 on the top row, 0 on the bottom row) plus the rest times the luminance blurred heavily (on a
    ``DEPTH_GRID``-pixel grid with a Gaussian of ``DEPTH_BLUR_SIGMA`` grid cells, about a sixteenth
    of the frame, then upsampled), min-max normalised to [0, 1] per image. It is not metric depth,
    only a plausible ordering that makes haze thicker towards the sky.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1].

    Returns:
        (H, W) for an unbatched image, (B, H, W) for a batch, in [0, 1].

    Raises:
        ValueError: if ``image`` is not (3, H, W) or (B, 3, H, W).
    """
    x, batched = as_batch(image)
    h, w = x.shape[-2:]
    scale = DEPTH_GRID / max(h, w)
    grid = (max(1, round(h * scale)), max(1, round(w * scale)))
    luma = F.interpolate(rgb_to_grayscale(x), size=grid, mode="area")
    size = 2 * math.ceil(3.0 * DEPTH_BLUR_SIGMA) + 1
    luma = gaussian_blur2d(luma, size, (DEPTH_BLUR_SIGMA, DEPTH_BLUR_SIGMA), border_type="replicate")
    brightness = F.interpolate(luma, size=(h, w), mode="bilinear", align_corners=False)
    ramp = torch.linspace(1.0, 0.0, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1)
    depth = DEPTH_RAMP_WEIGHT * ramp + (1.0 - DEPTH_RAMP_WEIGHT) * brightness  # (B, 1, H, W)
    low = depth.amin(dim=(1, 2, 3), keepdim=True)
    high = depth.amax(dim=(1, 2, 3), keepdim=True)
    depth = ((depth - low) / (high - low).clamp_min(1e-8))[:, 0]
    return depth if batched else depth[0]


def add_haze(
    image: Tensor,
    generator: torch.Generator,
    beta: float,
    airlight: float,
    depth: Tensor | None = None,
    tint: float = 0.0,
) -> tuple[Tensor, HazeParams]:
    """Add haze by the atmospheric scattering model ``I = J t + A (1 - t)``, ``t = exp(-beta d)``.

    The airlight ``A`` is grey at ``airlight`` plus, per channel, an offset drawn uniformly in
    [-``tint``, ``tint``] from ``generator``, one airlight for the whole batch (three numbers are
    always drawn, so the generator advances the same way whatever ``tint`` is). ``beta = 0``
    returns the input unchanged.

    Args:
        image: (3, H, W) or (B, 3, H, W), RGB in [0, 1] (the clean scene ``J``).
        generator: source of the airlight tint.
        beta: scattering coefficient, >= 0 (default range 0.3-1.5 with depth in [0, 1]).
        airlight: grey level of the atmospheric light, in [0, 1] (default range 0.7-1.0).
        depth: relative depth ``d`` in [0, 1], (H, W) or (B, H, W); None uses
            :func:`estimate_depth_proxy`.
        tint: largest per-channel airlight offset, >= 0 (default range 0-0.03).

    Returns:
        The hazy image, same shape as ``image``, and the ``HazeParams`` used.

    Raises:
        ValueError: if ``image`` or ``depth`` has the wrong shape or a parameter is out of range.
    """
    x, batched = as_batch(image)
    check_range("beta", beta, 0.0)
    check_range("airlight", airlight, 0.0, 1.0)
    check_range("tint", tint, 0.0)
    b, _, h, w = x.shape
    if depth is None:
        d = estimate_depth_proxy(x)
    elif depth.shape in ((h, w), (b, h, w)):
        d = depth.to(device=x.device, dtype=x.dtype)
    else:
        raise ValueError(f"Expected depth of shape {(h, w)} or {(b, h, w)}, got {tuple(depth.shape)}.")
    d = d.view(-1, 1, h, w)
    offsets = torch.rand(3, generator=generator, device=generator.device) * 2.0 - 1.0
    light = (airlight + tint * offsets).clamp(0.0, 1.0).to(device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    t = torch.exp(-beta * d)
    hazy = (x * t + light * (1.0 - t)).clamp(0.0, 1.0)
    return restore_rank(hazy, batched), HazeParams(beta=beta, airlight=airlight, tint=tint)


def uniform(generator: torch.Generator, low: float, high: float) -> float:
    """A number drawn uniformly in [low, high) from ``generator``."""
    return low + (high - low) * torch.rand((), generator=generator, device=generator.device).item()


def choice(generator: torch.Generator, options: Sequence[Any]) -> Any:
    """One of ``options``, drawn uniformly from ``generator``."""
    return options[int(torch.randint(len(options), (), generator=generator, device=generator.device))]


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


def sample_haze_params(generator: torch.Generator) -> HazeParams:
    """Draw beta and airlight uniformly from ``HAZE_BETA_RANGE`` and ``HAZE_AIRLIGHT_RANGE``.

    Args:
        generator: source of the draws.

    Returns:
        ``HazeParams`` within the default ranges, with ``tint = HAZE_TINT_MAX``.
    """
    return HazeParams(
        beta=uniform(generator, *HAZE_BETA_RANGE),
        airlight=uniform(generator, *HAZE_AIRLIGHT_RANGE),
        tint=HAZE_TINT_MAX,
    )
