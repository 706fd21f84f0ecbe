"""What an image suffers from, measured from the image alone: per task, whether its degradation is there
and how strong it is (on the benchmark's scale: noise sigma on 0-255, rain density, haze thickness).

The backbone removes what the prompt names; the estimate decides how much of that change is kept
(:mod:`tpir.models.steering`): nothing for a degradation the image lacks, a share for a prompt that asks
to remove part of one, and, for a blind prompt, which degradations the prompt is taken to name.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Images with more pixels are measured on WINDOWS windows of WINDOW x WINDOW pixels (their mean): the
# measurement is global, and a 12-megapixel photo would otherwise cost as much as the restoration.
WINDOW, WINDOWS = 512, 4
# The high-pass residual is amplified by this before the first convolution: noise of sigma 5 on 0-255
# is then about as large as an image's own variation.
HIGH_PASS_GAIN = 8.0
# Side of the window of the dark channel, and how many numbers image_statistics gives per image.
DARK_WINDOW, IMAGE_STATISTICS = 7, 7
# Immerkaer's operator: the difference of two discrete Laplacians, which cancels an image's locally
# linear part; white noise of sigma 1 leaves a response of standard deviation 6 (the root of the sum of its
# squared weights).
_NOISE_OPERATOR = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))


@dataclass(frozen=True)
class Estimate:
    """Per image and task: ``presence`` (B, T), the chance the degradation is there, in [0, 1], and
    ``strength`` (B, T), its estimated number on the benchmark's scale (meaningful for measured tasks)."""

    presence: torch.Tensor
    strength: torch.Tensor

    def row(self, index: int) -> Estimate:
        """The estimate of image ``index`` alone, (1, T) each."""
        return Estimate(self.presence[index : index + 1], self.strength[index : index + 1])


