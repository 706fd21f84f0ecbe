"""The one photo reader and writer: training data, ``tpir-restore``, the Python API and the app use it.

A :class:`Photo` keeps what the model needs (RGB in [0, 1]) apart from what writing needs: the alpha
channel, the bit depth (8 or 16) and whether the source was grayscale. EXIF orientation is applied on
reading (``ImageOps.exif_transpose``), so the pixels are upright; it is not written back. Photos also
convert from and to in-memory PIL images and numpy arrays (:func:`photo_from_pil`, :func:`photo_to_array`).
"""

from __future__ import annotations

import tempfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps

from tpir.data.transforms import enlarge, scaled_size
from tpir.utils import already_exists, atomic_path

# Output format by file suffix; alpha is written only where the format holds it, 16 bits only to PNG.
WRITE_FORMATS = {
    ".bmp": "BMP",
    ".jpeg": "JPEG",
    ".jpg": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
_ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}

_GRAY_16BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's convert("L")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
# What the training data and the benchmark layout list as images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# Many camera JPEGs are MPO files: the photo first, then a preview or a second view; the photo is read.
_FIRST_FRAME_FORMATS = ("MPO",)


class PhotoError(ValueError):
    """A photo that cannot be read or written; the message names the file."""


@dataclass(frozen=True)
class Photo:
    """A photo as the restorer sees it, and what is needed to write it back in its source's form.

    Attributes:
        rgb: colour, (3, H, W) float32 in [0, 1]; a grayscale source's one channel repeated.
        alpha: opacity, (H, W) float32 in [0, 1], or None when the source has none.
        bit_depth: bits per channel of the source: 8, 16, or 32 for a float array.
        grayscale: whether the source has one colour channel.
        source: the file it was read from, or None for an image given in memory.
    """

    rgb: torch.Tensor
    alpha: torch.Tensor | None
    bit_depth: int
    grayscale: bool
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[0] != 3:
            raise ValueError(f"rgb: expected shape (3, H, W), got {tuple(self.rgb.shape)}.")
        if self.alpha is not None and self.alpha.shape != self.rgb.shape[1:]:
            raise ValueError(
                f"alpha: expected shape {tuple(self.rgb.shape[1:])} to match rgb, got {tuple(self.alpha.shape)}."
            )
        if self.bit_depth not in (8, 16, 32):
            raise ValueError(f"bit_depth: expected 8, 16 or 32 (float), got {self.bit_depth}.")

    def with_rgb(self, rgb: torch.Tensor) -> Photo:
        """This photo with its colour replaced by ``rgb``, (3, H, W) in [0, 1] of the same size."""
        return replace(self, rgb=rgb)

    def enlarged(self, scale: float) -> Photo:
        """This photo ``scale`` times larger on each side (rounded), colour and alpha enlarged bicubically."""
        if scale < 1:
            raise ValueError(f"scale {scale:g}: expected a factor of at least 1.")
        if scale == 1:
            return self
        size = scaled_size(self.rgb.shape[-2:], scale)
        alpha = None if self.alpha is None else enlarge(self.alpha, size)
        return replace(self, rgb=enlarge(self.rgb, size), alpha=alpha)


