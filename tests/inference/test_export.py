"""Export of a training checkpoint into a model folder, and loading it back."""

import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from tpir.inference.export import main as export_main
from tpir.inference.model import ModelFolderError, RestorationModel
from tpir.train import train

STEPS = ("trainer.max_steps=2", "trainer.val_check_interval=2", "degradation=noise_rain")
PROMPT = "please remove the rain streaks"


def trained_run(compose_config, small_run: tuple[str, ...], guidance: str):
    cfg = compose_config(*small_run, *STEPS, f"guidance={guidance}")
    train(cfg)
    return cfg, Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize("guidance", ["text", "onehot", "none"])
def test_exported_model_restores_like_the_trained_module(
    compose_config, small_restore_run, tmp_path: Path, guidance: str
) -> None:
    cfg, checkpoint = trained_run(compose_config, small_restore_run, guidance)
    module = instantiate(cfg.module)
    module.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"])
    module.eval()
    image = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = module(image, [PROMPT], torch.tensor([1])).clamp(0, 1)  # task 1: derain

    exported = RestorationModel.from_checkpoint(checkpoint, cfg)
    folder = exported.save(tmp_path / "model")
    loaded = RestorationModel.load(folder)
    for model in (exported, loaded):
        torch.testing.assert_close(model.restore(image, PROMPT), expected, atol=1e-6, rtol=0)
    assert loaded.understand(PROMPT).category in loaded.centroids.categories
    spec = json.loads((folder / "tpir_model.json").read_text())
    assert spec["guidance"] == guidance and spec["tasks"] == ["denoise", "derain"]
    assert spec["provenance"]["global_step"] == 2


def test_export_refuses_an_encoder_the_run_did_not_use(compose_config, small_restore_run) -> None:
    cfg, checkpoint = trained_run(compose_config, small_restore_run, "text")
    cfg.text_encoder.seed = cfg.seed + 1  # another random BERT: other embeddings
    with pytest.raises(ModelFolderError, match="does not give the embeddings"):
        RestorationModel.from_checkpoint(checkpoint, cfg)


class NotATensor:
    pass


def test_checkpoints_that_need_unpickling_are_refused(tmp_path: Path) -> None:
    checkpoint = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": NotATensor()}, checkpoint)
    with pytest.raises(ModelFolderError, match="not a checkpoint that loads safely"):
        RestorationModel.from_checkpoint(checkpoint, tmp_path / "config.yaml")


def test_export_cli_reports_problems_in_one_line(tmp_path: Path, capsys) -> None:
    assert export_main([str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.ckpt: no such checkpoint file" in err[0]
    (tmp_path / "out").mkdir()
    assert export_main([str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "out")]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def test_loading_a_folder_that_is_not_a_model_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not a tpir model folder"):
        RestorationModel.load(tmp_path)


def test_overwrite_replaces_only_a_model_folder(model_folder: Path, tmp_path: Path) -> None:
    model = RestorationModel.load(model_folder)
    user_folder = tmp_path / "thesis"
    user_folder.mkdir()
    (user_folder / "thesis.tex").write_text("months of work")
    with pytest.raises(FileExistsError, match="not a tpir model folder"):
        model.save(user_folder, overwrite=True)
    assert (user_folder / "thesis.tex").read_text() == "months of work"
    first = model.save(tmp_path / "model")
    model.save(first, overwrite=True)  # an existing model folder is replaced
    assert RestorationModel.load(first).spec == model.spec
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "thesis"]  # nothing left beside it
