"""The model folder: its config as a dataclass, and folders written before the format changed."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tpir.inference.folder import FORMAT_VERSION, ModelConfig, ModelFolderError
from tpir.inference.restorer import Restorer

FIXTURES = Path(__file__).parent.parent / "fixtures"
# A tiny three-task model with a degradation estimator, saved by tpir at format version 2 (commit 0053fe8),
# and what that tpir restored with it.
VERSION_2 = FIXTURES / "model_folder_v2"
VERSION_2_RESTORED = FIXTURES / "model_folder_v2_restored.safetensors"


def test_a_version_2_folder_loads_and_restores_as_it_did(tmp_path: Path) -> None:
    model = Restorer.from_pretrained(VERSION_2, precision="fp32")
    assert model.config.format_version == FORMAT_VERSION
    assert model.config.guidance["arguments"]["parsed_tasks"] == ["denoise", "derain", "dehaze"]
    expected = load_file(VERSION_2_RESTORED)
    image = expected["image"]
    # "remove the rain": all of the change is kept, as before.
    torch.testing.assert_close(model.restore(image, "remove the rain", tile=None), expected["restored_0"])
    # A share of the change (sigma 10 of an estimated 20): the same wherever the backbone's output is in
    # [0, 1]; elsewhere it is now steered before it is clamped, as training steers.
    partial = model.restore(image, "denoise with sigma 10", tile=None)
    backbone = model(image, model.interpret("denoise with sigma 10").z)
    inside = backbone.ge(0) & backbone.le(1)
    assert inside.float().mean() > 0.9
    torch.testing.assert_close(partial[inside], expected["restored_1"][inside])
    # Saved again, it is a folder of today's version, with the same weights under today's names.
    saved = model.save_pretrained(tmp_path / "again")
    assert json.loads((saved / "config.json").read_text())["format_version"] == FORMAT_VERSION
    keys = set(load_file(saved / "model.safetensors"))
    assert any(k.startswith("backbone.prompt_projection.") for k in keys)
    assert not any(k.startswith("backbone.guidance.") for k in keys)
    again = Restorer.from_pretrained(saved, precision="fp32")
    torch.testing.assert_close(again.restore(image, "remove the rain", tile=None), expected["restored_0"])


def test_the_config_round_trips_through_json() -> None:
    config = Restorer.from_pretrained(VERSION_2, precision="fp32").config
    assert ModelConfig.from_json(config.to_json()) == config


def test_a_folder_of_an_unknown_version_is_refused_in_one_sentence(tmp_path: Path) -> None:
    folder = tmp_path / "future"
    shutil.copytree(VERSION_2, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(
        ModelFolderError, match=r"future: format version 99; this tpir reads versions 2 and 3"
    ):
        Restorer.from_pretrained(folder)