def read_photo(path: str | Path) -> Photo:
    """Read an image file upright, keeping its alpha, bit depth and grayscale-ness.

    Reads what Pillow reads (PNG, JPEG, TIFF, BMP, WebP, ...), in modes L, LA, RGB, RGBA, P (palette,
    transparency becomes alpha), CMYK, 16-bit grayscale and, decoded here at full precision, 16-bit
    colour PNG. 16-bit colour TIFF is read at 8 bits, as Pillow gives it.

    Raises:
        PhotoError: the file is missing, empty, not an image, truncated, has no pixels, or holds several
            frames (an animation or a multi-page TIFF).
    """
    path = Path(path)
    if not path.exists():
        raise PhotoError(f"{path}: no such file.")
    if path.is_file() and path.stat().st_size == 0:
        raise PhotoError(f"{path}: file is empty (0 bytes); expected an image.")
    # Pillow's UnidentifiedImageError is an OSError; corrupt headers raise SyntaxError, ValueError or
    # TypeError (a TIFF without dimensions, or with a fraction where a count belongs).
    try:
        with Image.open(path) as image:
            frames = 1 if image.format in _FIRST_FRAME_FORMATS else getattr(image, "n_frames", 1)
            if frames > 1:
                raise PhotoError(
                    f"{path}: has {frames} frames (an animation or a multi-page file); tpir restores still "
                    "images: extract the frame you want first."
                )
            colour_type = _png_16bit_colour_type(path) if image.format == "PNG" else None
            if colour_type is None:
                pixels = _pixels(ImageOps.exif_transpose(image))
            else:
                pixels = _png_16bit_pixels(path, colour_type)
    except PhotoError:
        raise
    except (OSError, SyntaxError, ValueError, TypeError, Image.DecompressionBombError) as error:
        raise PhotoError(f"{path}: not a readable image ({error}).") from error
    height, width, _ = pixels.shape
    if height == 0 or width == 0:
        raise PhotoError(f"{path}: image is {width}x{height} pixels; expected at least 1x1.")
    return _photo(pixels, path)


