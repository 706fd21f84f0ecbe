"""Any kind of image in, the same kind out: paths, PIL images, numpy arrays and tensors, for anything that
restores tensors and photos (a :class:`~tpir.inference.restorer.Restorer`); and files restored into files,
atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from tpir.data.photos import (
    WRITE_FORMATS,
    Photo,
    check_writable,
    photo_from_array,
    photo_from_pil,
    photo_to_array,
    photo_to_pil,
    read_photo,
    write_photo,
)
from tpir.data.transforms import enlarge, scaled_size
from tpir.inference.interpretation import Interpretation

AnyImage = str | Path | Image.Image | np.ndarray | torch.Tensor
# A restored photo's name: <stem>_restored<suffix>, in PNG where the source's format cannot be written.
OUTPUT_TAG, FALLBACK_SUFFIX = "_restored", ".png"


class PhotoRestoring(Protocol):
    """What the functions here need of a restorer (:class:`tpir.inference.restorer.Restorer` is one)."""

    def restore_tensor(
        self, image: torch.Tensor, prompt: Interpretation, tile: int | None, overlap: int
    ) -> torch.Tensor: ...

    def restore_photo(
        self,
        photo: Photo,
        prompt: Interpretation,
        tile: int | None,
        overlap: int,
        progress: Callable[[], object] | None = None,
    ) -> Photo: ...


def restore_any(
    restorer: PhotoRestoring,
    image: AnyImage,
    read: Interpretation,
    tile: int | None,
    overlap: int,
    scale: float = 1.0,
) -> Image.Image | np.ndarray | torch.Tensor:
    """Restore an image as ``read`` says, returning the same kind of image.

    Args:
        restorer: the restorer.
        image: a path (returns a PIL image; :func:`restore_file` writes one in the file's own form), a PIL
            image (modes L, LA, RGB and RGBA come back in their mode; others as L or RGB(A), 8-bit), a numpy
            array ((H, W) or (H, W, C), uint8, uint16 or float in [0, 1]; same shape and dtype back) or a
            tensor ((3, H, W) or (B, 3, H, W) float in [0, 1]; same shape back, on the CPU).
        read: the interpreted prompt.
        tile: tile side for large images, a multiple of 8; None restores in one piece.
        overlap: pixels shared by neighbouring tiles.
        scale: enlarge the image this many times on each side (bicubically) before restoring it; the
            result is that much larger.

    Raises:
        PhotoError: the image cannot be used. TypeError, ValueError: it is of no kind or shape restored.
    """
    if isinstance(image, torch.Tensor):
        batch = image if image.ndim == 4 else image[None]
        if batch.ndim != 4 or batch.shape[1] != 3 or not batch.is_floating_point():
            raise ValueError(
                f"image tensor of shape {tuple(image.shape)} and dtype {image.dtype}; expected "
                "(3, H, W) or (B, 3, H, W) float RGB in [0, 1]."
            )
        if scale != 1:
            batch = enlarge(batch, scaled_size(batch.shape[-2:], scale))
        restored = restorer.restore_tensor(batch, read, tile, overlap).to(image.dtype)
        return restored if image.ndim == 4 else restored[0]
    if isinstance(image, str | Path):
        photo = read_photo(image)
    elif isinstance(image, Image.Image):
        photo = photo_from_pil(image)
    elif isinstance(image, np.ndarray):
        photo = photo_from_array(image)
    else:
        raise TypeError(
            f"cannot restore a {type(image).__name__}; expected a path, PIL image, numpy array or tensor."
        )
    restored = restorer.restore_photo(photo.enlarged(scale), read, tile, overlap)
    if not isinstance(image, np.ndarray):
        return photo_to_pil(restored)
    array = photo_to_array(restored)
    return array.reshape(*array.shape[:2], *image.shape[2:]).astype(image.dtype, copy=False)


def restore_file(
    restorer: PhotoRestoring,
    source: str | Path,
    target: str | Path,
    read: Interpretation,
    tile: int | None,
    overlap: int,
    overwrite: bool = False,
    progress: Callable[[], object] | None = None,
    scale: float = 1.0,
) -> Path:
    """Read ``source``, restore it (enlarged ``scale`` times first) and write ``target`` in the source's
    form, atomically.

    Raises:
        FileExistsError: ``target`` exists and ``overwrite`` is False (checked before restoring).
        PhotoError: ``source`` cannot be read or ``target`` cannot be written (its suffix or folder).
    """
    check_writable(target, overwrite)  # before the work, not only when writing
    restored = restorer.restore_photo(read_photo(source).enlarged(scale), read, tile, overlap, progress)
    return write_photo(restored, target, overwrite=overwrite)


def output_path(source: Path, out_dir: Path | None) -> Path:
    """``<stem>_restored<suffix>`` in ``out_dir`` (default: beside ``source``); PNG if the suffix is unwritable."""
    suffix = source.suffix if source.suffix.lower() in WRITE_FORMATS else FALLBACK_SUFFIX
    return (source.parent if out_dir is None else out_dir) / f"{source.stem}{OUTPUT_TAG}{suffix}"
