import pytest
import torch

from tpir.metrics.image_quality import psnr
from tpir.models.losses import restoration_loss


def _pair(seed: int, error: float) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(1, 3, 8, 8, generator=generator) * 0.5 + 0.25
    return target + error * torch.randn(1, 3, 8, 8, generator=generator), target


def test_psnr_loss_is_minus_the_mean_psnr_of_the_samples() -> None:
    (a, a_target), (b, b_target) = _pair(0, 0.01), _pair(1, 0.1)
    restored, target = torch.cat([a, b]), torch.cat([a_target, b_target])
    expected = -psnr(restored, target).mean()  # psnr() clamps to [0, 1]: these samples stay inside
    assert restoration_loss(restored, target, "psnr") == pytest.approx(float(expected), abs=1e-3)


def test_psnr_loss_weighs_a_sample_by_its_own_error_where_l1_weighs_all_alike() -> None:
    """A sample ten times closer to its target gets a gradient ten times larger under ``psnr`` (the
    gradient of log MSE is that of MSE over MSE), and the same size under ``l1``."""
    (close, close_target), (far, far_target) = _pair(0, 0.01), _pair(1, 0.1)
    restored = torch.cat([close, far]).requires_grad_()
    target = torch.cat([close_target, far_target])
    ratios = {}
    for loss in ("psnr", "l1"):
        (gradient,) = torch.autograd.grad(restoration_loss(restored, target, loss), restored)
        ratios[loss] = float(gradient[0].norm() / gradient[1].norm())
    assert 8 < ratios["psnr"] < 12
    assert 0.9 < ratios["l1"] < 1.1


def test_an_unknown_loss_is_named_with_the_choices() -> None:
    restored = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match=r"module.loss='l2': expected one of l1, psnr"):
        restoration_loss(restored, restored, "l2")
