import pytest
import torch

from tpir.data.degradations.blur import BlurParams, add_blur, sample_blur_params


def _impulse(size: int = 61) -> torch.Tensor:
    image = torch.zeros(3, size, size)
    image[:, size // 2, size // 2] = 1.0
    return image


def _spread(response: torch.Tensor) -> tuple[float, float]:
    """Standard deviations of an impulse response along rows and columns."""
    weights = response / response.sum()
    rows = torch.arange(response.shape[0], dtype=torch.float64)[:, None]
    cols = torch.arange(response.shape[1], dtype=torch.float64)[None, :]
    w = weights.double()
    mean_r, mean_c = (w * rows).sum(), (w * cols).sum()
    return float((w * (rows - mean_r) ** 2).sum().sqrt()), float((w * (cols - mean_c) ** 2).sum().sqrt())


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_gaussian_blur_sums_to_one_and_its_width_is_sigma(sigma: float) -> None:
    blurred, params = add_blur(_impulse(), torch.Generator(), sigma=sigma)
    assert params == BlurParams(sigma=sigma) and params.number == sigma
    assert float(blurred[0].sum()) == pytest.approx(1.0, abs=1e-5)
    assert _spread(blurred[0]) == pytest.approx((sigma, sigma), rel=0.03)


def test_motion_blur_sums_to_one_and_spreads_along_its_direction() -> None:
    horizontal, params = add_blur(_impulse(), torch.Generator(), length=15, angle=0.0)
    assert float(horizontal[0].sum()) == pytest.approx(1.0, abs=1e-5) and params.number is None
    rows, cols = _spread(horizontal[0])
    assert rows < 0.5 and cols == pytest.approx(15 / 12**0.5, rel=0.1)  # a box of 15 px: 15 / sqrt(12)
    vertical, _ = add_blur(_impulse(), torch.Generator(), length=15, angle=90.0)
    assert _spread(vertical[0])[0] == pytest.approx(cols, rel=0.1)
    with pytest.raises(ValueError, match="odd integer"):
        add_blur(_impulse(), torch.Generator(), length=4)


def test_the_sampler_draws_gaussian_and_motion_blurs() -> None:
    generator = torch.Generator().manual_seed(6)
    blurs = [sample_blur_params(generator) for _ in range(40)]
    assert any(b.length for b in blurs) and any(b.sigma for b in blurs)
