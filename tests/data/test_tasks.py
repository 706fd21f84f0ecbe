import pytest
import torch

from tpir.data.degradations.haze import HazeParams
from tpir.data.degradations.noise import NoiseParams
from tpir.data.degradations.rain import RainParams
from tpir.data.tasks import TASKS, get_task


def test_a_task_samples_its_params_when_none_are_given() -> None:
    image = torch.full((3, 32, 32), 0.4)
    for task, params_type in (("denoise", NoiseParams), ("derain", RainParams), ("dehaze", HazeParams)):
        degraded, params = get_task(task).apply(image, torch.Generator().manual_seed(13))
        assert isinstance(params, params_type)
        assert not torch.equal(degraded, image)


def test_tasks_refuse_unknown_names_and_mismatched_params() -> None:
    with pytest.raises(ValueError, match=rf"unknown task 'desnow'; expected one of {', '.join(TASKS)}\."):
        get_task("desnow")
    with pytest.raises(ValueError, match="task 'derain' takes RainParams parameters, got NoiseParams"):
        TASKS["derain"].apply(torch.full((3, 64, 64), 0.5), torch.Generator().manual_seed(0), NoiseParams(25))
