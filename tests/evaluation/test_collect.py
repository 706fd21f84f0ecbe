"""``tpir-collect``: a sweep's runs in one table (paper Tables 3 and 4), and the ablation presets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from tpir.cli.collect import main
from tpir.evaluation.scores import OTHER_TASK, scores_from_metrics


def write_run(
    folder: Path, overrides: list[str] | None, metrics: dict[str, float], tasks: dict[str, str] | None = None
) -> None:
    """A run folder as ``tpir-train -m`` leaves it: metrics.json, test_sets.json, .hydra/overrides.yaml."""
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    if tasks is not None:
        (folder / "test_sets.json").write_text(json.dumps(tasks))
    if overrides is not None:
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))


def scores(name: str, psnr: float, ssim: float, psnr_input: float = 20.0, ssim_input: float = 0.5) -> dict:
    return {
        f"test/psnr/{name}": psnr,
        f"test/ssim/{name}": ssim,
        f"test/psnr_input/{name}": psnr_input,
        f"test/ssim_input/{name}": ssim_input,
    }


@pytest.fixture
def guidance_sweep(tmp_path: Path) -> Path:
    """Two runs of a Table 4 sweep, their sets written out of the paper's order."""
    root = tmp_path / "multirun" / "2025-01-01_00-00-00"
    common = ["experiment=ablation_guidance", "trainer.max_steps=10"]
    tasks = {"SOTS": "dehaze", "Rain100L": "derain", "CBSD68_sigma50": "denoise", "CBSD68_sigma15": "denoise"}
    text = {
        **scores("SOTS", 30.0, 0.9, 15.0, 0.7),
        **scores("Rain100L", 36.0, 0.97, 26.0, 0.8),
        **scores("CBSD68_sigma50", 28.0, 0.8, 14.0, 0.2),
        **scores("CBSD68_sigma15", 34.0, 0.93, 24.0, 0.6),
        "test/psnr": 32.0,
        "val/psnr/denoise": 1.0,
        "trainer/global_step": 10,
    }
    none = {**scores("SOTS", 28.0, 0.88), **scores("Rain100L", 34.0, 0.95)}
    none |= {**scores("CBSD68_sigma50", 27.0, 0.79), **scores("CBSD68_sigma15", 33.0, 0.92)}
    write_run(root / "0_guidance=text", [*common, "guidance=text"], text, tasks)
    write_run(root / "1_guidance=none", [*common, "guidance=none"], none, tasks)
    return root


def test_a_sweep_prints_one_row_per_run_in_the_paper_layout(guidance_sweep: Path, capsys) -> None:
    assert main([str(guidance_sweep)]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0] == (
        "| Run | Denoise CBSD68 σ=15 | Denoise CBSD68 σ=50 | Derain Rain100L | Dehaze SOTS | Average |"
    )
    # Input from the first run's input scores; each row named by the one override that differs.
    assert lines[2] == "| Input | 24.00/0.6000 | 14.00/0.2000 | 26.00/0.8000 | 15.00/0.7000 | 19.75/0.5750 |"
    assert (
        lines[3]
        == "| guidance=text | 34.00/0.9300 | 28.00/0.8000 | 36.00/0.9700 | 30.00/0.9000 | 32.00/0.9000 |"
    )
    assert (
        lines[4]
        == "| guidance=none | 33.00/0.9200 | 27.00/0.7900 | 34.00/0.9500 | 28.00/0.8800 | 30.50/0.8850 |"
    )
    assert len(lines) == 5
    assert (guidance_sweep / "collected.md").read_text() == printed
    csv_lines = (guidance_sweep / "collected.csv").read_text().splitlines()
    assert csv_lines[0].startswith("Run,Denoise CBSD68 σ=15 PSNR,Denoise CBSD68 σ=15 SSIM,")
    assert csv_lines[0].endswith(",Average PSNR,Average SSIM")
    assert csv_lines[3] == "guidance=none,33.00,0.9200,27.00,0.7900,34.00,0.9500,28.00,0.8800,30.50,0.8850"


