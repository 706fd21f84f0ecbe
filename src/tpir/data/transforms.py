"""Crops, flips and enlargements of training, evaluation and restored images, the same on every image of a
pair.

Images are (..., H, W) tensors; every random transform draws from the ``torch.Generator`` it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def random_window(height: int, width: int, crop: int, generator: torch.Generator) -> tuple[int, int]:
    """Top-left corner of a random crop x crop window inside (height, width)."""
    top = int(torch.randint(max(height - crop, 0) + 1, (1,), generator=generator))
    left = int(torch.randint(max(width - crop, 0) + 1, (1,), generator=generator))
    return top, left


def crop_pair(
    images: Sequence[torch.Tensor], crop: int | None, generator: torch.Generator
) -> list[torch.Tensor]:
    """The same random crop x crop window of each image (..., H, W); images smaller than the crop are
    first padded at the bottom and right by repeating their border."""
    if crop is None:
        return list(images)
    height, width = images[0].shape[-2:]
    pad_h, pad_w = max(crop - height, 0), max(crop - width, 0)
    if pad_h or pad_w:
        images = [F.pad(x.float()[None], (0, pad_w, 0, pad_h), mode="replicate")[0] for x in images]
        height, width = height + pad_h, width + pad_w
    top, left = random_window(height, width, crop, generator)
    return [x[..., top : top + crop, left : left + crop] for x in images]


def centre_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre size x size window of (..., H, W) (the whole side where it is shorter)."""
    height, width = image.shape[-2:]
    top, left = max(height - size, 0) // 2, max(width - size, 0) // 2
    return image[..., top : top + size, left : left + size]


def random_dihedral(
    images: Sequence[torch.Tensor], generator: torch.Generator, rotate: bool = True
) -> list[torch.Tensor]:
    """Flip all images (..., H, W) together horizontally and/or vertically, each with probability 1/2, then,
    with ``rotate``, turn them a quarter with probability 1/2: the 8 transforms of the square
    (PromptIR-style training), each with probability 1/8. Without ``rotate``, the 4 flips that keep
    vertical streaks vertical, drawn as they were before quarter turns existed."""
    flips = torch.rand(2, generator=generator) < 0.5
    dims = [d for d, flip in zip((-1, -2), flips.tolist(), strict=True) if flip]
    turn = rotate and bool(torch.rand(1, generator=generator) < 0.5)
    return [torch.rot90(x.flip(dims) if dims else x, int(turn), dims=(-2, -1)) for x in images]


def enlarge(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``image`` (..., h, w) in [0, 1] enlarged bicubically to ``size`` (H, W), clipped to [0, 1]: what a
    viewer shows of a small photo, the end of the resize degradation, and its bicubic baseline."""
    lead = image.shape[:-2]
    flat = image.reshape(-1, 1, *image.shape[-2:]).float()
    big = F.interpolate(flat, size=size, mode="bicubic", align_corners=False).clamp(0.0, 1.0)
    return big.reshape(*lead, *size).to(image.dtype)


def scaled_size(size: Sequence[int], scale: float) -> tuple[int, int]:
    """(H, W) ``size`` ``scale`` times larger on each side, rounded."""
    return round(size[0] * scale), round(size[1] * scale)
