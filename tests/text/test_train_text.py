import csv
import json
from pathlib import Path

import pytest

from tpir.cli.text import main as text_cli
from tpir.cli.train import train
from tpir.text.encoder import TextEncoder


@pytest.fixture
def stage1_run(compose_config) -> Path:
    cfg = compose_config("stage=text", "debug=fast_dev_run", "stage.projection=pca")
    metrics = train(cfg)
    assert "text/acc_after/overall" in metrics
    return Path(cfg.paths.output_dir)


def test_stage1_fast_dev_run_saves_a_loadable_encoder(stage1_run: Path) -> None:
    metrics = json.loads((stage1_run / "metrics.json").read_text())
    for key in ("val/mlm_loss", "val/nsp_loss", "val/nsp_acc", "val/mlm_acc", "text/acc_before/overall"):
        assert key in metrics
    assert (stage1_run / "embeddings.png").stat().st_size > 1000
    encoder = TextEncoder.from_pretrained(stage1_run / "text_encoder")
    assert encoder.encode(["remove the rain", "clear the fog"]).shape == (2, 32)


def test_cli_eval_and_explain(stage1_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text("derain\tstop the rain\ndehaze\tthe fog has to go\n", encoding="utf-8")
    common = ["--encoder", str(stage1_run / "text_encoder"), "--cache-dir", str(tmp_path / "cache"), "--json"]
    assert text_cli(["eval", "--prompts", str(prompts), *common]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["prompts"] == 2
    assert set(report["accuracy"]) == {"derain", "dehaze", "overall"}
    assert report["understood"] == {"derain": 1.0, "dehaze": 1.0, "overall": 1.0}  # "rain", "fog": words
    assert text_cli(["explain", "get rid of the rain", *common]) == 0
    understood = json.loads(capsys.readouterr().out)
    assert understood["category"] in {"denoise", "derain", "dehaze", "blind"}
    assert 0.0 <= understood["confidence"] <= 1.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "  "], "the prompt is empty"),
        (["explain", "rain " * 80], "tokens long; at most 64"),
        (["eval", "--prompts", "missing.tsv"], "missing.tsv: prompt file not found"),
        (["explain", "x", "--encoder", "no/such/dir"], "--encoder no/such/dir: no such folder"),
    ],
)
def test_cli_bad_input_is_one_clear_line(
    stage1_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    if "--encoder" not in argv:
        argv = [*argv, "--encoder", str(stage1_run / "text_encoder")]
    assert text_cli([*argv, "--cache-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1


def test_cli_eval_names_an_unknown_category(stage1_run: Path, tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text("desnow\tremove the snow\n", encoding="utf-8")
    argv = ["eval", "--prompts", str(prompts), "--encoder", str(stage1_run / "text_encoder")]
    assert text_cli([*argv, "--cache-dir", str(tmp_path)]) == 2
    assert "prompts.tsv:1: unknown category 'desnow'" in capsys.readouterr().err


def test_stage1_reduces_the_pretraining_loss(compose_config) -> None:
    cfg = compose_config(
        "stage=text",
        "logger=csv",
        "trainer.max_epochs=4",
        "datamodule.train_pairs=256",
        "module.optimizer.lr=1e-3",
    )
    train(cfg)
    rows = list(csv.DictReader((Path(cfg.paths.output_dir) / "csv" / "metrics.csv").open()))
    val = [float(r["val/loss"]) for r in rows if r.get("val/loss")]
    assert len(val) == 4
    assert val[-1] < val[0]
