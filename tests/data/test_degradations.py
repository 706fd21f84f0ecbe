from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale
from skimage import data as skdata

from tpir.data.degradations import (
    HAZE_AIRLIGHT_RANGE,
    HAZE_BETA_RANGE,
    NOISE_SIGMAS,
    RAIN_ANGLE_RANGE,
    RAIN_DENSITY_RANGE,
    RAIN_INTENSITY_RANGE,
    RAIN_LENGTH_RANGE,
    HazeParams,
    NoiseParams,
    RainParams,
    add_gaussian_noise,
    add_haze,
    add_rain_streaks,
    estimate_depth_proxy,
    sample_haze_params,
    sample_noise_params,
    sample_rain_params,
)
from tpir.data.tasks import TASKS, get_task

# Each declared task by the name of its degradation ("noise" -> the denoise task).
BY_DEGRADATION = {task.degradation: task for task in TASKS.values()}


def apply_degradation(name: str, image: torch.Tensor, generator: torch.Generator, params=None):
    return BY_DEGRADATION[name].apply(image, generator, params)


FIXED_PARAMS = {
    "noise": NoiseParams(sigma=25),
    "rain": RainParams(density=0.005, length=21, angle=10.0, intensity=0.5),
    "haze": HazeParams(beta=1.0, airlight=0.8, tint=0.03),
}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def grey(value: float = 0.5, size: int = 64) -> torch.Tensor:
    return torch.full((3, size, size), value)


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """skimage's astronaut, (3, 128, 128) in [0, 1]."""
    image = torch.from_numpy(skdata.astronaut()).permute(2, 0, 1).float() / 255
    return F.interpolate(image[None], size=(128, 128), mode="area")[0]


def luminance_std(image: torch.Tensor) -> float:
    return rgb_to_grayscale(image).std().item()


# Noise


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_noise_has_the_requested_std_and_zero_mean(sigma: float) -> None:
    clean = grey(0.5, 256)
    noisy, params = add_gaussian_noise(clean, sigma, gen())
    residual = noisy - clean
    assert params == NoiseParams(sigma)
    assert residual.std().item() == pytest.approx(sigma / 255, rel=0.02)
    assert abs(residual.mean().item()) < 2e-3
    assert noisy.min() >= 0 and noisy.max() <= 1


def test_noise_of_a_batch_matches_its_samples_one_by_one() -> None:
    batch = torch.rand((3, 3, 32, 40), generator=gen(1))
    noisy, _ = add_gaussian_noise(batch, 25, gen(7))
    g = gen(7)
    one_by_one = torch.stack([add_gaussian_noise(image, 25, g)[0] for image in batch])
    assert noisy.shape == batch.shape
    torch.testing.assert_close(noisy, one_by_one, rtol=0, atol=0)


def test_zero_sigma_returns_the_input() -> None:
    clean = torch.rand((3, 16, 16), generator=gen(2))
    assert torch.equal(add_gaussian_noise(clean, 0, gen())[0], clean)


# Determinism and shapes, for every degradation


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


# Rain


def test_rain_only_brightens() -> None:
    clean = torch.rand((2, 3, 96, 96), generator=gen(8))
    rainy, _ = add_rain_streaks(clean, gen(), 0.01, 21, 15.0, 0.8)
    assert (rainy >= clean).all()
    assert (rainy > clean).any()


def test_rain_covers_more_pixels_as_density_grows() -> None:
    clean = grey(0.3, 128)
    fractions = [
        (add_rain_streaks(clean, gen(), density, 15, 0.0, 0.5)[0] > clean).float().mean().item()
        for density in (0.0, 0.001, 0.004, 0.016)
    ]
    assert fractions[0] == 0
    assert fractions == sorted(fractions) and len(set(fractions)) == 4


def test_rain_is_grey() -> None:
    clean = torch.rand((3, 64, 64), generator=gen(9)) * 0.4  # dark enough that nothing clips
    rainy, _ = add_rain_streaks(clean, gen(), 0.01, 15, -20.0, 0.6)
    streaks = rainy - clean
    torch.testing.assert_close(streaks[0], streaks[1])
    torch.testing.assert_close(streaks[0], streaks[2])


def test_rain_peaks_at_intensity() -> None:
    rainy, _ = add_rain_streaks(torch.zeros(3, 256, 256), gen(), 0.01, 15, 0.0, 0.5)
    assert rainy.max().item() == pytest.approx(0.5, abs=1e-5)


def test_rain_angle_leans_the_streaks() -> None:
    black = torch.zeros(3, 128, 128)

    def diagonal_correlations(angle: float) -> tuple[float, float]:
        layer = add_rain_streaks(black, gen(), 0.005, 21, angle, 0.5)[0][0]
        # a pixel against the one 2 rows up and 1 column right (left): along a "/" ("\\") streak
        up_right = (layer[2:, :-1] * layer[:-2, 1:]).mean().item()
        up_left = (layer[2:, 1:] * layer[:-2, :-1]).mean().item()
        return up_right, up_left

    right, left = diagonal_correlations(30.0)
    assert right > 2 * left  # positive angle: "/"
    right, left = diagonal_correlations(-30.0)
    assert left > 2 * right  # negative angle: "\\"
    vertical = add_rain_streaks(black, gen(), 0.005, 21, 0.0, 0.5)[0][0]
    assert (vertical.diff(dim=1).abs().sum() > 2 * vertical.diff(dim=0).abs().sum()).item()