class DegradationEstimator(nn.Module):
    """A small CNN that measures each task's degradation in an image, independent of the prompt.

    It reads the image and its high-pass residual (the image minus its 3x3 mean, amplified by
    :data:`HIGH_PASS_GAIN`: noise lives there, and without it 2000 steps taught the network only the
    prior). Full-resolution 3x3 convolutions, three stride-2 stages, each convolution followed by a
    GroupNorm and a GELU, in channels-last layout (faster convolutions on CPU); then the mean and
    standard deviation of the features over the image, beside a few classical whole-image statistics
    (:func:`image_statistics`: the direction shared by streaks, the dark channel that haze lifts, the
    noise level). Two two-layer heads read them: one gives each task's presence logit, the other the log
    of its strength. The strength head reads the features without sending its gradients back: the
    strength error then cannot crowd out what the features learn for presence, and the strength leans on
    the statistics (one shared head found rain less reliably and read sigma more loosely). It runs in
    fp32 whatever the autocast around it.

    Args:
        tasks: the tasks, in id order.
        measured: the tasks whose strength is estimated and whose stated number sets how much is removed
            (those declared with ``partial_removal``: their number grows with the degradation).
        width: channels of the first stage (the others have twice as many).
        order: the tasks in physical order, innermost first (haze, rain, noise), by which a degradation
            hidden under a found one is measured again (:func:`tpir.models.steering.uncover`); empty (the
            folders exported before it) measures once.
    """

    def __init__(
        self,
        tasks: Sequence[str],
        measured: Sequence[str] = (),
        width: int = 32,
        order: Sequence[str] = (),
    ) -> None:
        super().__init__()
        unknown = [task for task in measured if task not in tasks]
        if unknown:
            raise ValueError(f"estimator: measured tasks {unknown} are not among its tasks {list(tasks)}.")
        if order and sorted(order) != sorted(tasks):
            raise ValueError(f"estimator: order {list(order)} is not an ordering of its tasks {list(tasks)}.")
        self.tasks = list(tasks)
        self.measured = list(measured)
        self.order = list(order)
        self.width = width
        widths = [2 * 3, width, width, 2 * width, 2 * width]
        stages = []
        for stage, (inputs, outputs) in enumerate(itertools.pairwise(widths)):
            stages += [
                nn.Conv2d(inputs, outputs, 3, stride=1 if stage == 0 else 2, padding=1),
                nn.GroupNorm(1, outputs),
                nn.GELU(),
            ]
        self.features = nn.Sequential(*stages)
        self.presence_head, self.strength_head = (
            nn.Sequential(
                nn.Linear(2 * widths[-1] + IMAGE_STATISTICS, widths[-1]),
                nn.GELU(),
                nn.Linear(widths[-1], len(self.tasks)),
            )
            for _ in range(2)
        )

    def export_arguments(self) -> dict[str, object]:
        """Plain values that rebuild this estimator (a model folder's ``config.json``)."""
        return {"tasks": self.tasks, "measured": self.measured, "width": self.width, "order": self.order}

    def outputs(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Presence logits and log strengths of ``image`` (B, 3, H, W) in [0, 1], each (B, T)."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"estimator: expected images (B, 3, H, W), got {tuple(image.shape)}.")
        image = image.float()
        with torch.autocast(image.device.type, enabled=False):
            local_mean = F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
            residual = image - local_mean
            read = torch.cat([image, HIGH_PASS_GAIN * residual], dim=1)
            features = self.features(read.contiguous(memory_format=torch.channels_last))
            features = features.flatten(2)
            pooled = torch.cat([features.mean(dim=2), features.std(dim=2, correction=0)], dim=1)
            statistics = image_statistics(image, residual)
            logits = self.presence_head(torch.cat([pooled, statistics], dim=1))
            log_strength = self.strength_head(torch.cat([pooled.detach(), statistics], dim=1))
        return logits, log_strength

    def forward(
        self, image: torch.Tensor, through: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> Estimate:
        """The estimate of ``image`` (B, 3, H, W) in [0, 1]; large images are measured on windows.

        Args:
            image: the images.
            through: applied to what is measured (the image, or each window of a large one) first, e.g. the
                backbone removing a degradation: the estimate of the image as it would be after it.
        """
        height, width = image.shape[-2:]
        views = [image] if height * width <= WINDOW * WINDOW * WINDOWS else _windows(image)
        measured = [self.outputs(view if through is None else through(view)) for view in views]
        logits = torch.stack([m[0] for m in measured]).mean(dim=0)
        log_strength = torch.stack([m[1] for m in measured]).mean(dim=0)
        return Estimate(torch.sigmoid(logits), log_strength.exp())

    def loss(self, image: torch.Tensor, present: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        """Presence cross-entropy plus the mean absolute error of the log strength (the two train disjoint
        parameters, so their relative weight does not matter to Adam).

        The cross-entropy is balanced per task over the batch: its images with the degradation weigh as
        much as those without, so a presence of 0.5 does not depend on how often the training mix has it
        (composites, hidden layers and the backbone's outputs each change that share); unbalanced, its
        rain recall fell as those made rain rarer among its labels.

        Args:
            image: degraded images, (B, 3, H, W) in [0, 1].
            present: which degradations each image has, (B, T), 0 or 1; NaN where unknown (what a
                backbone's output was asked to remove).
            strength: their numbers on the benchmark's scale, (B, T); NaN where unknown (a real rainy
                photo, an absent degradation, a task that is not measured).
        """
        logits, log_strength = self.outputs(image)
        told = torch.isfinite(present)
        target = present.nan_to_num(0.0).to(logits)
        positives = (target * told).sum(dim=0)
        negatives = told.sum(dim=0) - positives
        weight = torch.where(target > 0, 0.5 / positives.clamp(min=1), 0.5 / negatives.clamp(min=1)) * told
        loss = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).sum() / len(
            self.tasks
        )
        known = torch.isfinite(strength) & (strength > 0)
        if known.any():
            error = (log_strength[known] - strength[known].to(log_strength).log()).abs().mean()
            loss = loss + error
        return loss


def image_statistics(image: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """Whole-image statistics that a small CNN trained on 64-pixel crops is slow to learn, (B, 7).

    - The structure tensor of the gradients of the high-pass ``residual`` (grey), averaged over the
      image: ``(Jxx - Jyy) / trace``, ``2 Jxy / trace``, the coherence ``|J's eigenvalue gap| / trace``
      and ``log(trace) / 10``. Rain streaks share one direction across the image; noise has none, and
      an image's own edges seldom agree.
    - The dark channel (He, Sun and Tang, "Single image haze removal using dark channel prior", CVPR
      2009): the minimum over colours and a :data:`DARK_WINDOW`-pixel window, its mean and standard
      deviation. Haze lifts it; in clear outdoor images it is near zero.
    - The log of the noise level (Immerkaer, "Fast noise variance estimation", CVIU 1996): the mean
      absolute response to :data:`_NOISE_OPERATOR` over pixels and colours, times sqrt(pi / 2) / 6. On the
      first 20 CBSD68 images with Gaussian noise of sigma 15 / 25 / 50 it reads 13.8-17.1 / 22.0-25.7 /
      41.7-48.0 (clipping to [0, 1] lowers the last).

    Args:
        image: (B, 3, H, W) in [0, 1].
        residual: the image minus its local mean, (B, 3, H, W).
    """
    grey = residual.mean(dim=1)
    dx = (grey[..., :-1, 1:] - grey[..., :-1, :-1]).flatten(1)
    dy = (grey[..., 1:, :-1] - grey[..., :-1, :-1]).flatten(1)
    jxx, jyy, jxy = (dx * dx).mean(dim=1), (dy * dy).mean(dim=1), (dx * dy).mean(dim=1)
    trace = jxx + jyy + 1e-8
    coherence = torch.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / trace
    dark = _min_filter(image.amin(dim=1), DARK_WINDOW).flatten(1)
    operator = image.new_tensor(_NOISE_OPERATOR).expand(3, 1, 3, 3)
    noise = F.conv2d(image, operator, groups=3).abs().flatten(1).mean(dim=1) * (math.pi / 2) ** 0.5 / 6
    return torch.stack(
        [
            (jxx - jyy) / trace,
            2 * jxy / trace,
            coherence,
            trace.log() / 10,
            dark.mean(dim=1),
            dark.std(dim=1),
            (noise + 1e-4).log(),  # a flat image reads 1e-4 (sigma 0.03 on 0-255), not minus infinity
        ],
        dim=1,
    )


def _min_filter(image: torch.Tensor, size: int) -> torch.Tensor:
    """The minimum of ``image`` (..., H, W) over a ``size`` x ``size`` window (odd) centred on each pixel,
    (..., H, W), the window cut at the borders: the minima of shifted slices, along rows then columns
    (a seventh of the time of the max-pooling of the negated image on 2 CPU cores, with the same values)."""
    height, width = image.shape[-2:]
    reach = size // 2
    padded = F.pad(image, (reach, reach, reach, reach), value=float("inf"))
    rows = padded[..., :height, :]
    for shift in range(1, size):
        rows = torch.minimum(rows, padded[..., shift : shift + height, :])
    result = rows[..., :width]
    for shift in range(1, size):
        result = torch.minimum(result, rows[..., shift : shift + width])
    return result


def _windows(image: torch.Tensor) -> list[torch.Tensor]:
    """:data:`WINDOWS` windows of :data:`WINDOW` pixels, at the centres of the image's quarters."""
    height, width = image.shape[-2:]
    size_y, size_x = min(WINDOW, height), min(WINDOW, width)
    windows = []
    for fy in (0.25, 0.75):
        for fx in (0.25, 0.75):
            top = min(max(int(fy * height) - size_y // 2, 0), height - size_y)
            left = min(max(int(fx * width) - size_x // 2, 0), width - size_x)
            windows.append(image[..., top : top + size_y, left : left + size_x])
    return windows
