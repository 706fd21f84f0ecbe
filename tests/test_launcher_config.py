"""``hydra/launcher=submitit_slurm`` composes without the plugin installed (composing imports no target)."""

from omegaconf import OmegaConf

SLURM_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"


def test_slurm_launcher_composes_with_the_plugin_fields(compose_config) -> None:
    cfg = compose_config("stage=restore", "hydra/launcher=submitit_slurm")
    launcher = cfg.hydra.launcher
    assert launcher._target_ == SLURM_LAUNCHER
    assert launcher.submitit_folder == f"{cfg.hydra.sweep.dir}/.submitit/%j"
    assert launcher.name == cfg.hydra.job.name
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (1, 1, 1)
    assert launcher.timeout_min > 0 and launcher.cpus_per_task > 0 and launcher.mem_gb > 0
    assert launcher.partition is None and launcher.max_num_timeout == 0
    assert OmegaConf.to_container(launcher.additional_parameters) == {}


def test_slurm_launcher_takes_cluster_settings_from_the_command_line(compose_config) -> None:
    cfg = compose_config(
        "stage=restore",
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.tasks_per_node=4",
        "trainer=ddp",
        "trainer.devices=4",
    )
    assert cfg.hydra.launcher.partition == "gpu"
    assert cfg.hydra.launcher.tasks_per_node == cfg.hydra.launcher.gpus_per_node == cfg.trainer.devices


def test_the_default_launcher_is_still_local(compose_config) -> None:
    cfg = compose_config("stage=restore")
    assert cfg.hydra.launcher._target_ == "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
