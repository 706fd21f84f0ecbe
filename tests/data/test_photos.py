import errno
import io
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from tpir import utils
from tpir.data import photos
from tpir.data.photos import Photo, PhotoError, read_photo, write_photo


def random_pixels(shape: tuple[int, ...], dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def save_png_16bit(path: Path, pixels: np.ndarray) -> Path:
    """A 16-bit PNG written by hand (no filtering), independently of the module under test."""
    height, width, channels = pixels.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    return path


def as_levels(values: torch.Tensor, top: int) -> np.ndarray:
    return (values * top).round().numpy().astype(np.int64)


def test_rgb_png_round_trip_is_exact(tmp_path: Path) -> None:
    pixels = random_pixels((5, 7, 3))
    Image.fromarray(pixels).save(tmp_path / "in.png")

    photo = read_photo(tmp_path / "in.png")
    assert photo.rgb.shape == (3, 5, 7) and photo.rgb.dtype == torch.float32
    assert (photo.alpha, photo.bit_depth, photo.grayscale, photo.source) == (
        None,
        8,
        False,
        tmp_path / "in.png",
    )
    np.testing.assert_array_equal(as_levels(photo.rgb.permute(1, 2, 0), 255), pixels)

    assert write_photo(photo, tmp_path / "out.png") == tmp_path / "out.png"
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(written), pixels)


def test_grayscale_png_stays_single_channel(tmp_path: Path) -> None:
    pixels = random_pixels((6, 4))
    Image.fromarray(pixels).save(tmp_path / "in.png")

    photo = read_photo(tmp_path / "in.png")
    assert photo.grayscale and photo.alpha is None and photo.rgb.shape == (3, 6, 4)
    assert torch.equal(photo.rgb[0], photo.rgb[2])

    write_photo(photo, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "L"
        np.testing.assert_array_equal(np.asarray(written), pixels)


@pytest.mark.parametrize(("channels", "mode"), [(4, "RGBA"), (2, "LA")])
def test_alpha_is_kept_exactly(tmp_path: Path, channels: int, mode: str) -> None:
    pixels = random_pixels((5, 6, channels))
    Image.fromarray(pixels).save(tmp_path / "in.png")

    photo = read_photo(tmp_path / "in.png")
    assert photo.alpha is not None and photo.grayscale == (mode == "LA")
    np.testing.assert_array_equal(as_levels(photo.alpha, 255), pixels[..., -1])

    write_photo(photo, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == mode
        np.testing.assert_array_equal(np.asarray(written), pixels)


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".tif", "RGBA"), (".webp", "RGBA"), (".jpg", "RGB"), (".bmp", "RGB")]
)
def test_alpha_is_written_only_where_the_format_holds_it(tmp_path: Path, suffix: str, mode: str) -> None:
    Image.fromarray(random_pixels((8, 8, 4))).save(tmp_path / "in.png")
    write_photo(read_photo(tmp_path / "in.png"), tmp_path / f"out{suffix}")
    with Image.open(tmp_path / f"out{suffix}") as written:
        assert written.mode == mode


