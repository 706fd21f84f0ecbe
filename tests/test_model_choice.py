"""Which model folder the commands use when none is named: TPIR_MODEL, else the packaged one, else the demo's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tpir.cli import common
from tpir.cli.common import ModelChoice, choose_model
from tpir.cli.restore import main

PROMPT = "remove the rain"


@pytest.fixture
def packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the packaged model would be (absent until a test makes it), with no TPIR_MODEL set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TPIR_MODEL", raising=False)
    monkeypatch.delenv("TPIR_OUTPUT_DIR", raising=False)
    folder = tmp_path / "site-packages" / "tpir" / "resources" / "model"
    monkeypatch.setattr(common, "PACKAGED_MODEL", folder)
    return folder


def test_the_given_folder_else_tpir_model_else_the_packaged_else_the_demo(
    packaged: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert choose_model() == ModelChoice(Path("outputs/demo/model"), "demo")
    monkeypatch.setenv("TPIR_OUTPUT_DIR", str(tmp_path / "runs"))
    assert choose_model() == ModelChoice(tmp_path / "runs" / "demo" / "model", "demo")
    packaged.mkdir(parents=True)
    assert choose_model() == ModelChoice(packaged, "packaged")
    monkeypatch.setenv("TPIR_MODEL", "mine")
    assert choose_model() == ModelChoice(Path("mine"), "TPIR_MODEL")
    assert choose_model("given") == ModelChoice(Path("given"), "--model")
    assert choose_model("given", given_as="model_dir").summary() == "model: given (model_dir)"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``tpir-restore photo.png --prompt PROMPT argv``."""
    Image.fromarray(np.full((24, 32, 3), 128, np.uint8)).save("photo.png")
    status = main(["photo.png", "--prompt", PROMPT, "--overwrite", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_tpir_restore_says_which_model_it_used(
    capsys: pytest.CaptureFixture[str], model_folder: Path, packaged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run(capsys)
    assert (status, out) == (2, "")
    assert err == (
        "tpir-restore: error: no model folder at outputs/demo/model: pass --model, set TPIR_MODEL, or run "
        "`make demo`, which exports one there.\n"
    )
    demo = Path("outputs/demo/model")
    demo.parent.mkdir(parents=True)
    demo.symlink_to(model_folder)
    status, out, err = run(capsys)
    assert (status, err) == (0, "") and out.splitlines()[0] == f"model: {demo} (demo)"
    assert Path("photo_restored.png").is_file()
    packaged.parent.mkdir(parents=True)
    packaged.symlink_to(model_folder)
    assert run(capsys)[1].splitlines()[0] == f"model: {packaged} (packaged)"
    monkeypatch.setenv("TPIR_MODEL", str(model_folder))
    assert run(capsys)[1].splitlines()[0] == f"model: {model_folder} (TPIR_MODEL)"
    assert run(capsys, "--model", str(demo))[1].splitlines()[0] == f"model: {demo} (--model)"


def test_a_missing_tpir_model_folder_is_one_line(
    capsys: pytest.CaptureFixture[str], packaged: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TPIR_MODEL", str(tmp_path / "gone"))
    status, out, err = run(capsys)
    assert (status, out) == (2, "")
    assert err == f"tpir-restore: error: TPIR_MODEL={tmp_path / 'gone'}: no such folder.\n"
