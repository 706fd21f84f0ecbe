import torch

from tpir.data.degradations.lowlight import LowLightParams, add_low_light, sample_low_light_params


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


def test_low_light_is_seeded_and_the_sampler_stays_in_its_range() -> None:
    image = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(4))
    first = add_low_light(image, torch.Generator().manual_seed(5), 0.2)[0]
    assert torch.equal(first, add_low_light(image, torch.Generator().manual_seed(5), 0.2)[0])
    generator = torch.Generator().manual_seed(6)
    assert all(0.1 <= sample_low_light_params(generator).exposure <= 0.4 for _ in range(40))
