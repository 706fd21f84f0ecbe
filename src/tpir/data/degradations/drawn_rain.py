"""Rain of a second kind, for out-of-distribution checks only: streaks drawn as anti-aliased line segments
of several depths and screen-blended over the image, under a faint veil of scattered light.

Training rain (:mod:`tpir.data.degradations.rain`) is additive: sparse seeds smeared by one motion kernel
and a Gaussian. This generator shares none of it: each streak is a segment of its own length, width and
brightness, drawn at twice the resolution and shrunk (anti-aliasing), in three depth layers (near streaks
are longer, wider, fainter and more blurred), with the angle drawn per layer around one wind direction;
layers are composed by the screen blend ``1 - (1 - image)(1 - layer)``, which brightens dark regions more
than bright ones, and a veil lifts the image towards grey-white as distant rain does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d
from PIL import Image, ImageDraw
from torch import Tensor

from tpir.data.degradations.checks import as_batch, check_range, restore_rank
from tpir.data.degradations.params import uniform

# Streaks per 10,000 pixels of the farthest layer (nearer layers have a half and a quarter as many).
STREAKS_PER_10K_PIXELS = 10.0
# Per layer, far to near: length range in pixels, width in pixels, peak brightness, blur sigma.
LAYERS = (((8, 20), 1.0, 0.7, 0.3), ((18, 40), 1.6, 0.55, 0.7), ((35, 70), 2.6, 0.4, 1.2))


@dataclass(frozen=True)
class DrawnRain:
    """How heavy and which way the drawn rain falls.

    Attributes:
        amount: scales the number of streaks, 0 (none) to 2 (heavy); 1 is moderate rain.
        wind: direction from vertical in degrees (positive leans the top to the right).
        veil: brightness the veil of distant rain adds, 0 to 0.2.
    """

    amount: float = 1.0
    wind: float = 15.0
    veil: float = 0.05


def add_drawn_rain(image: Tensor, generator: torch.Generator, rain: DrawnRain = DrawnRain()) -> Tensor:
    """Draw rain over ``image`` (3, H, W) or (B, 3, H, W), RGB in [0, 1]; each image of a batch gets its own
    streaks from ``generator``. Returns the rainy image, same shape."""
    x, batched = as_batch(image)
    check_range("amount", rain.amount, 0.0, 2.0)
    check_range("veil", rain.veil, 0.0, 0.2)
    height, width = x.shape[-2:]
    rainy = []
    for one in x:
        out = one * (1 - rain.veil) + rain.veil
        for index, (lengths, stroke, brightness, blur) in enumerate(LAYERS):
            count = round(STREAKS_PER_10K_PIXELS * rain.amount * height * width / 10_000 / 2**index)
            layer = _streaks(height, width, count, lengths, stroke, rain.wind, generator) * brightness
            if blur > 0:
                size = 2 * math.ceil(3 * blur) + 1
                layer = gaussian_blur2d(layer[None, None], size, (blur, blur))[0, 0]
            out = 1 - (1 - out) * (1 - layer.to(out))
        rainy.append(out.clamp(0.0, 1.0))
    return restore_rank(torch.stack(rainy), batched)


def _streaks(
    height: int,
    width: int,
    count: int,
    lengths: tuple[int, int],
    stroke: float,
    wind: float,
    generator: torch.Generator,
) -> Tensor:
    """(H, W) in [0, 1]: ``count`` segments drawn at twice the size, each of random length and brightness,
    at ``wind`` degrees from vertical give or take 6, then shrunk by area."""
    canvas = Image.new("L", (2 * width, 2 * height), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        x0, y0 = uniform(generator, 0, 2 * width), uniform(generator, 0, 2 * height)
        length = 2 * uniform(generator, *lengths)
        angle = math.radians(wind + uniform(generator, -6.0, 6.0))
        x1, y1 = x0 + length * math.sin(angle), y0 + length * math.cos(angle)
        value = int(255 * uniform(generator, 0.4, 1.0))
        draw.line((x0, y0, x1, y1), fill=value, width=max(1, round(2 * stroke)))
    drawn = torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0)
    return F.avg_pool2d(drawn[None, None], 2)[0, 0]
