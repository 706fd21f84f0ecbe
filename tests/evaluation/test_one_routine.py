"""Training's test and ``tpir-eval`` are one routine: the same checkpoint gets the same table."""

import json
from pathlib import Path

import pytest

from tpir.cli.eval import score
from tpir.cli.export import main as export_main
from tpir.cli.train import train


@pytest.mark.slow
def test_training_test_scores_equal_tpir_eval_on_the_same_checkpoint(
    compose_config, compose_eval_config, small_restore_run, tmp_path: Path
) -> None:
    cfg = compose_config(*small_restore_run, "trainer.max_steps=4", "trainer.val_check_interval=2")
    trained = train(cfg)
    run = Path(cfg.paths.output_dir)
    checkpoint = run / "checkpoints" / "best.ckpt"
    assert checkpoint.is_file()
    assert export_main([str(run), "-o", str(tmp_path / "model")]) == 0
    # The model card carries the run's test table.
    assert "| Input |" in (tmp_path / "model" / "README.md").read_text()

    same = ("data=bundled", "data.test_levels.denoise=[25]", "protocol=paper", "prompts=random", "seed=0")
    for source in (f"ckpt_path={checkpoint}", f"model_dir={tmp_path / 'model'}"):
        results = score(compose_eval_config(*same, source))
        sets = {s["name"]: s for s in results["sets"]}
        assert set(sets) == {"bundled_denoise_sigma25", "bundled_derain", "bundled_dehaze"}
        for name, scores in sets.items():
            assert scores["psnr"] == pytest.approx(trained[f"test/psnr/{name}"], abs=0.01), (source, name)
            assert scores["ssim"] == pytest.approx(trained[f"test/ssim/{name}"], abs=1e-4), (source, name)
    # A checkpoint that was not the tested one gets no test table in its card.
    assert export_main([str(run / "checkpoints" / "last.ckpt"), "-o", str(tmp_path / "last")]) == 0
    assert "Not evaluated at export" in (tmp_path / "last" / "README.md").read_text()
    # What training wrote is what it returned.
    assert json.loads((run / "metrics.json").read_text()) == pytest.approx(trained)