def test_16bit_grayscale_png_stays_16bit(tmp_path: Path) -> None:
    pixels = random_pixels((5, 7), np.uint16)
    Image.fromarray(pixels).save(tmp_path / "in.png")

    photo = read_photo(tmp_path / "in.png")
    assert (photo.bit_depth, photo.grayscale) == (16, True)
    assert (photo.rgb[0] - torch.from_numpy(pixels.astype(np.float32) / 65535)).abs().max() <= 1 / 65535

    write_photo(photo, tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes()[24] == 16
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode.startswith("I")
        np.testing.assert_array_equal(np.asarray(written), pixels)


@pytest.mark.parametrize("channels", [3, 4, 2])
def test_16bit_colour_png_stays_16bit(tmp_path: Path, channels: int) -> None:
    pixels = random_pixels((5, 7, channels), np.uint16)
    photo = read_photo(save_png_16bit(tmp_path / "in.png", pixels))

    assert photo.bit_depth == 16 and photo.grayscale == (channels == 2)
    read_back = (
        torch.cat([photo.rgb[: 3 if channels > 2 else 1], photo.alpha[None]]) if channels != 3 else photo.rgb
    )
    expected = torch.from_numpy(pixels.astype(np.float32) / 65535).permute(2, 0, 1)
    assert (read_back - expected).abs().max() <= 1 / 65535

    write_photo(photo, tmp_path / "out.png")
    header = (tmp_path / "out.png").read_bytes()[:26]
    assert (header[24], header[25]) == (16, {2: 4, 3: 2, 4: 6}[channels])
    again = read_photo(tmp_path / "out.png")
    assert torch.equal(again.rgb, photo.rgb) and (channels == 3 or torch.equal(again.alpha, photo.alpha))
    if channels != 2:  # Pillow reads the high byte of each sample
        with Image.open(tmp_path / "out.png") as written:
            np.testing.assert_array_equal(np.asarray(written), pixels >> 8)


def test_16bit_photo_written_as_jpeg_is_8bit(tmp_path: Path) -> None:
    photo = read_photo(save_png_16bit(tmp_path / "in.png", np.full((8, 8, 3), 40000, np.uint16)))
    write_photo(photo, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as written:
        assert written.mode == "RGB"
        assert np.abs(np.asarray(written).astype(int) - round(40000 / 257)).max() <= 1


def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path) -> None:
    pixels = np.zeros((16, 32, 3), np.uint8)
    pixels[:, :16] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    Image.fromarray(pixels).save(tmp_path / "in.jpg", exif=exif, quality=100)

    photo = read_photo(tmp_path / "in.jpg")
    assert photo.rgb.shape == (3, 32, 16)
    assert photo.rgb[:, :12].min() > 0.9 and photo.rgb[:, 20:].max() < 0.1  # white on top
    with Image.open(tmp_path / "in.jpg") as opened:
        upright = np.asarray(ImageOps.exif_transpose(opened))
    np.testing.assert_array_equal(as_levels(photo.rgb.permute(1, 2, 0), 255), upright)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(random_pixels((3, 5, 3))).save(tmp_path / "in.png", exif=exif)

    photo = read_photo(tmp_path / "in.png")
    with Image.open(tmp_path / "in.png") as opened:
        upright = np.asarray(ImageOps.exif_transpose(opened))
    np.testing.assert_array_equal(as_levels(photo.rgb.permute(1, 2, 0), 255), upright)


def test_palette_with_transparency_gets_alpha(tmp_path: Path) -> None:
    indices = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    image.save(tmp_path / "in.png", transparency=1)

    photo = read_photo(tmp_path / "in.png")
    assert not photo.grayscale and photo.alpha is not None
    np.testing.assert_array_equal(photo.alpha.numpy(), (indices != 1).astype(np.float32))
    np.testing.assert_array_equal(photo.rgb[:, 0, 0].numpy(), [1, 0, 0])
    np.testing.assert_array_equal(photo.rgb[:, 0, 2].numpy(), [0, 0, 1])

    image.save(tmp_path / "opaque.png")
    assert read_photo(tmp_path / "opaque.png").alpha is None


def test_cmyk_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (4, 3), (0, 255, 255, 0)).save(tmp_path / "in.jpg", quality=100)
    photo = read_photo(tmp_path / "in.jpg")
    assert photo.rgb.shape == (3, 3, 4) and not photo.grayscale
    assert photo.rgb[0].min() > 0.9 and photo.rgb[1:].max() < 0.1


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "empty"), (b"certainly not an image", "not a readable image")],
)
def test_unreadable_files_raise_photo_error_naming_them(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "photo.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PhotoError, match=message) as raised:
        read_photo(path)
    assert "photo.jpg" in str(raised.value)


def test_truncated_png_raises_photo_error(tmp_path: Path) -> None:
    Image.fromarray(random_pixels((32, 32, 3))).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:200])
    with pytest.raises(PhotoError, match=r"cut\.png"):
        read_photo(tmp_path / "cut.png")


