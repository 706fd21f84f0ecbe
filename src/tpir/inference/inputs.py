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
    restorer: PhotoRestoring, image: AnyImage, read: Interpretation, tile: int | None, overlap: int
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
        restored = restorer.restore_tensor(batch, read, tile, overlap).to(image.dtype)
        return restored if image.ndim == 4 else restored[0]
    if isinstance(image, str | Path):
        return photo_to_pil(restorer.restore_photo(read_photo(image), read, tile, overlap))
    if isinstance(image, Image.Image):
        return photo_to_pil(restorer.restore_photo(photo_from_pil(image), read, tile, overlap))
    if isinstance(image, np.ndarray):
        restored = photo_to_array(restorer.restore_photo(photo_from_array(image), read, tile, overlap))
        return restored.reshape(image.shape).astype(image.dtype, copy=False)
    raise TypeError(
        f"cannot restore a {type(image).__name__}; expected a path, PIL image, numpy array or tensor."
    )


def restore_file(
    restorer: PhotoRestoring,
    source: str | Path,
    target: str | Path,
    read: Interpretation,
    tile: int | None,
    overlap: int,
    overwrite: bool = False,
    progress: Callable[[], object] | None = None,
) -> Path:
    """Read ``source``, restore it and write ``target`` in the source's form, atomically.

    Raises:
        FileExistsError: ``target`` exists and ``overwrite`` is False (checked before restoring).
        PhotoError: ``source`` cannot be read or ``target`` cannot be written (its suffix or folder).
    """
    check_writable(target, overwrite)  # before the work, not only when writing
    restored = restorer.restore_photo(read_photo(source), read, tile, overlap, progress)
    return write_photo(restored, target, overwrite=overwrite)


def output_path(source: Path, out_dir: Path | None) -> Path:
    """``<stem>_restored<suffix>`` in ``out_dir`` (default: beside ``source``); PNG if the suffix is unwritable."""
    suffix = source.suffix if source.suffix.lower() in WRITE_FORMATS else FALLBACK_SUFFIX
    return (source.parent if out_dir is None else out_dir) / f"{source.stem}{OUTPUT_TAG}{suffix}"
