"""What every degradation shares: seeded by its generator, the input's shape and range kept, bad images refused."""

import pytest
import torch

from tpir.data.degradations.haze import HazeParams
from tpir.data.degradations.noise import NoiseParams, add_gaussian_noise
from tpir.data.degradations.rain import RainParams
from tpir.data.tasks import TASKS

# Each declared task by the name of its degradation ("noise" -> the denoise task).
BY_DEGRADATION = {task.degradation: task for task in TASKS.values()}

FIXED_PARAMS = {
    "noise": NoiseParams(sigma=25),
    "rain": RainParams(density=0.005, length=21, angle=10.0, intensity=0.5),
    "haze": HazeParams(beta=1.0, airlight=0.8, tint=0.03),
}


def apply_degradation(name: str, image: torch.Tensor, generator: torch.Generator, params=None):
    return BY_DEGRADATION[name].apply(image, generator, params)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", ["noise", "rain", "haze"])
def test_same_seed_same_output_and_other_seed_other_output(name: str, astronaut: torch.Tensor) -> None:
    params = FIXED_PARAMS[name]
    first, used = apply_degradation(name, astronaut, gen(3), params)
    again, _ = apply_degradation(name, astronaut, gen(3), params)
    other, _ = apply_degradation(name, astronaut, gen(4), params)
    assert used == params
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("name", ["noise", "rain", "haze"])
@pytest.mark.parametrize("shape", [(3, 24, 40), (2, 3, 24, 40), (1, 3, 17, 9)])
def test_output_keeps_shape_and_range(name: str, shape: tuple[int, ...]) -> None:
    image = torch.rand(shape, generator=gen(5))
    degraded, params = apply_degradation(name, image, gen(6))
    assert degraded.shape == image.shape
    assert degraded.dtype == image.dtype
    assert degraded.min() >= 0 and degraded.max() <= 1
    assert params.describe()


@pytest.mark.parametrize("name", ["noise", "rain", "haze"])
@pytest.mark.parametrize("shape", [(64, 64), (4, 64, 64), (2, 4, 64, 64), (1, 2, 3, 8, 8), (3,)])
def test_bad_shapes_are_refused(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"Expected an image of shape \(3, H, W\) or \(B, 3, H, W\)"):
        apply_degradation(name, torch.rand(shape), gen(), FIXED_PARAMS[name])


def test_integer_images_are_refused() -> None:
    with pytest.raises(ValueError, match="floating-point"):
        add_gaussian_noise(torch.zeros((3, 8, 8), dtype=torch.uint8), 25, gen())
