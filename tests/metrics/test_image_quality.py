import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tpir.metrics.image_quality import psnr, ssim


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 40, 52, generator=generator)
    prediction = (target + 0.1 * torch.randn(target.shape, generator=generator)).clamp(0, 1)
    return prediction, target


def test_ssim_matches_scikit_image(pair) -> None:
    prediction, target = pair
    ours = ssim(prediction, target)
    for i in range(2):
        reference = structural_similarity(
            prediction[i].permute(1, 2, 0).numpy(),
            target[i].permute(1, 2, 0).numpy(),
            channel_axis=2,
            data_range=1.0,
        )
        assert abs(float(ours[i]) - reference) < 1e-3


def test_psnr_matches_scikit_image(pair) -> None:
    prediction, target = pair
    reference = peak_signal_noise_ratio(target[0].numpy(), prediction[0].numpy(), data_range=1.0)
    assert float(psnr(prediction, target)[0]) == pytest.approx(reference, abs=1e-4)


def test_psnr_of_a_known_error() -> None:
    target = torch.zeros(1, 3, 8, 8)
    prediction = torch.full_like(target, 0.1)  # MSE 0.01 -> 20 dB
    assert float(psnr(prediction, target)) == pytest.approx(20.0, abs=1e-4)
    assert float(psnr(prediction, target, y_channel=True)) > 20.0  # luma scales the error down


def test_identical_images_give_ssim_one(pair) -> None:
    _, target = pair
    assert torch.allclose(ssim(target, target), torch.ones(2))
    assert np.isfinite(float(psnr(target, target)[0]))


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"expected two \(B, C, H, W\) tensors of one shape"):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
