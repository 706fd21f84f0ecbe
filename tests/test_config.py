"""Every config option composes, and the experiments say what they promise."""

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException, InstantiationException
from hydra.utils import instantiate

from tpir.config import CONFIG_DIR

GROUP_OPTIONS = {
    group: sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))
    for group in (
        "model",
        "guidance",
        "data",
        "degradation",
        "text_encoder",
        "trainer",
        "logger",
        "callbacks",
    )
}


@pytest.mark.parametrize(
    "override", [f"{group}={option}" for group, options in GROUP_OPTIONS.items() for option in options]
)
def test_every_group_option_composes(compose_config, override: str) -> None:
    cfg = compose_config("stage=restore", override)
    assert cfg.stage.name == "restore"


@pytest.mark.parametrize("experiment", ["demo", "demo_restore", "cpu_all_in_one", "paper_all_in_one"])
def test_experiments_compose(compose_config, experiment: str) -> None:
    compose_config(f"experiment={experiment}")


def test_paper_experiment_follows_the_paper(compose_config) -> None:
    cfg = compose_config("experiment=paper_all_in_one")
    assert cfg.model.dim == 48 and list(cfg.model.num_blocks) == [4, 6, 6, 8]
    assert cfg.datamodule.batch_size == 6 and cfg.datamodule.crop_size == 128
    assert cfg.module.optimizer.lr == 2e-4 and list(cfg.module.optimizer.betas) == [0.9, 0.999]
    assert cfg.trainer.precision == "bf16-mixed"
    assert cfg.callbacks.model_checkpoint.monitor == cfg.optimized_metric == "val/psnr"


def test_paper_model_has_about_forty_million_parameters(compose_config) -> None:
    cfg = compose_config("stage=restore", "model=paper")
    model = instantiate(cfg.model)(guidance_dim=384)
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 38e6 < count < 42e6


def test_a_wrong_key_is_refused(compose_config) -> None:
    with pytest.raises(ConfigCompositionException):
        compose_config("stage=restore", "model.dimm=4")


def test_a_users_config_folder_joins_through_the_search_path(compose_config, tmp_path: Path) -> None:
    mine = tmp_path / "my_conf" / "model"
    mine.mkdir(parents=True)
    (mine / "wide.yaml").write_text("defaults:\n  - tiny\ndim: 24\n")
    cfg = compose_config("stage=restore", f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]", "model=wide")
    assert cfg.model.dim == 24 and cfg.model.num_blocks == [1, 2, 2, 2]


def test_places_come_from_the_environment(compose_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TPIR_DATA_DIR", "/data/benchmarks")
    monkeypatch.setenv("TPIR_OUTPUT_DIR", "/scratch/runs")
    cfg = compose_config("stage=restore")
    assert cfg.paths.data_dir == "/data/benchmarks" and cfg.paths.log_dir == "/scratch/runs"


def test_configs_ship_inside_the_package() -> None:
    import tpir

    assert Path(CONFIG_DIR).parent == Path(tpir.__file__).parent
    assert (Path(CONFIG_DIR) / "train.yaml").is_file() and (Path(CONFIG_DIR) / "eval.yaml").is_file()


def test_the_stage1_encoder_is_named_by_an_absolute_path(compose_config) -> None:
    cfg = compose_config("stage=restore", "text_encoder=stage1")
    assert Path(cfg.text_encoder.name_or_path).is_absolute()
    assert cfg.text_encoder.name_or_path.endswith("demo/text/text_encoder")


def test_the_paper_recipe_augments_with_all_eight_transforms(compose_config) -> None:
    assert compose_config("experiment=paper_all_in_one").datamodule.rotate is True
    assert compose_config("experiment=demo_restore").datamodule.rotate is False


@pytest.mark.parametrize("experiment", ["cpu_prompts", "paper_prompts"])
def test_the_prompt_experiments_train_on_composites_with_an_estimator(
    compose_config, experiment: str
) -> None:
    # degradation=composite sets datamodule.mix; the stage's own defaults must not override it.
    cfg = compose_config(f"experiment={experiment}")
    assert cfg.datamodule.mix.composite == 0.5 and cfg.datamodule.mix.numeric == 0.5
    assert cfg.datamodule.mix.wrong == 0.0 and cfg.datamodule.mix.understate == 0.0
    assert cfg.module.estimator.measured == ["denoise", "derain", "dehaze"]
    assert cfg.guidance.read_numbers is False
    # The estimator's held rate is read through a moving average of the weights.
    assert cfg.module.estimator_lr == 3e-3 and "ema" in cfg.callbacks
    # and fitted again to the trained backbone's outputs (the stage's own default is not to).
    assert cfg.calibration.steps == 600


def test_single_degradation_recipes_have_no_estimator(compose_config) -> None:
    cfg = compose_config("experiment=cpu_all_in_one")
    assert cfg.module.estimator is None and cfg.datamodule.mix.composite == 0.0
    assert cfg.calibration.steps == 0


def test_an_estimator_measuring_a_number_that_falls_with_strength_is_refused(compose_config) -> None:
    from tpir.stages.steered_model import fit_steered_model

    cfg = compose_config(
        "experiment=cpu_prompts",
        "degradation.tasks=[denoise,dejpeg]",
        "degradation.estimator.measured=[dejpeg]",
    )
    with pytest.raises(ValueError, match=r"measured lists \['dejpeg'\].*partial_removal"):
        fit_steered_model(cfg)


def test_an_estimator_order_against_the_physical_order_is_refused(compose_config) -> None:
    from tpir.stages.steered_model import fit_steered_model

    cfg = compose_config("experiment=cpu_prompts", "degradation.estimator.order=[denoise,derain,dehaze]")
    with pytest.raises(ValueError, match=r"innermost first: \['dehaze', 'derain', 'denoise'\]"):
        fit_steered_model(cfg)


def test_a_calibration_without_an_estimator_is_refused_before_training(compose_config) -> None:
    from tpir.stages.steered_model import fit_steered_model

    cfg = compose_config("experiment=cpu_all_in_one", "calibration.steps=10")
    with pytest.raises(ValueError, match=r"calibration.steps=10 .* module.estimator is not set"):
        fit_steered_model(cfg)


def test_task_shares_set_at_the_command_line_reach_the_training_mixture(compose_config) -> None:
    datamodule = instantiate(compose_config("stage=restore", "datamodule.task_shares={dehaze:2}").datamodule)
    datamodule.setup("validate")
    assert datamodule.train_set.cycle == ["denoise", "derain", "dehaze", "dehaze"]
    with pytest.raises(InstantiationException) as refused:
        instantiate(compose_config("stage=restore", "datamodule.task_shares={deblur:2}").datamodule)
    assert "task_shares.deblur: not a trained task" in str(refused.value.__cause__)
