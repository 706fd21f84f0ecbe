"""Export of a training checkpoint into a model folder, and loading it back."""

import json
from pathlib import Path

import pytest
import torch

from tpir.cli.export import main as export_main
from tpir.cli.train import train
from tpir.inference.checkpoints import restorer_from_checkpoint
from tpir.inference.folder import ModelFolderError
from tpir.inference.restorer import Restorer
from tpir.models.lit_module import RestorationLitModule

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
    _, checkpoint = trained_run(compose_config, small_restore_run, guidance)
    # The checkpoint alone rebuilds the module: its hyper-parameters are its config, as plain values.
    module = RestorationLitModule.load_from_checkpoint(
        checkpoint, map_location="cpu", weights_only=True
    ).eval()
    image = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = module(image, [PROMPT], torch.tensor([1])).clamp(0, 1)  # task 1: derain

    exported = restorer_from_checkpoint(checkpoint)
    folder = exported.save_pretrained(tmp_path / "model")
    loaded = Restorer.from_pretrained(folder, precision="fp32")
    for model in (exported, loaded):
        torch.testing.assert_close(model.restore(image, PROMPT), expected, atol=1e-5, rtol=0)
        assert model.interpret(PROMPT).match.category in model.centroids.categories
    config = json.loads((folder / "config.json").read_text())
    expected_class = {"text": "TextGuidance", "onehot": "TaskEmbeddingGuidance", "none": "NoGuidance"}
    assert config["guidance"]["class"] == expected_class[guidance] and config["tasks"] == [
        "denoise",
        "derain",
    ]
    assert config["provenance"]["global_step"] == 2
    assert "Training configuration" in (folder / "README.md").read_text()


def _resaved(checkpoint: Path, change) -> Path:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    change(saved["hyper_parameters"])
    path = checkpoint.with_name("changed.ckpt")
    torch.save(saved, path)
    return path


def test_export_refuses_an_encoder_the_run_did_not_use(compose_config, small_restore_run) -> None:
    _, checkpoint = trained_run(compose_config, small_restore_run, "text")

    def other_encoder(hparams: dict) -> None:
        hparams["guidance"]["encoder"]["bundle"]["seed"] += 1  # another random BERT: other embeddings

    with pytest.raises(ModelFolderError, match="do not give the embeddings it was trained with"):
        restorer_from_checkpoint(_resaved(checkpoint, other_encoder))


def test_export_refuses_a_checkpoint_that_names_foreign_code(compose_config, small_restore_run) -> None:
    _, checkpoint = trained_run(compose_config, small_restore_run, "none")

    for target in ("os.system", "tpir.inference.folder.os.system", "tpir.utils.write_text_atomic"):

        def foreign(hparams: dict, target: str = target) -> None:
            hparams["optimizer"]["_target_"] = target

        with pytest.raises(ModelFolderError, match=f"names '{target}', which is not a part of a tpir model"):
            restorer_from_checkpoint(_resaved(checkpoint, foreign))


class NotATensor:
    pass


def test_checkpoints_that_need_unpickling_are_refused(tmp_path: Path) -> None:
    checkpoint = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": NotATensor()}, checkpoint)
    with pytest.raises(ModelFolderError, match="not a checkpoint that loads safely"):
        restorer_from_checkpoint(checkpoint)


def test_export_cli_reports_problems_in_one_line(tmp_path: Path, capsys) -> None:
    assert export_main([str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.ckpt: no such checkpoint file" in err[0]
    (tmp_path / "out").mkdir()
    assert export_main([str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "out")]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert export_main([str(tmp_path), "-o", str(tmp_path / "other")]) == 2
    assert "without checkpoints/best.ckpt or checkpoints/last.ckpt" in capsys.readouterr().err


def test_loading_a_folder_that_is_not_a_model_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not a tpir model folder"):
        Restorer.from_pretrained(tmp_path)


def test_overwrite_replaces_only_a_model_folder(model_folder: Path, tmp_path: Path) -> None:
    model = Restorer.from_pretrained(model_folder, precision="fp32")
    user_folder = tmp_path / "thesis"
    user_folder.mkdir()
    (user_folder / "thesis.tex").write_text("months of work")
    with pytest.raises(FileExistsError, match="not a tpir model folder"):
        model.save_pretrained(user_folder, overwrite=True)
    assert (user_folder / "thesis.tex").read_text() == "months of work"
    first = model.save_pretrained(tmp_path / "model")
    model.save_pretrained(first, overwrite=True)  # an existing model folder is replaced
    assert Restorer.from_pretrained(first).config == model.config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "thesis"]  # nothing left beside it
