"""Side-by-side comparison images with the prompt written under them."""

from __future__ import annotations

import torch
from PIL import Image, ImageDraw


def to_pil(image: torch.Tensor) -> Image.Image:
    """An RGB image (3, H, W) in [0, 1] as a PIL image."""
    array = (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array)


def comparison_grid(images: dict[str, torch.Tensor], caption: str) -> Image.Image:
    """Images (3, H, W) in [0, 1] side by side, each titled by its key, the caption under them all."""
    tiles = [to_pil(image) for image in images.values()]
    width, height = sum(t.width for t in tiles), max(t.height for t in tiles)
    text_height = 16
    canvas = Image.new("RGB", (width, height + 2 * text_height), "white")
    draw = ImageDraw.Draw(canvas)
    left = 0
    for title, tile in zip(images, tiles, strict=True):
        draw.text((left + 4, 2), title, fill="black")
        canvas.paste(tile, (left, text_height))
        left += tile.width
    draw.text((4, height + text_height + 2), f"prompt: {caption}", fill="black")
    return canvas
