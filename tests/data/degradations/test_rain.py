import pytest
import torch

from tpir.data.degradations.rain import (
    RAIN_ANGLE_RANGE,
    RAIN_DENSITY_RANGE,
    RAIN_INTENSITY_RANGE,
    RAIN_LENGTH_RANGE,
    add_rain_streaks,
    sample_rain_params,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_rain_only_brightens() -> None:
    clean = torch.rand((2, 3, 96, 96), generator=gen(8))
    rainy, _ = add_rain_streaks(clean, gen(), 0.01, 21, 15.0, 0.8)
    assert (rainy >= clean).all()
    assert (rainy > clean).any()


def test_rain_covers_more_pixels_as_density_grows() -> None:
    clean = torch.full((3, 128, 128), 0.3)
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
            add_rain_streaks(torch.full((3, 64, 64), 0.5), gen(), 0.01, length, 0.0, 0.5)


def test_the_sampler_stays_in_its_ranges_and_is_seeded() -> None:
    g = gen(11)
    for _ in range(50):
        rain = sample_rain_params(g)
        assert RAIN_DENSITY_RANGE[0] <= rain.density <= RAIN_DENSITY_RANGE[1]
        assert RAIN_LENGTH_RANGE[0] <= rain.length <= RAIN_LENGTH_RANGE[1] and rain.length % 2 == 1
        assert RAIN_ANGLE_RANGE[0] <= rain.angle <= RAIN_ANGLE_RANGE[1]
        assert RAIN_INTENSITY_RANGE[0] <= rain.intensity <= RAIN_INTENSITY_RANGE[1]
    assert sample_rain_params(gen(12)) == sample_rain_params(gen(12))
