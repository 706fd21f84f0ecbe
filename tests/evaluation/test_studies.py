"""``tpir-eval study=composite|strength``: the prompt studies, on the bundled images with a tiny model."""

from pathlib import Path

import pytest
import torch

from tpir.cli.eval import score, write_results
from tpir.data.catalogs import DataCatalog, bundled_catalog
from tpir.data.degradations import NoiseParams
from tpir.data.images import ImageBank
from tpir.data.sources import SyntheticPairs
from tpir.evaluation.studies import (
    DEFAULT_SWEEPS,
    StrengthSweep,
    composite_sets,
    composite_study,
    removal_prompts,
)
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


def _small_catalog() -> DataCatalog:
    """The bundled catalog's kinds of test sets, on two 48x48 images (fast)."""
    images = [
        torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
        for i in range(2)
    ]
    bank = ImageBank(images, names=["a.png", "b.png"])
    return DataCatalog(
        train={},
        val={},
        test={
            "small_denoise_sigma25": ("denoise", SyntheticPairs(bank, "denoise", NoiseParams(25.0))),
            "small_derain": ("derain", SyntheticPairs(bank, "derain")),
        },
    )


def test_the_composite_study_scores_each_prompt_against_its_own_target() -> None:
    sets = composite_sets(_small_catalog(), ["denoise", "derain"], seed=1)
    lexicon = InstructionCorpus.load().lexicon

    def unchanged(lq: torch.Tensor, prompt: str, task: str) -> torch.Tensor:
        return lq

    rows = composite_study(unchanged, sets, lexicon, "full")
    assert [(r["set"], r["prompt"]) for r in rows][:4] == [
        ("small_derain+noise15", "remove the rain"),
        ("small_derain+noise15", "remove the noise"),
        ("small_derain+noise15", "remove the rain and the noise"),
        ("small_derain+noise15", "remove all degradation"),
    ]
    for row in rows:  # an output equal to the input scores as the input does, against each target
        assert row["psnr"] == pytest.approx(row["psnr_input"], abs=1e-4)
    by_prompt = {(r["set"], r["prompt"]): r for r in rows}
    keep_noise = by_prompt[("small_derain+noise15", "remove the rain")]
    everything = by_prompt[("small_derain+noise15", "remove the rain and the noise")]
    # The input differs from "remove the rain"'s target (clean + the same noise) by rain only.
    assert keep_noise["psnr_input"] > everything["psnr_input"] + 3


def test_tpir_eval_runs_the_composite_study(
    eval_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "tpir.evaluation.evaluate.composite_sets",
        lambda catalog, tasks, seed: composite_sets(_small_catalog(), tasks, seed=seed),
    )
    results = score(eval_config("study=composite"))
    assert len(results["rows"]) == 4 + 8  # derain + noise; the clean set with noise, rain and haze
    text = write_results(results, tmp_path / "out")
    assert "study=composite" in text and "| small_haze+rain+noise | remove all degradation |" in text


def test_the_strength_study_writes_its_table_and_plot(
    eval_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeps = (StrengthSweep("denoise", (25,), (5, 75)), StrengthSweep("derain", (0.6,), (0.3,)))
    monkeypatch.setattr("tpir.evaluation.evaluate.DEFAULT_SWEEPS", sweeps)  # the issue's sweeps take minutes
    results = score(eval_config("study=strength"))
    rows = results["rows"]
    assert [(r["task"], r["true"], r["prompt"]) for r in rows] == [
        ("denoise", 25, "remove the noise of sigma 5"),
        ("denoise", 25, "remove the noise of sigma 75"),
        ("denoise", 25, "free-form"),
        ("derain", 0.6, "remove the rain of density 0.30"),
        ("derain", 0.6, "free-form"),
    ]
    noisy_input_change = rows[0]["mean_abs_change"]
    assert 0 < noisy_input_change < 255 and rows[2]["stated"] is None
    write_results(results, tmp_path / "out")
    assert (tmp_path / "out" / "strength.png").stat().st_size > 10_000


def test_the_issue_sweeps_cover_the_strengths_it_names() -> None:
    noise, rain = DEFAULT_SWEEPS
    assert noise.true_numbers == (15, 25, 50) and noise.prompt_numbers == (5, 10, 15, 25, 35, 50, 75)
    assert rain.task == "derain" and set(rain.true_numbers) <= set(rain.prompt_numbers)


def test_an_unknown_study_is_one_sentence(eval_config) -> None:
    with pytest.raises(ValueError, match="study=walk; expected one of composite, strength"):
        score(eval_config("study=walk"))