def test_runs_on_different_sets_share_the_union_of_columns(tmp_path: Path, capsys) -> None:
    """Table 3: each combination is tested on its own tasks; the others' cells are "—" (empty in CSV)."""
    root = tmp_path / "sweep"
    write_run(
        root / "a",
        ["degradation=noise"],
        scores("bundled_denoise", 30.0, 0.9),
        {"bundled_denoise": "denoise"},
    )
    write_run(
        root / "b",
        ["degradation=rain"],
        scores("bundled_derain", 32.0, 0.8, 25.0, 0.7),
        {"bundled_derain": "derain"},
    )
    out = tmp_path / "tables" / "table3"
    assert main([str(root), "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| Run | Denoise bundled | Derain bundled | Average |"
    assert lines[2] == "| Input | 20.00/0.5000 | 25.00/0.7000 | 22.50/0.6000 |"
    assert lines[3] == "| degradation=noise | 30.00/0.9000 | — | — |"
    assert lines[4] == "| degradation=rain | — | 32.00/0.8000 | — |"
    assert (out.parent / "table3.csv").read_text().splitlines()[2] == "degradation=noise,30.00,0.9000,,,,"
    assert (out.parent / "table3.md").is_file()


def test_a_run_without_overrides_file_is_named_by_its_folder(tmp_path: Path, capsys) -> None:
    write_run(
        tmp_path / "guidance=onehot", None, scores("bundled_dehaze", 25.0, 0.8), {"bundled_dehaze": "dehaze"}
    )
    assert main([str(tmp_path), "--metric-prefix", "test"]) == 0
    assert "| guidance=onehot | 25.00/0.8000 | 25.00/0.8000 |" in capsys.readouterr().out


def test_val_scores_are_collected_by_task(guidance_sweep: Path, capsys) -> None:
    assert main([str(guidance_sweep), "--metric-prefix", "val", "-o", str(guidance_sweep / "val")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| Run | Denoise | Average |"
    assert lines[2:] == [
        "| Input | — | — |",  # no input scores logged
        "| guidance=text | 1.00/nan | 1.00/nan |",  # nor a validation SSIM
        "| guidance=none | — | — |",
    ]


@pytest.mark.parametrize("case", ["missing", "empty", "no_scores"])
def test_a_folder_without_runs_exits_2_with_one_line(tmp_path: Path, capsys, case: str) -> None:
    root = tmp_path / "sweep"
    if case != "missing":
        root.mkdir()
    if case == "no_scores":
        write_run(root / "run", ["seed=1"], {"train/loss": 0.1})
    assert main([str(root)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("tpir-collect: ") and (
        str(root) in captured.err or "test/psnr" in captured.err
    )
    assert not (root / "collected.md").exists()


def test_a_set_takes_its_task_from_test_sets_json_or_its_name() -> None:
    metrics = {f"test/psnr/{name}": 30.0 for name in ("CBSD68_sigma25", "dehaze", "Urban100")}
    found = scores_from_metrics(metrics, {"CBSD68_sigma25": "denoise"})
    # test_sets.json names the first; a validation set is named by its task; nothing is guessed.
    assert [(s.name, s.task) for s in found] == [
        ("CBSD68_sigma25", "denoise"),
        ("dehaze", "dehaze"),
        ("Urban100", OTHER_TASK),
    ]


@pytest.mark.parametrize("experiment", ["ablation_degradations", "ablation_guidance", "ablation_sizes"])
def test_ablation_presets_compose_for_every_value_they_sweep(compose_config, experiment: str) -> None:
    cfg = compose_config(f"experiment={experiment}")
    choices = cfg.hydra.runtime.choices
    assert cfg.stage.name == "restore" and choices.data == "bundled" and choices.model == "tiny"
    assert cfg.datamodule.crop_size == 64 and cfg.datamodule.batch_size == 8
    assert cfg.module.optimizer.lr == 1e-3
    ((group, values),) = cfg.hydra.sweeper.params.items()
    assert f"_{group}=" in OmegaConf.to_yaml(cfg.hydra.sweep)  # folders named by what is swept
    for value in values.split(","):
        chosen = compose_config(f"experiment={experiment}", f"{group}={value}")
        assert chosen.hydra.runtime.choices[group] == value


def test_the_presets_sweep_the_paper_tables(compose_config) -> None:
    assert compose_config("experiment=ablation_guidance").hydra.sweeper.params.guidance == "text,none,onehot"
    degradations = compose_config("experiment=ablation_degradations").hydra.sweeper.params.degradation
    assert degradations == "noise,rain,haze,noise_rain,noise_haze,rain_haze,all"
    assert compose_config("experiment=ablation_sizes").hydra.sweeper.params.model == "tiny,small,paper"


@pytest.mark.slow
def test_the_guidance_ablation_sweeps_and_collects_into_table_4(tmp_path: Path) -> None:
    """The real thing, shrunk: three stage-2 runs of two steps (about 15 s), then their table."""
    bin_dir = Path(sys.executable).parent
    env = os.environ | {"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    command = [
        str(bin_dir / "tpir-train"),
        "-m",
        "experiment=ablation_guidance",
        "text_encoder=tiny_random",
        "logger=none",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        "datamodule.crop_size=32",
        "datamodule.batch_size=2",
        "model.dim=8",
        "model.num_blocks=[1,1,1,1]",
        "model.guidance_width=16",
        "datamodule.val_crop=32",
        "test_limit=1",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "multirun").iterdir()
    folders = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert folders == ["0_guidance=text", "1_guidance=none", "2_guidance=onehot"]

    done = subprocess.run(
        [str(bin_dir / "tpir-collect"), str(sweep)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "| Run | Denoise bundled σ=25 | Derain bundled | Dehaze bundled | Average |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| Input",
        "| guidance=text",
        "| guidance=none",
        "| guidance=onehot",
    ]
    assert (sweep / "collected.md").read_text() == done.stdout
