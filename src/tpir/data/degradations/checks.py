"""The checks at the door of every degradation function: an RGB float image of rank 3 or 4, values in range."""

from __future__ import annotations

import math

from torch import Tensor


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
