"""``tpir-eval study=composite|strength``: the prompt studies, on the bundled images with a tiny model."""

from pathlib import Path

import pytest
import torch

from tpir.data.datamodule import bundled_catalog
from tpir.evaluation.cli import evaluate, write_results
from tpir.evaluation.studies import composite_sets, removal_prompts
from tpir.text.corpus import InstructionCorpus


@pytest.fixture
def eval_config(compose_eval_config, model_folder: Path):
    return lambda *overrides: compose_eval_config(
        "data=bundled", "limit=1", f"model_dir={model_folder}", *overrides
    )


def test_composite_sets_are_reproducible_and_stack_noise_on_every_set() -> None:
    sets = composite_sets(bundled_catalog(), ["denoise", "derain", "dehaze"], noise_sigma=15, seed=4)
    assert [s.name for s in sets] == [
        "bundled_derain+noise15",
        "bundled_dehaze+noise15",
        "bundled_haze+rain+noise",
    ]
    assert [s.tasks for s in sets] == [
        ["derain", "denoise"],
        ["dehaze", "denoise"],
        ["dehaze", "derain", "denoise"],
    ]
    again = composite_sets(bundled_catalog(), ["denoise", "derain", "dehaze"], noise_sigma=15, seed=4)
    for first, second in zip(sets, again, strict=True):
        assert torch.equal(first.stack(0).degraded, second.stack(0).degraded)
    noise_layer = sets[0].stack(0).layers[-1]
    assert noise_layer.task == "denoise" and noise_layer.params.sigma == 15


def test_removal_prompts_cover_singles_pairs_all_and_blind() -> None:
    prompts = removal_prompts(["dehaze", "derain", "denoise"], InstructionCorpus.load().lexicon)
    assert len(prompts) == 3 + 3 + 1 + 1
    assert prompts[0] == ("remove the haze", ["dehaze"])
    assert prompts[-2] == ("remove the haze, the rain and the noise", ["dehaze", "derain", "denoise"])
    assert prompts[-1] == ("remove all degradation", ["dehaze", "derain", "denoise"])


def test_the_composite_study_scores_each_prompt_against_its_own_target(eval_config, tmp_path: Path) -> None:
    results = evaluate(eval_config("study=composite"))
    rows = results["rows"]
    assert len(rows) == 4 + 4 + 8  # two two-degradation sets, one three-degradation set
    by_prompt = {(r["set"], r["prompt"]): r for r in rows}
    keep_noise = by_prompt[("bundled_derain+noise15", "remove the rain")]
    everything = by_prompt[("bundled_derain+noise15", "remove the rain and the noise")]
    # The input against "remove the rain"'s target (clean + the same noise) differs by rain only, so it
    # is closer than against clean (rain and noise).
    assert keep_noise["psnr_input"] > everything["psnr_input"]
    text = write_results(results, tmp_path / "out")
    assert "study=composite" in text and "| bundled_haze+rain+noise | remove all degradation |" in text
    assert evaluate(eval_config("study=composite"))["rows"] == rows  # fixed seeds: the same numbers


def test_the_strength_study_writes_its_table_and_plot(eval_config, tmp_path: Path) -> None:
    results = evaluate(eval_config("study=strength"))
    rows = results["rows"]
    noise = [r for r in rows if r["task"] == "denoise"]
    assert len(noise) == 3 * (7 + 1) and {r["true"] for r in noise} == {15, 25, 50}
    assert [r["prompt"] for r in noise[:2]] == ["remove the noise of sigma 5", "remove the noise of sigma 10"]
    assert noise[7]["prompt"] == "free-form" and noise[7]["stated"] is None
    assert {r["task"] for r in rows} == {"denoise", "derain"}
    write_results(results, tmp_path / "out")
    assert (tmp_path / "out" / "strength.png").stat().st_size > 10_000


def test_an_unknown_study_is_one_sentence(eval_config) -> None:
    with pytest.raises(ValueError, match="study=walk; expected one of composite, strength"):
        evaluate(eval_config("study=walk"))
