"""A new task is one declaration, its degradation function and some corpus sentences: it trains,
is tested after training and is scored by ``tpir-eval``, with no list to edit anywhere else."""

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tpir.cli.eval import score
from tpir.cli.train import train
from tpir.data.tasks import TASKS, Task
from tpir.evaluation.tables import column_title


@dataclass(frozen=True)
class DimParams:
    factor: float

    def describe(self) -> str:
        return f"brighten by {1 / self.factor:.1f}"


def dim_image(
    image: torch.Tensor, generator: torch.Generator, factor: float
) -> tuple[torch.Tensor, DimParams]:
    """A toy degradation: scale the image's brightness by ``factor``."""
    return image * factor, DimParams(factor)


def sample_dim_params(generator: torch.Generator) -> DimParams:
    return DimParams(0.3 + 0.4 * float(torch.rand((), generator=generator)))


@pytest.fixture
def dimming(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Declares the toy task ``undim`` for this test; returns the corpus folder of its sentences."""
    task = Task(
        name="undim",
        degradation="dimming",
        params=DimParams,
        sample_params=sample_dim_params,
        degrade=dim_image,
        title="Undim",
        layer=30,
        train_folder="Undim",
        synthetic_tests=(("half", DimParams(0.5)),),  # test sets: the clean test photos at half brightness
    )
    monkeypatch.setitem(TASKS, task.name, task)
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "train.tsv").write_text(
        "undim\tmake the dark photo brighter\nundim\tlift the shadows of this dim picture\n"
        "undim\tthe image is too dark, brighten it\n"
    )
    (folder / "test.tsv").write_text("undim\tplease undo the dimming\n")
    return folder


@pytest.mark.slow
def test_a_declared_task_trains_and_evaluates(
    dimming: Path, compose_config, compose_eval_config, small_restore_run
) -> None:
    corpus = f"corpus.extra_dirs=[{dimming}]"
    cfg = compose_config(
        *small_restore_run,
        "degradation.tasks=[denoise,undim]",
        corpus,
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
    )
    metrics = train(cfg)
    assert {"val/psnr/undim", "test/psnr/bundled_undim_half", "test/psnr/bundled_denoise_sigma25"} <= set(
        metrics
    )
    assert "test/psnr/bundled_derain" not in metrics

    checkpoint = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    results = score(compose_eval_config("data=bundled", corpus, f"ckpt_path={checkpoint}", "limit=1"))
    assert [s["name"] for s in results["sets"]][-1] == "bundled_undim_half"
    assert (
        results["table"]["header"][-2] == column_title("bundled_undim_half", "undim") == "Undim bundled half"
    )
    undim = next(s for s in results["sets"] if s["name"] == "bundled_undim_half")
    assert undim["psnr_input"] < 15  # at half brightness
