"""``tpir-eval`` end to end on the bundled test images with a tiny model folder."""

import csv
import json
from pathlib import Path

import pytest
import torch

from tpir.cli import common
from tpir.cli.eval import restorer_of_config, score, write_results
from tpir.inference.restorer import Restorer
from tpir.models.guidance import TaskEmbeddingGuidance
from tpir.notebook import TINY_BACKBONE, tiny_model


@pytest.fixture
def eval_config(compose_eval_config):
    """tpir-eval's config on the bundled images, one image per set."""
    return lambda *overrides: compose_eval_config("data=bundled", "limit=1", *overrides)


def test_eval_writes_table1_for_every_bundled_set(eval_config, tmp_path: Path, model_folder: Path) -> None:
    cfg = eval_config(f"model_dir={model_folder}", "protocol=full", f"report_dir={tmp_path / 'report'}")
    results = score(cfg)
    text = write_results(results, tmp_path / "eval")

    assert [s["name"] for s in results["sets"]] == [
        "bundled_denoise_sigma15",
        "bundled_denoise_sigma25",
        "bundled_denoise_sigma50",
        "bundled_derain",
        "bundled_dehaze",
    ]
    header = results["table"]["header"]
    assert header[1:4] == ["Denoise bundled σ=15", "Denoise bundled σ=25", "Denoise bundled σ=50"]
    assert header[4:] == ["Derain bundled", "Dehaze bundled", "Average"]
    assert (
        "protocol=full, prompts=random" in text and "| Input |" in text and "| tpir (tiny_model0) |" in text
    )
    rows = list(csv.reader((tmp_path / "eval" / "table.csv").open()))
    assert [r[0] for r in rows] == ["Method", "Input", "tpir (tiny_model0)"]
    saved = json.loads((tmp_path / "eval" / "results.json").read_text())
    sigma15 = next(s for s in saved["sets"] if s["name"] == "bundled_denoise_sigma15")
    assert rows[2][1] == f"{sigma15['psnr']:.2f}" and sigma15["images"] == 1
    # Less noise, a cleaner input: the input's PSNR falls with sigma.
    inputs = [s["psnr_input"] for s in saved["sets"][:3]]
    assert inputs[0] > inputs[1] > inputs[2]
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "report" / "examples.png").is_file()


def test_wrong_prompts_add_the_output_vs_input_row(eval_config, model_folder: Path) -> None:
    cfg = eval_config(f"model_dir={model_folder}", "prompts=wrong")
    rows = score(cfg)["table"]["rows"]
    assert rows[-1][0] == "tpir (tiny_model0): PSNR(output, input)"
    assert all(float(value) > 10 for value in rows[-1][1:])


def test_fixed_prompts_need_a_sentence(eval_config, model_folder: Path) -> None:
    cfg = eval_config(f"model_dir={model_folder}", "prompts=fixed")
    with pytest.raises(Exception, match="sentence"):
        score(cfg)


def test_a_onehot_model_is_scored_on_its_own_tasks_with_the_sets_task(eval_config, tmp_path: Path) -> None:
    text_model = tiny_model()
    guidance = TaskEmbeddingGuidance(["denoise", "derain"], dim=4)
    model = Restorer.assemble(
        ["denoise", "derain"], TINY_BACKBONE, guidance, text_model.text_encoder, text_model.centroids
    )
    folder = model.save_pretrained(tmp_path / "onehot")

    results = score(eval_config(f"model_dir={folder}"))
    assert {s["task"] for s in results["sets"]} == {"denoise", "derain"}  # dehaze: not its task
    # The random prompts of a set name its task, so the model is given that task, whatever the
    # tiny random encoder understands the sentence as.
    loaded = Restorer.from_pretrained(folder)
    derain_prompt = "please wipe out the rain"
    torch.testing.assert_close(
        loaded.interpret(derain_prompt, "derain").z, guidance.embedding.weight[1:2].detach()
    )


def test_a_missing_model_folder_says_where_a_model_comes_from(eval_config, tmp_path: Path) -> None:
    cfg = eval_config(f"model_dir={tmp_path / 'nothing'}")
    with pytest.raises(ValueError, match=r"at .*nothing \(model_dir\); pass model_dir=.*set TPIR_MODEL"):
        score(cfg)


def test_without_model_dir_the_commands_default_model_is_scored(
    eval_config, model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(common, "PACKAGED_MODEL", model_folder)
    monkeypatch.delenv("TPIR_MODEL", raising=False)
    model, method = restorer_of_config(eval_config())
    assert method == "tpir (packaged)" and model.config == Restorer.from_pretrained(model_folder).config
    assert f"model: {model_folder} (packaged)" in capsys.readouterr().out
    monkeypatch.setenv("TPIR_MODEL", str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match=r"no model folder at .*nothing \(TPIR_MODEL\)"):
        restorer_of_config(eval_config())
