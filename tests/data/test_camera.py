"""Blur, JPEG and low light: their statistics, their determinism, their place in composite images."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tpir.data.camera import (
    BlurParams,
    JpegParams,
    LowLightParams,
    add_blur,
    add_jpeg,
    add_low_light,
    sample_blur_params,
    sample_jpeg_params,
    sample_low_light_params,
)
from tpir.data.composite import Stack, stack_layers
from tpir.data.tasks import TASKS


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


@pytest.mark.parametrize("quality", [10, 40])
def test_jpeg_equals_pillow_encoding_and_decoding_at_that_quality(quality: int) -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 50, 70, generator=generator), 3, 1, 1)[0]
    compressed, params = add_jpeg(image, generator, quality)
    pixels = image.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, format="JPEG", quality=quality, subsampling="4:2:0")
    expected = np.array(Image.open(stream).convert("RGB"))
    assert params == JpegParams(quality)
    assert torch.equal(
        compressed.mul(255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(expected)
    )
    assert float((compressed - image).abs().mean()) > 0.002  # it did lose something


def test_jpeg_of_a_batch_is_each_image_compressed() -> None:
    batch = torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(1))
    together, _ = add_jpeg(batch, torch.Generator(), 20)
    assert torch.equal(together[1], add_jpeg(batch[1], torch.Generator(), 20)[0])


def test_low_light_lowers_the_mean_and_keeps_the_order_of_intensities_before_noise() -> None:
    image = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(2))
    dark, params = add_low_light(image, torch.Generator(), exposure=0.2, gamma=1.8, shot=0.0, read=0.0)
    assert params == LowLightParams(0.2, 1.8, 0.0, 0.0)
    assert float(dark.mean()) < 0.25 * float(image.mean())
    order = image.flatten().argsort()
    assert bool((dark.flatten()[order].diff() >= 0).all())  # monotone: brighter stays brighter
    noisy, _ = add_low_light(image, torch.Generator().manual_seed(3), exposure=0.2, shot=0.01, read=0.01)
    bright = image > 0.8
    assert float((noisy - dark)[bright].std()) > float((noisy - dark)[image < 0.1].std())  # signal-dependent


def test_degradations_are_seeded_and_the_samplers_stay_in_their_ranges() -> None:
    image = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(4))
    first = add_low_light(image, torch.Generator().manual_seed(5), 0.2)[0]
    assert torch.equal(first, add_low_light(image, torch.Generator().manual_seed(5), 0.2)[0])
    generator = torch.Generator().manual_seed(6)
    blurs = [sample_blur_params(generator) for _ in range(40)]
    assert any(b.length for b in blurs) and any(b.sigma for b in blurs)
    assert all(10 <= sample_jpeg_params(generator).quality <= 60 for _ in range(40))
    assert all(0.1 <= sample_low_light_params(generator).exposure <= 0.4 for _ in range(40))


def test_the_new_degradations_stack_in_physical_order_with_the_others() -> None:
    clean = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(7))
    layers = stack_layers(["dejpeg", "denoise", "deblur", "dehaze"], torch.Generator().manual_seed(8))
    assert [layer.task for layer in layers] == ["dehaze", "deblur", "denoise", "dejpeg"]
    stack = Stack(clean, layers)
    without_jpeg = stack.without(["dejpeg"])
    by_hand = clean
    for layer in layers[:3]:
        by_hand = layer.apply(by_hand)
    assert torch.equal(without_jpeg, by_hand)
    assert TASKS["lowlight"].layer < TASKS["denoise"].layer < TASKS["dejpeg"].layer
