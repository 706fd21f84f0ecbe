import pytest
import torch

from tpir.data.degradations.noise import NOISE_SIGMAS, NoiseParams, add_gaussian_noise, sample_noise_params


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_noise_has_the_requested_std_and_zero_mean(sigma: float) -> None:
    clean = torch.full((3, 256, 256), 0.5)
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


def test_negative_sigma_is_refused() -> None:
    with pytest.raises(ValueError, match="sigma"):
        add_gaussian_noise(torch.full((3, 64, 64), 0.5), -1, gen())


def test_the_sampler_picks_one_of_its_sigmas() -> None:
    g = gen(11)
    assert all(sample_noise_params(g).sigma in NOISE_SIGMAS for _ in range(50))
    assert {sample_noise_params(g, sigmas=(5, 10)).sigma for _ in range(30)} == {5, 10}
