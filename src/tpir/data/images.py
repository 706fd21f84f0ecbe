"""Reading images from disk into RGB tensors, with one clear error per unreadable file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class ImageReadError(ValueError):
    """An image file that cannot be used; the message names the file."""


def read_image_uint8(path: str | Path) -> torch.Tensor:
    """Read an image as 8-bit RGB, (3, H, W) uint8; EXIF orientation applied, alpha dropped.

    Grayscale is repeated to three channels and 16-bit images are scaled down to 8 bits.

    Raises:
        ImageReadError: the file is missing, not an image, or truncated.
    """
    path = Path(path)
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except FileNotFoundError as error:
        raise ImageReadError(f"{path}: no such image file.") from error
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageReadError(f"{path}: not a readable image ({error}).") from error
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        array = np.repeat((array / 257.0).round().clip(0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    else:
        array = np.asarray(image.convert("RGB"))
    return torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1).contiguous()


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., 3, H, W) to float32 in [0, 1]."""
    return image.float().div_(255.0)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
