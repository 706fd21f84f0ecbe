"""The model folder: its config as a dataclass, folders written before the format changed, and a MiniLM text
encoder stored as its differences from the installed one."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tpir.inference.folder import FORMAT_VERSION, ModelConfig, ModelFolderError
from tpir.inference.restorer import Restorer
from tpir.models.guidance import TextGuidance
from tpir.notebook import TINY_BACKBONE, TINY_TEXT_WIDTH
from tpir.text.encoder import TextEncoder, load_minilm

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


def minilm_restorer() -> Restorer:
    """A tiny three-task model whose text encoder is the installed MiniLM."""
    encoder = TextEncoder.from_bundle(load_minilm())
    tasks = ["denoise", "derain", "dehaze"]
    return Restorer.assemble(tasks, TINY_BACKBONE, TextGuidance(encoder), encoder)


def test_a_fine_tuned_minilm_is_stored_as_its_changed_tensors(tmp_path: Path) -> None:
    model = minilm_restorer()
    top = "encoder.layer.5.output."
    changed = [top + "dense.weight", top + "dense.bias", top + "LayerNorm.weight", top + "LayerNorm.bias"]
    with torch.no_grad():
        weights = model.text_encoder.bert.state_dict()
        for name in changed:
            weights[name].add_(0.01)
    folder = model.save_pretrained(tmp_path / "model")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "text_encoder",
        "text_encoder/base.json",
        "text_encoder/delta.safetensors",
    ]
    assert sorted(load_file(folder / "text_encoder" / "delta.safetensors")) == sorted(changed)
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 5_000_000
    again = Restorer.from_pretrained(folder)
    prompts = ["remove the rain", "clear the haze but keep the grain"]
    assert torch.equal(again.text_encoder.encode(prompts), model.text_encoder.encode(prompts))
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.restore(image, prompts[0]), model.restore(image, prompts[0]))


def test_a_folder_whose_encoder_base_is_not_installed_is_refused_naming_it(tmp_path: Path) -> None:
    folder = minilm_restorer().save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in (folder / "text_encoder").iterdir()) == ["base.json"]
    named = json.loads((folder / "text_encoder" / "base.json").read_text())
    named["base"]["sha256"] = "f" * 64
    (folder / "text_encoder" / "base.json").write_text(json.dumps(named))
    with pytest.raises(ModelFolderError, match=r"model: its text encoder is stored as changes to gt-all-min"):
        Restorer.from_pretrained(folder)


def test_a_folder_of_another_encoder_keeps_it_whole(model_folder: Path) -> None:
    names = {p.name for p in (model_folder / "text_encoder").iterdir()}
    assert {"config.json", "model.safetensors"} <= names and "base.json" not in names
    assert Restorer.from_pretrained(model_folder).text_encoder.dim == TINY_TEXT_WIDTH
