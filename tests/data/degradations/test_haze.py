from itertools import pairwise

import pytest
import torch
from kornia.color import rgb_to_grayscale

from tpir.data.degradations.haze import (
    HAZE_AIRLIGHT_RANGE,
    HAZE_BETA_RANGE,
    HazeParams,
    add_haze,
    estimate_depth_proxy,
    sample_haze_params,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def grey(value: float = 0.5, size: int = 64) -> torch.Tensor:
    return torch.full((3, size, size), value)


def luminance_std(image: torch.Tensor) -> float:
    return rgb_to_grayscale(image).std().item()


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


def test_the_sampler_stays_in_its_ranges() -> None:
    g = gen(11)
    for _ in range(50):
        haze = sample_haze_params(g)
        assert HAZE_BETA_RANGE[0] <= haze.beta <= HAZE_BETA_RANGE[1]
        assert HAZE_AIRLIGHT_RANGE[0] <= haze.airlight <= HAZE_AIRLIGHT_RANGE[1]
