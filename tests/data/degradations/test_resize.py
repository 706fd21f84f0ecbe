import pytest
import torch
import torch.nn.functional as F

from tpir.data.degradations.resize import (
    RESIZE_FACTOR_RANGE,
    RESIZE_KERNELS,
    ResizeParams,
    add_resize,
    sample_resize_params,
)
from tpir.metrics.image_quality import psnr


@pytest.mark.parametrize("kernel", RESIZE_KERNELS)
def test_resize_keeps_the_size_and_loses_more_detail_at_larger_factors(
    astronaut: torch.Tensor, kernel: str
) -> None:
    half, params = add_resize(astronaut, torch.Generator(), 2.0, kernel)
    quarter, _ = add_resize(astronaut, torch.Generator(), 4.0, kernel)
    assert half.shape == astronaut.shape and params == ResizeParams(2.0, kernel)
    assert 15 < float(psnr(quarter[None], astronaut[None])) < float(psnr(half[None], astronaut[None])) < 40


def test_resize_is_the_bicubic_enlargement_of_the_antialiased_small_image(astronaut: torch.Tensor) -> None:
    degraded, _ = add_resize(astronaut[None], torch.Generator(), 2.0, "bicubic")
    small = F.interpolate(astronaut[None], size=(64, 64), mode="bicubic", antialias=True, align_corners=False)
    expected = F.interpolate(small.clamp(0, 1), size=(128, 128), mode="bicubic", align_corners=False)
    assert torch.allclose(degraded, expected.clamp(0, 1), atol=1e-6)


def test_a_factor_of_one_changes_nothing_but_rounding(astronaut: torch.Tensor) -> None:
    same, _ = add_resize(astronaut, torch.Generator(), 1.0, "area")
    assert torch.allclose(same, astronaut, atol=1e-5)


@pytest.mark.parametrize(("factor", "kernel"), [(0.5, "bicubic"), (2.0, "lanczos")])
def test_resize_refuses_a_shrink_below_one_or_an_unknown_kernel(factor: float, kernel: str) -> None:
    with pytest.raises(ValueError, match=r"factor|kernel"):
        add_resize(torch.rand(3, 16, 16), torch.Generator(), factor, kernel)


def test_the_prompt_states_the_factor_and_the_sampler_stays_in_its_range() -> None:
    assert ResizeParams(2.0).describe() == "undo the 2x downscaling"
    assert ResizeParams(3.0).with_number(2.5) == ResizeParams(2.5)
    generator = torch.Generator().manual_seed(3)
    drawn = [sample_resize_params(generator) for _ in range(60)]
    low, high = RESIZE_FACTOR_RANGE
    assert all(low <= p.factor <= high and p.kernel in RESIZE_KERNELS for p in drawn)
    assert {p.kernel for p in drawn} == set(RESIZE_KERNELS)
