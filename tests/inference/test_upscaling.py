"""``--scale`` and ``restore(..., scale=)``: a photo enlarged first, then restored with a resize prompt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import tpir
from tpir.cli.restore import main
from tpir.data.photos import read_photo
from tpir.inference.interpretation import upscaling_prompt
from tpir.notebook import tiny_model
from tpir.text.encoder import PromptError


@pytest.fixture(scope="module")
def resize_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random model of noise and resolution loss, saved once."""
    return tiny_model(tasks=("denoise", "resize")).save_pretrained(
        tmp_path_factory.mktemp("resize") / "model"
    )


def test_the_prompt_asks_to_undo_the_enlargement_too() -> None:
    tasks = ("denoise", "resize")
    assert upscaling_prompt(None, 2, tasks) == "undo the 2x downscaling"
    assert (
        upscaling_prompt("Remove the noise.", 2.5, tasks) == "Remove the noise, and undo the 2.5x downscaling"
    )
    with pytest.raises(PromptError, match=r"not trained to restore resolution.*denoise"):
        upscaling_prompt("remove the noise", 2, ("denoise",))
    with pytest.raises(PromptError, match="from 1 to 4"):
        upscaling_prompt(None, 6, tasks)


def test_the_parser_reads_both_requests(resize_folder: Path) -> None:
    model = tpir.load(resize_folder)
    read = model.interpret(upscaling_prompt("remove the noise", 2, model.tasks))
    assert read.parsed is not None and set(read.parsed.removes(model.tasks)) == {"denoise", "resize"}


def test_every_kind_of_image_comes_back_scale_times_larger(resize_folder: Path) -> None:
    model = tpir.load(resize_folder)
    tensor = torch.rand(3, 20, 30, generator=torch.Generator().manual_seed(0))
    assert model.restore(tensor, "remove the noise", scale=2).shape == (3, 40, 60)
    array = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    restored = model.restore(array, None, scale=1.5)
    assert restored.shape == (30, 45, 3) and restored.dtype == np.uint8
    rgba = Image.fromarray(np.dstack([array, np.full((20, 30), 200, np.uint8)]), "RGBA")
    big = model.restore(rgba, "", scale=2)
    assert big.size == (60, 40) and big.mode == "RGBA" and np.asarray(big)[..., 3].min() >= 199


def test_tpir_restore_scale_writes_a_photo_twice_the_size(
    capsys: pytest.CaptureFixture[str], resize_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(1).random((24, 32, 3)) * 255).astype(np.uint8)).save(source)
    target = tmp_path / "large.png"
    status = main([str(source), "--scale", "2", "--model", str(resize_folder), "-o", str(target)])
    out = capsys.readouterr().out
    assert status == 0 and "undo the 2x downscaling" in out
    assert read_photo(target).rgb.shape == (3, 48, 64)


def test_tpir_restore_scale_refuses_a_model_without_resize(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "small.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(source)
    status = main([str(source), "--scale", "2", "--prompt", "remove the rain", "--model", str(model_folder)])
    err = capsys.readouterr().err
    assert status == 2 and "--scale" in err and "not trained to restore resolution" in err
    assert not (tmp_path / "small_restored.png").exists()


def test_tpir_restore_needs_a_prompt_without_scale(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "a.png")])
    assert exit_.value.code == 2 and "--prompt is required" in capsys.readouterr().err
