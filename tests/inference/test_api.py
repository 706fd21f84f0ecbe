"""``tpir.load(folder).restore(image, prompt)`` on every kind of image it takes, and ``tpir.load()``'s default."""

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import tpir
from tpir.cli import common
from tpir.data.photos import PhotoError, read_photo
from tpir.inference.folder import ModelFolderError
from tpir.inference.interpretation import PromptWarning

PROMPT = "please remove the rain"


@pytest.fixture(scope="module")
def model(model_folder: Path) -> "tpir.inference.restorer.Restorer":
    return tpir.load(model_folder)


def rgb_pixels(height: int = 20, width: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_a_tensor_gives_the_same_shape_back(model) -> None:
    image = torch.rand(3, 21, 30, generator=torch.Generator().manual_seed(0))
    restored = model.restore(image, PROMPT)
    assert restored.shape == image.shape and restored.dtype == torch.float32
    assert float(restored.min()) >= 0 and float(restored.max()) <= 1
    assert not torch.equal(restored, image)  # the tiny model changes pixels
    batch = model.restore(image[None].repeat(2, 1, 1, 1), PROMPT)
    torch.testing.assert_close(batch[0], restored)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_a_numpy_array_gives_its_shape_and_dtype_back(model, dtype) -> None:
    pixels = rgb_pixels().astype(np.float64) / 255
    if np.issubdtype(dtype, np.integer):
        array = (pixels * np.iinfo(dtype).max).round().astype(dtype)
    else:
        array = pixels.astype(dtype)
    restored = model.restore(array, PROMPT)
    assert restored.shape == array.shape and restored.dtype == array.dtype
    gray = model.restore(array[..., 0], PROMPT)
    assert gray.shape == array.shape[:2] and gray.dtype == array.dtype
    one_channel = model.restore(array[..., :1], PROMPT)
    assert one_channel.shape == (*array.shape[:2], 1) and one_channel.dtype == array.dtype


def test_a_pil_image_keeps_its_mode_and_alpha(model) -> None:
    rgba = np.dstack([rgb_pixels(), np.full((20, 28), 77, np.uint8)])
    restored = model.restore(Image.fromarray(rgba), PROMPT)
    assert restored.mode == "RGBA" and restored.size == (28, 20)
    assert (np.asarray(restored)[..., 3] == 77).all()
    assert model.restore(Image.fromarray(rgb_pixels()).convert("L"), PROMPT).mode == "L"


def test_a_path_gives_a_pil_image_and_restore_file_writes_the_same(model, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.fromarray(rgb_pixels()).save(source)
    restored = model.restore(source, PROMPT)
    assert isinstance(restored, Image.Image) and restored.size == (28, 20)
    model.restore_file(source, tmp_path / "out.png", PROMPT)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(restored))
    with pytest.raises(FileExistsError):
        model.restore_file(source, tmp_path / "out.png", PROMPT)


def test_tiles_and_one_piece_agree_on_a_large_image(model) -> None:
    image = torch.rand(1, 3, 96, 120, generator=torch.Generator().manual_seed(1))
    whole = model.restore(image, PROMPT, tile=None)
    tiled = model.restore(image, PROMPT, tile=64, overlap=16)
    assert (whole - tiled).abs().mean() < 0.01


def test_the_prompt_is_read_once_and_bad_input_is_one_sentence(model) -> None:
    assert model.interpret(PROMPT) is model.interpret(PROMPT)
    with pytest.raises(ValueError, match="the prompt is empty"):
        model.restore(torch.rand(3, 8, 8), "  ")
    with pytest.raises(PhotoError, match=r"shape \(2, 3, 4, 5\)"):
        model.restore(np.zeros((2, 3, 4, 5), np.uint8), PROMPT)
    with pytest.raises(TypeError, match="expected a path, PIL image, numpy array or tensor"):
        model.restore([1, 2, 3], PROMPT)
    with pytest.raises(PhotoError, match="no such file"):
        read_photo("missing.png")


def test_a_low_confidence_prompt_gives_a_note_and_a_warning(model) -> None:
    read = model.interpret("make it look like a cat")  # the tiny encoder is never sure of a free prompt
    assert read.parsed.is_doubtful and read.notes[0].startswith(
        "the prompt is understood with low confidence"
    )
    assert f"note: {read.notes[0]}" in read.summary()
    image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    with pytest.warns(PromptWarning) as caught:
        model.restore(image, "make it look like a cat")
    assert [str(w.message) for w in caught] == [f"'make it look like a cat': {note}" for note in read.notes]
    assert {w.filename for w in caught} == {__file__}  # they point at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a prompt read beforehand, or named by words, warns of nothing
        model.restore(image, read)
        model.restore(image, PROMPT)
        assert model.interpret(PROMPT).notes == ()


def test_load_without_a_folder_takes_tpir_model_else_the_packaged_model(
    model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("TPIR_MODEL", raising=False)
    monkeypatch.setattr(common, "PACKAGED_MODEL", model_folder)
    with caplog.at_level(logging.INFO, logger="tpir"):
        packaged = tpir.load()
    assert f"model: {model_folder} (packaged)" in caplog.messages
    assert packaged.config == tpir.load(model_folder).config
    monkeypatch.setenv("TPIR_MODEL", str(tmp_path / "elsewhere"))
    with pytest.raises(ModelFolderError, match=r"elsewhere: not a tpir model folder \(no config.json\)"):
        tpir.load()
