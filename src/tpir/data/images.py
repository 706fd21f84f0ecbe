"""The clean images a data configuration reads: an :class:`ImageBank` reads each file once and keeps it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tpir.data.photos import PhotoError, read_image_uint8


class ImageBank:
    """Clean images, by path (read once, kept as uint8) or given in memory.

    Args:
        images: paths, or (3, H, W) uint8 tensors.
        names: names of in-memory images (paths name themselves).
    """

    def __init__(self, images: Sequence[Path | torch.Tensor], names: Sequence[str] | None = None) -> None:
        if not images:
            raise ValueError("an ImageBank needs at least one image.")
        self.images = list(images)
        self.names = list(names) if names is not None else [Path(str(p)).name for p in self.images]
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        """Image ``index`` as (3, H, W) uint8."""
        image = self.images[index]
        if isinstance(image, torch.Tensor):
            return image
        if index not in self._cache:
            self._cache[index] = read_image_uint8(image)
        return self._cache[index]

    def ids(self) -> list[str]:
        """What tells the images apart across banks: resolved paths, or the names of in-memory images."""
        return [
            name if isinstance(image, torch.Tensor) else str(Path(image).resolve())
            for image, name in zip(self.images, self.names, strict=True)
        ]

    def preload(self) -> dict[str, str]:
        """Read every image now; returns the unreadable ones, {path: why}, and keeps the others."""
        failures = {}
        for index, image in enumerate(self.images):
            try:
                self[index]
            except PhotoError as error:
                failures[str(image)] = str(error).removeprefix(f"{image}: ").rstrip(".")
        return failures
