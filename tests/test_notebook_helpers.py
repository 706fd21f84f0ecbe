"""The notebooks' helpers: smoke mode, the project root, the model they load, bundled crops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tpir import notebook
from tpir.inference.restorer import Restorer
from tpir.notebook import SMOKE_ENV, bundled_crop, find_project_root, notebook_restorer, smoke

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("value", "expected"), [(None, False), ("", False), ("0", False), ("false", False), ("1", True)]
)
def test_smoke_reads_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool):
    if value is None:
        monkeypatch.delenv(SMOKE_ENV, raising=False)
    else:
        monkeypatch.setenv(SMOKE_ENV, value)
    assert smoke() is expected


def test_find_project_root_walks_up_from_notebooks(tmp_path: Path):
    assert find_project_root(ROOT / "notebooks") == ROOT
    assert find_project_root(ROOT / "src" / "tpir") == ROOT
    # Outside any tpir project: the start folder itself.
    assert find_project_root(tmp_path) == tmp_path.resolve()


def test_load_model_smoke_mode_ignores_the_folder(
    monkeypatch: pytest.MonkeyPatch, model_folder: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv(SMOKE_ENV, "1")
    built = []
    monkeypatch.setattr(notebook, "tiny_model", lambda: built.append(1) or "tiny")
    assert notebook_restorer(model_folder) == "tiny"
    assert built == [1]
    assert "smoke mode" in capsys.readouterr().out


def test_load_model_loads_the_folder_or_falls_back(
    monkeypatch: pytest.MonkeyPatch, model_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv(SMOKE_ENV, raising=False)
    model = notebook_restorer(model_folder)
    assert isinstance(model, Restorer)
    assert f"model: {model_folder}" in capsys.readouterr().out

    monkeypatch.setattr(notebook, "tiny_model", lambda: "tiny")
    assert notebook_restorer(tmp_path / "missing") == "tiny"
    assert "no model folder" in capsys.readouterr().out


def test_load_model_resolves_relative_paths_from_the_project_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv(SMOKE_ENV, raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    monkeypatch.setattr(notebook, "tiny_model", lambda: "tiny")
    notebook_restorer("no/such/model")
    assert f"no model folder at {ROOT / 'no' / 'such' / 'model'}" in capsys.readouterr().out


def test_bundled_crop_is_the_centre_crop():
    crop = bundled_crop("skimage:coffee.png", 64)
    whole = bundled_crop("skimage:coffee.png", None)
    height, width = whole.shape[-2:]
    top, left = (height - 64) // 2, (width - 64) // 2
    assert crop.shape == (3, 64, 64) and crop.dtype == torch.float32
    torch.testing.assert_close(crop, whole[:, top : top + 64, left : left + 64])
    assert float(crop.min()) >= 0.0 and float(crop.max()) <= 1.0
    with pytest.raises(ValueError, match="crop size"):
        bundled_crop("skimage:coffee.png", 10_000)
