"""Haze by the atmospheric scattering model, over a depth guessed from the image."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale
from kornia.filters import gaussian_blur2d
from torch import Tensor

from tpir.data.degradations.checks import as_batch, check_range, restore_rank
from tpir.data.degradations.params import DegradationParams, uniform

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
class HazeParams(DegradationParams):
    """Atmospheric-scattering haze; a prompt states beta as its thickness ("remove haze of thickness 1.2").

    Attributes:
        beta: scattering coefficient, with depth in [0, 1]; 0 is no haze.
        airlight: grey level of the atmospheric light, in [0, 1].
        tint: largest per-channel deviation of the airlight colour from grey.
    """

    stated = "beta"
    prompt = "remove haze of thickness {number:.1f}"

    beta: float
    airlight: float
    tint: float = 0.0


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
