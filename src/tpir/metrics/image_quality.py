"""PSNR and SSIM on RGB in [0, 1] (data range 1), as the paper's tables use them.

SSIM follows scikit-image's ``structural_similarity`` defaults: a 7x7 uniform window, K1 = 0.01,
K2 = 0.03, sample covariances, the mean over the map without its 3-pixel border, averaged over channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)  # ITU-R BT.601, as BasicSR's Y channel


def _check_pair(prediction: torch.Tensor, target: torch.Tensor) -> None:
    if prediction.shape != target.shape or prediction.ndim != 4:
        raise ValueError(
            f"expected two (B, C, H, W) tensors of one shape, got {tuple(prediction.shape)} and {tuple(target.shape)}."
        )


def rgb_to_y(image: torch.Tensor) -> torch.Tensor:
    """Luma of RGB images (B, 3, H, W) in [0, 1] as (B, 1, H, W) in [16/255, 235/255]."""
    weights = image.new_tensor(_Y_WEIGHTS).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True) + 16.0 / 255.0


def crop_border(image: torch.Tensor, border: int) -> torch.Tensor:
    """Drop ``border`` pixels on each side of (B, C, H, W) images."""
    return (
        image[..., border : image.shape[-2] - border, border : image.shape[-1] - border] if border else image
    )


def _compared(
    prediction: torch.Tensor, target: torch.Tensor, y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair as scored: checked, the prediction clamped to [0, 1], both in float64 (their luma with
    ``y_channel``)."""
    _check_pair(prediction, target)
    prediction, target = prediction.clamp(0, 1).double(), target.double()
    if y_channel:
        prediction, target = rgb_to_y(prediction), rgb_to_y(target)
    return prediction, target


def psnr(
    prediction: torch.Tensor, target: torch.Tensor, crop: int = 0, y_channel: bool = False
) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB.

    Args:
        prediction: restored images, (B, 3, H, W), RGB in [0, 1] (clamped here).
        target: reference images, (B, 3, H, W), RGB in [0, 1].
        crop: border pixels ignored on each side.
        y_channel: compare the luma (Y of YCbCr) instead of RGB.

    Returns:
        PSNR of each image, (B,).
    """
    prediction, target = _compared(prediction, target, y_channel)
    error = (crop_border(prediction, crop) - crop_border(target, crop)).pow(2).mean(dim=(1, 2, 3))
    return (10 * torch.log10(1.0 / error.clamp(min=1e-12))).float()


def ssim(
    prediction: torch.Tensor, target: torch.Tensor, crop: int = 0, y_channel: bool = False, window: int = 7
) -> torch.Tensor:
    """Structural similarity per image, matching ``skimage.metrics.structural_similarity`` (data range 1).

    Args:
        prediction: restored images, (B, C, H, W), in [0, 1] (clamped here); H, W >= ``window``.
        target: reference images, (B, C, H, W), in [0, 1].
        crop: border pixels ignored on each side before SSIM.
        y_channel: compare the luma instead of RGB (needs C = 3).
        window: side of the uniform window (odd).

    Returns:
        SSIM of each image, (B,).
    """
    prediction, target = _compared(prediction, target, y_channel)
    prediction, target = crop_border(prediction, crop), crop_border(target, crop)
    if min(prediction.shape[-2:]) < window:
        raise ValueError(
            f"SSIM needs images of at least {window}x{window} pixels, got {tuple(prediction.shape[-2:])}."
        )
    c1, c2 = 0.01**2, 0.03**2
    count = window * window
    covariance_norm = count / (count - 1)  # sample covariance, as scikit-image by default

    def local_mean(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, window, stride=1)

    mean_p, mean_t = local_mean(prediction), local_mean(target)
    var_p = covariance_norm * (local_mean(prediction * prediction) - mean_p * mean_p)
    var_t = covariance_norm * (local_mean(target * target) - mean_t * mean_t)
    cov = covariance_norm * (local_mean(prediction * target) - mean_p * mean_t)
    numerator = (2 * mean_p * mean_t + c1) * (2 * cov + c2)
    denominator = (mean_p**2 + mean_t**2 + c1) * (var_p + var_t + c2)
    # avg_pool2d without padding yields exactly the map scikit-image keeps after cropping its border.
    return (numerator / denominator).mean(dim=(1, 2, 3)).float()


SCORES = ("psnr", "ssim", "psnr_input", "ssim_input", "psnr_output_vs_input")


def restoration_scores(restored: torch.Tensor, lq: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every score of a restoration, per image: what validation during training and every test report.

    Args:
        restored: model outputs, (B, 3, H, W), RGB; clamped to [0, 1] and scored in float32 here.
        lq: the degraded inputs, (B, 3, H, W), RGB in [0, 1].
        gt: the clean targets, (B, 3, H, W), RGB in [0, 1].

    Returns:
        For each name of :data:`SCORES`, a (B,) tensor: the output against the target (``psnr``,
        ``ssim``), the input against the target (``*_input``), and the output against the input
        (``psnr_output_vs_input``: how much restoring changed the image).
    """
    restored, lq, gt = restored.float().clamp(0, 1), lq.float(), gt.float()
    return {
        "psnr": psnr(restored, gt),
        "ssim": ssim(restored, gt),
        "psnr_input": psnr(lq, gt),
        "ssim_input": ssim(lq, gt),
        "psnr_output_vs_input": psnr(restored, lq),
    }
