"""The photo reader on damaged files: real small files of every format, their bytes mutated by hypothesis.

Whatever the bytes, ``read_photo`` gives a valid Photo or raises PhotoError; nothing else escapes it.
9 formats x ``EXAMPLES_PER_FORMAT`` mutated files, the same ones on every run (``derandomize``).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tpir.data.photos import Photo, PhotoError, read_photo, write_photo

EXAMPLES_PER_FORMAT = 120
# Pillow warns of what it skips in a damaged TIFF ("Truncated File Read") and of huge sizes; the outcome
# is what is tested.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEIGHT, WIDTH = 10, 12


def _pillow_file(mode: str, file_format: str, **options: object) -> bytes:
    """A small random image in ``mode``, saved by Pillow as ``file_format``."""
    rng = np.random.default_rng(0)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (HEIGHT, WIDTH), dtype=np.uint16))
    else:
        channels = len(mode)
        image = Image.fromarray(rng.integers(0, 256, (HEIGHT, WIDTH, channels), dtype=np.uint8), mode)
    stream = io.BytesIO()
    image.save(stream, format=file_format, **options)
    return stream.getvalue()


def _png_16bit_rgb(folder: Path) -> bytes:
    """A 16-bit colour PNG, which Pillow cannot write: the full-precision decoder's input."""
    rgb = torch.rand(3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0))
    return write_photo(Photo(rgb, None, 16, False), folder / "deep.png").read_bytes()


@pytest.fixture(scope="module", autouse=True)
def small_bomb_limit() -> Iterator[None]:
    """A damaged header may claim a huge size: Pillow refuses over 2 million pixels here, not 179 million,
    so that no example allocates hundreds of megabytes."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 1_000_000
    yield
    Image.MAX_IMAGE_PIXELS = limit


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Intact files by name, each named ``<kind>.<suffix>``."""
    return {
        "rgb.png": _pillow_file("RGB", "PNG"),
        "gray16.png": _pillow_file("I;16", "PNG"),
        "rgb16.png": _png_16bit_rgb(tmp_path_factory.mktemp("deep")),
        "rgba.png": _pillow_file("RGBA", "PNG"),
        "rgb.jpg": _pillow_file("RGB", "JPEG", quality=90),
        "rgb.gif": _pillow_file("RGB", "GIF"),
        "rgba.tif": _pillow_file("RGBA", "TIFF"),
        "rgb.bmp": _pillow_file("RGB", "BMP"),
        "rgba.webp": _pillow_file("RGBA", "WEBP", quality=80),
    }


def with_png_checksums(data: bytes) -> bytes:
    """A PNG's bytes with the CRC of every whole chunk recomputed, so that edits get past the checksums
    to the decoders (PNG chunks: length, type, body, CRC of type + body)."""
    fixed, start = bytearray(data), len(PNG_SIGNATURE)
    while start + 12 <= len(fixed):
        length = struct.unpack(">I", fixed[start : start + 4])[0]
        end = start + 8 + length
        if end + 4 > len(fixed):
            break
        fixed[end : end + 4] = struct.pack(">I", zlib.crc32(fixed[start + 4 : end]))
        start = end + 4
    return bytes(fixed)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with one to three edits: flipped bytes, a cut, an inserted or deleted slice, zeros;
    a PNG's checksums are then recomputed half of the time."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        size = len(data)
        start = draw(st.integers(0, max(size - 1, 0)))
        length = draw(st.integers(1, 64))
        edit = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "zero"]))
        if edit == "flip" and size:
            data[start] ^= draw(st.integers(1, 255))
        elif edit == "truncate":
            del data[start:]
        elif edit == "insert":
            data[start:start] = draw(st.binary(min_size=1, max_size=length))
        elif edit == "delete":
            del data[start : start + length]
        elif edit == "zero":
            data[start : start + length] = bytes(len(data[start : start + length]))
    if original.startswith(PNG_SIGNATURE) and draw(st.booleans()):
        return with_png_checksums(data)
    return bytes(data)


def assert_valid(photo: Photo) -> None:
    """A Photo as the restorer expects it: (3, H, W) RGB and (H, W) alpha, finite, in [0, 1]."""
    assert photo.rgb.ndim == 3 and photo.rgb.shape[0] == 3 and min(photo.rgb.shape[1:]) >= 1
    channels = [photo.rgb] if photo.alpha is None else [photo.rgb, photo.alpha[None]]
    for values in channels:
        assert values.dtype == torch.float32 and torch.isfinite(values).all()
        assert float(values.min()) >= 0 and float(values.max()) <= 1


def test_every_intact_file_reads(originals: dict[str, bytes], tmp_path: Path) -> None:
    for name, original in originals.items():
        path = tmp_path / name
        path.write_bytes(original)
        photo = read_photo(path)
        assert_valid(photo)
        assert photo.rgb.shape == (3, HEIGHT, WIDTH), name


@pytest.mark.parametrize(
    "name",
    [
        "rgb.png",
        "gray16.png",
        "rgb16.png",
        "rgba.png",
        "rgb.jpg",
        "rgb.gif",
        "rgba.tif",
        "rgb.bmp",
        "rgba.webp",
    ],
)
@settings(
    max_examples=EXAMPLES_PER_FORMAT,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_mutated_file_reads_or_raises_photo_error(
    originals: dict[str, bytes], tmp_path: Path, name: str, data: st.DataObject
) -> None:
    path = tmp_path / name  # one file, rewritten for each example
    path.write_bytes(data.draw(mutated(originals[name]), label="bytes"))
    try:
        photo = read_photo(path)
    except PhotoError as error:
        assert str(error).startswith(f"{path}: ")
        return
    assert_valid(photo)