def test_rain_refuses_even_or_short_lengths() -> None:
    for length in (4, 1, 20.5):
        with pytest.raises(ValueError, match="odd integer"):
            add_rain_streaks(grey(), gen(), 0.01, length, 0.0, 0.5)


# Haze


def test_haze_lowers_contrast_as_beta_grows(astronaut: torch.Tensor) -> None:
    stds = [
        luminance_std(add_haze(astronaut, gen(), beta, 0.85, tint=0.02)[0])
        for beta in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)
    ]
    assert all(a > b for a, b in pairwise(stds)), stds


def test_zero_beta_returns_the_input(astronaut: torch.Tensor) -> None:
    hazy, params = add_haze(astronaut, gen(), 0.0, 0.9, tint=0.03)
    assert torch.equal(hazy, astronaut)
    assert params == HazeParams(0.0, 0.9, 0.03)


def test_haze_follows_the_scattering_model_with_a_given_depth() -> None:
    clean = torch.rand((3, 8, 8), generator=gen(10))
    depth = torch.linspace(0, 1, 64).view(8, 8)
    hazy, _ = add_haze(clean, gen(), 1.5, 0.8, depth=depth)
    t = torch.exp(-1.5 * depth)
    torch.testing.assert_close(hazy, clean * t + 0.8 * (1 - t))


def test_haze_refuses_a_depth_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="depth of shape"):
        add_haze(grey(size=16), gen(), 1.0, 0.8, depth=torch.zeros(8, 8))


def test_depth_proxy_is_far_at_the_top_and_in_bright_regions() -> None:
    flat = estimate_depth_proxy(grey(0.5, 32))
    assert flat.shape == (32, 32)
    assert flat.min().item() == pytest.approx(0) and flat.max().item() == pytest.approx(1)
    assert (flat[:-1].mean(1) > flat[1:].mean(1)).all()  # far at the top
    sky_left = grey(0.2, 32)
    sky_left[:, :, :8] = 1.0
    depth = estimate_depth_proxy(torch.stack([sky_left, grey(0.2, 32)]))
    assert depth.shape == (2, 32, 32)
    assert depth[0, :, :4].mean() > depth[0, :, -4:].mean()


# Parameters and prompts


def test_describe_writes_numeric_prompts() -> None:
    assert NoiseParams(25).describe() == "denoise with sigma 25"
    assert NoiseParams(12.5).describe() == "denoise with sigma 12.5"
    strength_04 = 0.4 * RAIN_DENSITY_RANGE[1]
    assert RainParams(strength_04, 21, 0.0, 0.5).describe() == "remove rain of density 0.40"
    assert RainParams(1.0, 21, 0.0, 0.5).describe() == "remove rain of density 1.00"
    assert HazeParams(1.2, 0.8).describe() == "remove haze of thickness 1.2"


def test_samplers_stay_in_their_ranges_and_are_seeded() -> None:
    g = gen(11)
    for _ in range(50):
        assert sample_noise_params(g).sigma in NOISE_SIGMAS
        rain = sample_rain_params(g)
        assert RAIN_DENSITY_RANGE[0] <= rain.density <= RAIN_DENSITY_RANGE[1]
        assert RAIN_LENGTH_RANGE[0] <= rain.length <= RAIN_LENGTH_RANGE[1] and rain.length % 2 == 1
        assert RAIN_ANGLE_RANGE[0] <= rain.angle <= RAIN_ANGLE_RANGE[1]
        assert RAIN_INTENSITY_RANGE[0] <= rain.intensity <= RAIN_INTENSITY_RANGE[1]
        haze = sample_haze_params(g)
        assert HAZE_BETA_RANGE[0] <= haze.beta <= HAZE_BETA_RANGE[1]
        assert HAZE_AIRLIGHT_RANGE[0] <= haze.airlight <= HAZE_AIRLIGHT_RANGE[1]
    assert sample_rain_params(gen(12)) == sample_rain_params(gen(12))
    assert {sample_noise_params(g, sigmas=(5, 10)).sigma for _ in range(30)} == {5, 10}


def test_apply_degradation_samples_when_no_params_are_given() -> None:
    image = grey(0.4, 32)
    for name, params_type in (("noise", NoiseParams), ("rain", RainParams), ("haze", HazeParams)):
        degraded, params = apply_degradation(name, image, gen(13))
        assert isinstance(params, params_type)
        assert not torch.equal(degraded, image)


def test_tasks_refuse_unknown_names_and_mismatched_params() -> None:
    with pytest.raises(ValueError, match=rf"unknown task 'desnow'; expected one of {', '.join(TASKS)}\."):
        get_task("desnow")
    with pytest.raises(ValueError, match="task 'derain' takes RainParams parameters, got NoiseParams"):
        TASKS["derain"].apply(grey(), gen(), NoiseParams(25))
    with pytest.raises(ValueError, match="sigma"):
        add_gaussian_noise(grey(), -1, gen())