def test_refuses_to_overwrite_and_leaves_the_file_alone(tmp_path: Path) -> None:
    Image.fromarray(random_pixels((4, 4, 3))).save(tmp_path / "in.png")
    photo = read_photo(tmp_path / "in.png")
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")

    with pytest.raises(FileExistsError, match="--overwrite"):
        write_photo(photo, target)
    assert target.read_bytes() == b"precious"

    write_photo(photo, target, overwrite=True)
    assert read_photo(target).rgb.equal(photo.rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(random_pixels((4, 4, 3))).save(tmp_path / "in.png")
    photo = read_photo(tmp_path / "in.png")

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_photo(photo, tmp_path / "out.png")
    assert [p.name for p in tmp_path.iterdir()] == ["in.png"]


def test_unknown_suffix_names_the_supported_ones(tmp_path: Path) -> None:
    photo = Photo(torch.zeros(3, 2, 2), None, 8, False, tmp_path / "in.png")
    with pytest.raises(PhotoError, match=r"'\.gif'.*\.png"):
        write_photo(photo, tmp_path / "out.gif")
    assert set(photos.WRITE_FORMATS) >= {".png", ".jpg", ".tif", ".webp"}


def test_writing_rounds_to_nearest_and_clips(tmp_path: Path) -> None:
    rgb = torch.tensor([0.4 / 255, 0.6 / 255, -0.5, 1.5, 100.4 / 255, 254.6 / 255]).view(3, 1, 2)
    write_photo(Photo(rgb, None, 8, False, tmp_path / "in.png"), tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as written:
        np.testing.assert_array_equal(
            np.asarray(written).transpose(2, 0, 1).ravel(), [0, 1, 0, 255, 100, 255]
        )


def test_with_rgb_swaps_pixels_and_checks_shape(tmp_path: Path) -> None:
    photo = Photo(torch.zeros(3, 2, 2), torch.ones(2, 2), 16, False, tmp_path / "in.png")
    restored = photo.with_rgb(torch.full((3, 2, 2), 0.5))
    assert restored.rgb.eq(0.5).all() and restored.alpha is photo.alpha and restored.bit_depth == 16
    with pytest.raises(ValueError, match=r"alpha: expected shape \(3, 3\)"):
        photo.with_rgb(torch.zeros(3, 3, 3))


def test_float_gray_tiff_is_read_as_values_in_0_1(tmp_path: Path) -> None:
    values = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    Image.fromarray(values, mode="F").save(tmp_path / "float.tif")
    photo = read_photo(tmp_path / "float.tif")
    assert photo.grayscale and photo.bit_depth == 32
    np.testing.assert_allclose(photo.rgb[0].numpy(), values)


@pytest.mark.parametrize("hard_links", [True, False], ids=["link", "no-hard-links"])
def test_two_writers_of_one_new_file_one_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool
) -> None:
    # Both writers pass the existence check and encode their whole file before either gives it its name.
    both_encoded = threading.Barrier(2, timeout=10)
    save = Image.Image.save

    def save_then_wait(image: Image.Image, *args: object, **kwargs: object) -> None:
        save(image, *args, **kwargs)
        both_encoded.wait()

    def refuse_links(*args: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(Image.Image, "save", save_then_wait)
    if not hard_links:
        monkeypatch.setattr(utils.os, "link", refuse_links)
    target = tmp_path / "out.png"
    rivals = [Photo(torch.full((3, 4, 5), level / 255), None, 8, False) for level in (10, 200)]
    outcomes: dict[int, object] = {}

    def write(index: int) -> None:
        try:
            outcomes[index] = write_photo(rivals[index], target)
        except Exception as error:
            outcomes[index] = error

    writers = [threading.Thread(target=write, args=(index,)) for index in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    winners = [index for index, outcome in outcomes.items() if outcome == target]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, FileExistsError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert str(losers[0]) == f"{target}: already exists; pass --overwrite to replace it."
    assert read_photo(target).rgb.equal(rivals[winners[0]].rgb)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.parametrize(("suffix", "frames"), [(".gif", 3), (".tif", 2)])
def test_several_frames_are_refused_naming_the_count(tmp_path: Path, suffix: str, frames: int) -> None:
    images = [Image.fromarray(random_pixels((6, 8, 3), seed=seed)) for seed in range(frames)]
    path = tmp_path / f"several{suffix}"
    images[0].save(path, save_all=True, append_images=images[1:])
    with pytest.raises(PhotoError) as refused:
        read_photo(path)
    assert str(refused.value) == (
        f"{path}: has {frames} frames (an animation or a multi-page file); tpir restores still images: "
        "extract the frame you want first."
    )


def test_a_one_frame_gif_is_read(tmp_path: Path) -> None:
    pixels = random_pixels((6, 8), seed=3)
    Image.fromarray(pixels).save(tmp_path / "still.gif")
    photo = read_photo(tmp_path / "still.gif")
    assert photo.rgb.shape == (3, 6, 8)
    np.testing.assert_array_equal(as_levels(photo.rgb, 255), np.stack([pixels] * 3))  # a gray palette


def test_a_folder_no_file_can_be_made_in_is_found_before_writing() -> None:
    # /proc refuses new files even to root, for whom os.access says yes everywhere.
    with pytest.raises(PhotoError, match=r"^/proc/x\.png: cannot write into /proc \(.+\)\.$"):
        photos.check_writable("/proc/x.png")


def test_a_tiff_whose_second_page_has_no_size_raises_photo_error(tmp_path: Path) -> None:
    stream = io.BytesIO()
    Image.fromarray(random_pixels((10, 12, 3))).save(stream, format="TIFF")
    data = bytearray(stream.getvalue())
    first = struct.unpack("<I", data[4:8])[0]  # little-endian TIFF: the first page's directory
    entries = struct.unpack("<H", data[first : first + 2])[0]
    # The first page now points to a second one whose directory holds a height but no width.
    data[first + 2 + 12 * entries : first + 6 + 12 * entries] = struct.pack("<I", len(data))
    data += struct.pack("<HHHII", 1, 257, 4, 1, 10) + struct.pack("<I", 0)
    (tmp_path / "broken.tif").write_bytes(bytes(data))
    # Pillow raises TypeError("Missing dimensions") while counting the pages.
    with pytest.raises(PhotoError, match=r"broken\.tif: not a readable image \(Missing dimensions\)"):
        read_photo(tmp_path / "broken.tif")


def test_the_training_reader_names_an_unreadable_image(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(PhotoError, match=r"broken.png: not a readable image"):
        photos.read_image_uint8(broken)


def test_the_training_reader_makes_grayscale_and_16_bit_images_8_bit_rgb(tmp_path: Path) -> None:
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((5, 6), 77, np.uint8)).save(gray)
    assert photos.read_image_uint8(gray).shape == (3, 5, 6)
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((5, 6), 65535, np.uint16)).save(deep)
    image = photos.read_image_uint8(deep)
    assert image.shape == (3, 5, 6) and int(image.max()) == 255
