"""Restoring images larger than memory allows, tile by tile, with overlapping tiles blended smoothly.

Tiles of side ``tile`` step by ``tile - overlap``; the last tile along a side is moved back to end at
the border, so every tile is full size (a side shorter than ``tile`` is covered whole). Each restored
tile is weighted by a separable window that is 1 inside and falls along a raised cosine towards the
sides it shares with another tile, over ``overlap`` pixels, to a small weight that is never zero; the
output is the weighted mean. At most ``batch`` tiles are in flight at a time, restored in one call, and
the output and weight sums are kept on the CPU in float32, whatever device ``restore_fn`` runs on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def tile_count(height: int, width: int, tile: int | None, overlap: int) -> int:
    """How many tiles, so calls of ``restore_fn``, :func:`restore_tiled` makes on a (height, width) image."""
    if tile is None:
        return 1
    _check_tiling(tile, overlap)
    return len(_tile_starts(height, tile, overlap)) * len(_tile_starts(width, tile, overlap))


def restore_tiled(
    restore_fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    tile: int | None,
    overlap: int,
    progress: Callable[[], object] | None = None,
    batch: int = 1,
) -> torch.Tensor:
    """Apply ``restore_fn`` to ``image`` in overlapping tiles and blend the results.

    Args:
        restore_fn: maps (N, 3, h, w) to (N, 3, h, w), on any device; N <= ``batch`` tiles of one size.
        image: the image to restore, (1, 3, H, W) float; tiles are cut from it on its own device.
        tile: tile side in pixels, a positive multiple of 8; None restores the whole image in one call,
            as does an image no larger than one tile.
        overlap: pixels shared by neighbouring tiles, 0 <= overlap < tile; ignored when ``tile`` is None.
        progress: called once per tile, e.g. a tqdm bar's ``update``; see :func:`tile_count`.
        batch: tiles restored per call of ``restore_fn``, at least 1 (more is faster on a GPU, and takes
            that many times the memory).

    Returns:
        The restored image, (1, 3, H, W) float32 on the CPU.

    Raises:
        ValueError: ``image`` is not (1, 3, H, W), ``tile``, ``overlap`` or ``batch`` is out of range,
            or ``restore_fn`` changes the shape of the tiles.
    """
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image: expected shape (1, 3, H, W), got {tuple(image.shape)}.")
    if batch < 1:
        raise ValueError(f"batch={batch}: expected at least 1 tile per call.")
    height, width = image.shape[-2:]
    if tile is None:
        tile, overlap = max(height, width), 0
    else:
        _check_tiling(tile, overlap)
    rows, columns = _tile_starts(height, tile, overlap), _tile_starts(width, tile, overlap)
    tile_height, tile_width = min(tile, height), min(tile, width)

    output = torch.zeros(1, 3, height, width)
    weight = torch.zeros(height, width)
    starts = [(top, left) for top in rows for left in columns]
    for first in range(0, len(starts), batch):
        areas = [
            (slice(top, top + tile_height), slice(left, left + tile_width))
            for top, left in starts[first : first + batch]
        ]
        pieces = torch.cat([image[(..., *area)] for area in areas])
        restored = restore_fn(pieces)
        if restored.shape != pieces.shape:
            raise ValueError(
                f"restore_fn returned shape {tuple(restored.shape)} for tiles of shape "
                f"{tuple(pieces.shape)}; expected the same shape."
            )
        # detach: a caller without no_grad would otherwise keep every tile's graph alive.
        restored = restored.detach().to(output.device, torch.float32)
        for piece, area in zip(restored, areas, strict=True):
            top, left = area[0].start, area[1].start
            window = torch.outer(
                _window(tile_height, top > 0, top + tile_height < height, overlap),
                _window(tile_width, left > 0, left + tile_width < width, overlap),
            )
            output[(..., *area)] += piece * window
            weight[area] += window
            if progress is not None:
                progress()
    return output.div_(weight)  # in place: a 12-MP photo's output is 144 MB


def _check_tiling(tile: int, overlap: int) -> None:
    if tile <= 0 or tile % 8:
        raise ValueError(
            f"tile={tile}: expected a positive multiple of 8 (the model pads its input to multiples of 8 anyway)."
        )
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap={overlap}: expected 0 <= overlap < tile ({tile}).")


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Offsets of the tiles along a side of ``length`` pixels; the last tile ends at the border."""
    if length <= tile:
        return [0]
    return [*range(0, length - tile, tile - overlap), length - tile]


def _window(size: int, ramp_start: bool, ramp_end: bool, overlap: int) -> torch.Tensor:
    """Blending weights along one side of a tile, (size,).

    1 from ``overlap`` pixels away from the ends that meet another tile (``ramp_start``, ``ramp_end``);
    nearer, a raised cosine sin²(π (d + 1) / (2 (overlap + 1))) of the distance d, so > 0 at the edge.
    """
    position = torch.arange(size, dtype=torch.float32)
    distance = torch.full((size,), math.inf)
    if ramp_start:
        distance = torch.minimum(distance, position)
    if ramp_end:
        distance = torch.minimum(distance, size - 1 - position)
    return torch.sin((distance + 1).clamp(max=overlap + 1) * (math.pi / (2 * (overlap + 1)))).pow(2)
