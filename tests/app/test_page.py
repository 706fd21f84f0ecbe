"""What one restore on the page does, without a browser: the file's own form back, one message per mistake."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason='the app extra is not installed: pip install -e ".[app]"')

from tpir.app import page
from tpir.app.page import AppError, ModelShelf, find_models, restore_upload
from tpir.data.photos import read_photo

PROMPT = "please remove the rain"


@pytest.fixture(scope="module")
def shelf() -> ModelShelf:
    return ModelShelf()


def test_a_16bit_rgba_photo_comes_back_16bit_with_its_alpha(
    shelf, model_folder: Path, tmp_path: Path
) -> None:
    pixels = np.random.default_rng(0).integers(0, 65536, (12, 16, 4), dtype=np.uint16)
    source = tmp_path / "deep.png"
    from tpir.data.photos import _write_png_16bit

    with source.open("wb") as stream:
        _write_png_16bit(pixels, stream)
    calls = []
    result = restore_upload(
        shelf, model_folder, str(source), PROMPT, tmp_path, lambda done, total: calls.append((done, total))
    )
    restored = read_photo(result.file)
    assert result.file.name == "deep_restored.png" and restored.bit_depth == 16
    np.testing.assert_array_equal((restored.alpha.numpy() * 65535).round(), pixels[..., 3])
    assert calls == [(1, 1)] and "Understood" in result.understood
    assert result.before.size == result.after.size == (16, 12)


def photo(tmp_path: Path) -> str:
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize(
    ("upload", "prompt", "message"),
    [
        (None, PROMPT, "Drop or pick a photo first"),
        ("photo", "   ", "The prompt: the prompt is empty"),
        ("photo", "rain " * 200, "The prompt: the prompt is .* tokens long"),
        ("broken", PROMPT, "broken.png: not a readable image"),
    ],
)
def test_each_mistake_is_one_message(
    shelf, model_folder: Path, tmp_path: Path, upload, prompt, message
) -> None:
    (tmp_path / "broken.png").write_bytes(b"not an image")
    path = {None: None, "photo": photo(tmp_path), "broken": str(tmp_path / "broken.png")}[upload]
    with pytest.raises(AppError, match=message):
        restore_upload(shelf, model_folder, path, prompt, tmp_path)


def test_an_unusable_model_and_a_photo_over_the_limit_are_messages(
    shelf, model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AppError, match="not a tpir model folder"):
        restore_upload(shelf, tmp_path, photo(tmp_path), PROMPT, tmp_path)
    monkeypatch.setattr(page, "MAX_PIXELS", 50)
    with pytest.raises(
        AppError, match=r"photo\.png is 8 x 8 pixels; the page restores photos up to 50 pixels"
    ):
        restore_upload(shelf, model_folder, photo(tmp_path), PROMPT, tmp_path)


def test_the_model_list_holds_the_exported_folders(model_folder: Path, tmp_path: Path) -> None:
    assert find_models(model_folder.parent) == [model_folder]
    assert find_models(tmp_path / "missing") == []


def test_a_low_confidence_prompt_is_said_so_on_the_page(shelf, model_folder: Path, tmp_path: Path) -> None:
    result = restore_upload(shelf, model_folder, photo(tmp_path), "make it look like a cat", tmp_path)
    assert "note: the prompt is understood with low confidence (0." in result.understood
    assert "note:" not in restore_upload(shelf, model_folder, photo(tmp_path), PROMPT, tmp_path).understood
