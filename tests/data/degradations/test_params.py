"""One parameter protocol for every family: the number a prompt states, set and read back, and described."""

import dataclasses
import re

import pytest
import torch

from tpir.data.degradations.blur import BlurParams
from tpir.data.degradations.haze import HazeParams
from tpir.data.degradations.jpeg import JpegParams
from tpir.data.degradations.lowlight import LowLightParams
from tpir.data.degradations.noise import NoiseParams
from tpir.data.degradations.params import DegradationParams
from tpir.data.degradations.rain import RAIN_DENSITY_RANGE, RainParams
from tpir.data.tasks import TASKS

# Per declared task, a number its prompts state exactly as written ("0.40" for rain's 0.4).
STATED = {"denoise": 25.0, "derain": 0.4, "dehaze": 1.2, "deblur": 2.0, "dejpeg": 20.0, "lowlight": 0.25}


def test_describe_writes_numeric_prompts() -> None:
    assert NoiseParams(25).describe() == "denoise with sigma 25"
    assert NoiseParams(12.5).describe() == "denoise with sigma 12.5"
    strength_04 = 0.4 * RAIN_DENSITY_RANGE[1]
    assert RainParams(strength_04, 21, 0.0, 0.5).describe() == "remove rain of density 0.40"
    assert RainParams(1.0, 21, 0.0, 0.5).describe() == "remove rain of density 1.00"
    assert HazeParams(1.2, 0.8).describe() == "remove haze of thickness 1.2"
    assert BlurParams(sigma=2.0).describe() == "deblur with sigma 2"
    assert JpegParams(20).describe() == "remove JPEG artifacts of quality 20"
    assert LowLightParams(0.2).describe() == "brighten the low light of exposure 0.20"


@pytest.mark.parametrize("task", list(STATED))
def test_each_family_sets_and_reads_back_its_stated_number(task: str) -> None:
    declared = TASKS[task]
    assert issubclass(declared.params, DegradationParams)
    params = declared.sample_params(torch.Generator().manual_seed(0))
    if task == "deblur":
        params = BlurParams(sigma=1.0)  # a motion blur states no number
    number = STATED[task]
    changed = params.with_number(number)
    assert type(changed) is type(params) and changed.number == number
    others = [f.name for f in dataclasses.fields(params) if f.name != params.stated]
    assert all(getattr(changed, name) == getattr(params, name) for name in others)  # only the strength
    assert changed.with_number(changed.number) == changed
    stated = re.search(r"(\d+(?:\.\d+)?)$", changed.describe())
    assert stated is not None and float(stated.group(1)) == number, changed.describe()


def test_rain_states_its_density_on_a_scale_capped_at_one() -> None:
    rain = RainParams(density=RAIN_DENSITY_RANGE[1] * 2, length=21, angle=0.0, intensity=0.5)
    assert rain.number == 1.0
    assert rain.with_number(0.5).density == pytest.approx(RAIN_DENSITY_RANGE[1] / 2)


def test_a_motion_blur_states_no_number() -> None:
    motion = BlurParams(length=15, angle=45.0)
    assert motion.number is None and motion.describe() == "remove the motion blur"


def test_params_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        NoiseParams(25).sigma = 15  # type: ignore[misc]