def _photo(pixels: np.ndarray, source: Path | None) -> Photo:
    """A Photo of (H, W, C) pixels, uint8, uint16 or float32 in [0, 1]; C = 1 gray, 2 gray + alpha,
    3 RGB, 4 RGBA."""
    channels = pixels.shape[-1]
    top = 1.0 if pixels.dtype == np.float32 else np.iinfo(pixels.dtype).max
    values = torch.from_numpy(pixels.astype(np.float32) / top).permute(2, 0, 1)
    colour = values[:1] if channels <= 2 else values[:3]
    return Photo(
        rgb=colour.expand(3, -1, -1).contiguous(),
        alpha=values[-1].contiguous() if channels in (2, 4) else None,
        bit_depth={np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(pixels.dtype, 32),
        grayscale=channels <= 2,
        source=source,
    )


def write_photo(photo: Photo, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``photo`` in its source's form, in the format that the suffix of ``path`` names.

    Grayscale sources are written with one channel (their luma), 16-bit sources as 16-bit PNG (8 bits
    in other formats), alpha where the format holds it (PNG, TIFF, WebP; dropped otherwise). Values are
    clipped to [0, 1] and rounded to the nearest level. The file appears whole or not at all: it is
    written beside ``path`` under a temporary name, then renamed over ``path`` (``overwrite``) or linked
    to it, which fails if ``path`` has appeared meanwhile: of two writers of one new file, one wins.

    Returns:
        ``path``.

    Raises:
        PhotoError: the suffix is not one of :data:`WRITE_FORMATS`, or no file can be made in the folder.
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    file_format = check_writable(path, overwrite)
    bit_depth = 16 if photo.bit_depth > 8 and file_format == "PNG" else 8
    pixels = _quantize(_channels(photo, with_alpha=file_format in _ALPHA_FORMATS), bit_depth)

    with atomic_path(path, exclusive=not overwrite) as partial, partial.open("wb") as stream:
        if bit_depth == 16:
            _write_png_16bit(pixels, stream)
        else:
            image = Image.fromarray(_one_channel_as_2d(pixels))
            image.save(stream, format=file_format, **_SAVE_OPTIONS.get(file_format, {}))
    return path


def check_writable(path: str | Path, overwrite: bool = False) -> str:
    """The format a photo would be written to ``path`` in, checked before any work is done.

    Raises:
        PhotoError: the suffix is not one of :data:`WRITE_FORMATS`, or no file can be made in the folder
            of ``path`` (see :func:`check_folder_writable`).
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    file_format = WRITE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        kind = f"{path.suffix!r} files" if path.suffix else "files without a suffix"
        raise PhotoError(f"{path}: cannot write {kind}; expected a suffix among {', '.join(WRITE_FORMATS)}.")
    if path.exists() and not overwrite:
        raise already_exists(path)
    try:
        check_folder_writable(path.parent)
    except OSError as error:
        raise PhotoError(f"{path}: cannot write into {path.parent} ({error.strerror or error}).") from error
    return file_format


def check_folder_writable(folder: str | Path) -> None:
    """Make and remove a temporary file in ``folder``, or, where it does not exist yet, in the nearest
    folder above it (where it would be created). ``os.access`` cannot tell: for root it says yes even
    where the kernel refuses (``/proc``, read-only mounts).

    Raises:
        OSError: what the attempt raised (``strerror`` says why).
    """
    folder = Path(folder)
    existing = next((f for f in (folder, *folder.parents) if f.exists()), Path("."))
    with tempfile.NamedTemporaryFile(dir=existing, prefix=".tpir-probe-"):
        pass


def _pixels(image: Image.Image) -> np.ndarray:
    """Pixels of a loaded Pillow image, (H, W, C) uint8 or uint16; C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA."""
    if image.mode in _GRAY_16BIT_MODES:
        return np.asarray(image).clip(0, 65535).astype(np.uint16)[..., None]
    if image.mode == "F":  # float gray (e.g. a float TIFF), read as values in [0, 1]
        return np.asarray(image, dtype=np.float32).clip(0, 1)[..., None]
    gray = image.mode in ("1", "L", "LA", "La")
    transparent = image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info
    mode = ("L" if gray else "RGB") + ("A" if transparent else "")
    array = np.asarray(image if image.mode == mode else image.convert(mode))
    return array.reshape(*array.shape[:2], -1)


def _png_16bit_colour_type(path: Path) -> int | None:
    """The IHDR colour type of a 16-bit gray + alpha (4), RGB (2) or RGBA (6) PNG; None for any other file."""
    with path.open("rb") as stream:
        header = stream.read(26)
    if len(header) < 26 or not header.startswith(_PNG_SIGNATURE) or header[24] != 16:
        return None
    return header[25] if header[25] in (2, 4, 6) else None


def _png_16bit_pixels(path: Path, colour_type: int) -> np.ndarray:
    """Full-precision pixels of a 16-bit colour PNG, (H, W, C) uint16.

    Pillow decodes these to 8 bits by keeping the high byte of each sample. Given other raw modes of the
    same sample size, its decoder hands over every byte: gray + alpha fits 8-bit RGBA byte for byte, and
    the little-endian raw modes of RGB and RGBA pick the low bytes.
    """
    if colour_type == 4:
        return _decode_png_as(path, "RGBA").view(">u2").astype(np.uint16)
    mode = "RGB" if colour_type == 2 else "RGBA"
    high, low = _decode_png_as(path, f"{mode};16B"), _decode_png_as(path, f"{mode};16L")
    return high.astype(np.uint16) << 8 | low


def _decode_png_as(path: Path, rawmode: str) -> np.ndarray:
    """The image data of a PNG, decoded by Pillow with the unpacker ``rawmode``, (H, W, C) uint8."""
    with Image.open(path) as image:
        image.tile = [tile._replace(args=rawmode) for tile in image.tile]
        image.load()
        return np.asarray(ImageOps.exif_transpose(image))


def _quantize(channels: torch.Tensor, bit_depth: int) -> np.ndarray:
    """(C, H, W) floats in [0, 1] to (H, W, C) uint8 or uint16, clipped and rounded to the nearest level."""
    top = 2**bit_depth - 1
    levels = channels.clamp(0, 1).mul(top).round().permute(1, 2, 0).contiguous().numpy()
    return levels.astype(np.uint16 if bit_depth == 16 else np.uint8)


def _write_png_16bit(pixels: np.ndarray, stream: BinaryIO) -> None:
    """Write (H, W, C) uint16 pixels, C in 1-4, as a 16-bit PNG, which Pillow cannot for C > 1.

    Every row uses the Sub filter (each byte minus the same byte of the pixel to its left), which
    compresses photographs well and is one vectorised difference.
    """
    height, width, channels = pixels.shape
    data = pixels.astype(">u2").view(np.uint8).reshape(height, width, 2 * channels)
    rows = np.diff(data, axis=1, prepend=np.zeros((height, 1, 2 * channels), np.uint8)).reshape(height, -1)
    filtered = np.concatenate([np.ones((height, 1), np.uint8), rows], axis=1)
    header = (
        width.to_bytes(4, "big")
        + height.to_bytes(4, "big")
        + bytes([16, _PNG_COLOUR_TYPES[channels], 0, 0, 0])
    )
    stream.write(_PNG_SIGNATURE)
    for kind, body in ((b"IHDR", header), (b"IDAT", zlib.compress(filtered.tobytes())), (b"IEND", b"")):
        stream.write(len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big"))


def _channels(photo: Photo, with_alpha: bool = True) -> torch.Tensor:
    """The channels to store, (C, H, W) float in [0, 1]: luma or RGB, then alpha when kept."""
    rgb = photo.rgb.detach().float().cpu()
    channels = (
        [(rgb * rgb.new_tensor(_LUMA).view(3, 1, 1)).sum(0, keepdim=True)] if photo.grayscale else [rgb]
    )
    if photo.alpha is not None and with_alpha:
        channels.append(photo.alpha.detach().float().cpu()[None])
    return torch.cat(channels)


def _one_channel_as_2d(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1) gray as (H, W), what Pillow and numpy users expect of a gray image; others unchanged."""
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def read_image_uint8(path: str | Path) -> torch.Tensor:
    """A file as 8-bit RGB for training, (3, H, W) uint8: upright, alpha dropped, gray repeated, 16 bits
    rounded to 8.

    Raises:
        PhotoError: the file is missing, empty, not an image or truncated.
    """
    rgb = read_photo(path).rgb
    return rgb.mul(255).round_().to(torch.uint8)


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., 3, H, W) to float32 in [0, 1]."""
    return image.float().div_(255.0)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def photo_from_pil(image: Image.Image) -> Photo:
    """An in-memory PIL image as a Photo (modes as :func:`read_photo`; 16-bit gray stays 16-bit)."""
    pixels = _pixels(image)
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise PhotoError(f"the image is {image.width}x{image.height} pixels; expected at least 1x1.")
    return _photo(pixels, None)


def photo_to_pil(photo: Photo) -> Image.Image:
    """A Photo as an 8-bit PIL image: mode L, LA, RGB or RGBA as the photo's form (16 bits are rounded)."""
    pixels = _quantize(_channels(photo), 8)
    return Image.fromarray(_one_channel_as_2d(pixels))


def photo_from_array(array: np.ndarray) -> Photo:
    """A numpy image as a Photo.

    Args:
        array: (H, W) gray or (H, W, C) with C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA; uint8, uint16,
            or floating point in [0, 1].

    Raises:
        PhotoError: another shape or dtype.
    """
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4) or 0 in array.shape:
        raise PhotoError(
            f"an image array of shape {array.shape}; expected (H, W) or (H, W, C) with C in 1-4."
        )
    if np.issubdtype(array.dtype, np.floating):
        return _photo(np.clip(array, 0, 1).astype(np.float32), None)
    if array.dtype not in (np.uint8, np.uint16):
        raise PhotoError(f"an image array of dtype {array.dtype}; expected uint8, uint16 or float in [0, 1].")
    return _photo(np.ascontiguousarray(array), None)


def photo_to_array(photo: Photo) -> np.ndarray:
    """A Photo as numpy in its source's form: (H, W) gray or (H, W, C); uint8, uint16, or float32 for a
    float source (``bit_depth`` 32)."""
    channels = _channels(photo)
    if photo.bit_depth == 32:
        array = channels.clamp(0, 1).permute(1, 2, 0).numpy().astype(np.float32)
    else:
        array = _quantize(channels, photo.bit_depth)
    return _one_channel_as_2d(array)
