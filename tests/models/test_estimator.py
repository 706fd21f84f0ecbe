"""The degradation estimator: its classical noise statistic reads the sigma of white noise, and its
strength error trains only the strength head."""

import math

import pytest
import torch
import torch.nn.functional as F

from tpir.models.estimator import DegradationEstimator, _min_filter, image_statistics

TASKS = ["denoise", "derain", "dehaze"]


def _noise_level(image: torch.Tensor) -> torch.Tensor:
    """The noise statistic of :func:`image_statistics` on the 0-1 scale, (B,)."""
    residual = torch.zeros_like(image)  # the statistic does not read the residual
    return image_statistics(image, residual)[:, -1].exp()


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_the_noise_statistic_reads_the_sigma_of_white_noise_on_a_smooth_image(sigma: float) -> None:
    generator = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0.3, 0.7, 128)
    smooth = (ramp[None, :] + ramp[:, None]).div(2).expand(1, 3, 128, 128)
    noisy = smooth + sigma * torch.randn(smooth.shape, generator=generator)
    assert _noise_level(noisy).item() == pytest.approx(sigma, rel=0.05)
    assert _noise_level(smooth.contiguous()).item() < 0.001  # a linear ramp leaves no response


@pytest.mark.parametrize(("row", "column", "darkened"), [(10, 15, 7 * 7), (0, 0, 4 * 4), (19, 2, 4 * 6)])
def test_the_dark_channel_is_the_minimum_over_colours_and_a_7_pixel_window_cut_at_the_borders(
    row: int, column: int, darkened: int
) -> None:
    image = torch.ones(1, 3, 20, 30)
    image[0, 1, row, column] = 0.0  # one colour of one pixel black: its window's dark channel is 0
    dark_mean = image_statistics(image, torch.zeros_like(image))[0, 4]
    assert dark_mean.item() == pytest.approx(1 - darkened / (20 * 30))


def test_the_minimum_filter_gives_the_values_of_max_pooling_the_negated_image() -> None:
    image = torch.rand(2, 3, 23, 31, generator=torch.Generator().manual_seed(0))
    expected = -F.max_pool2d(-image, 7, stride=1, padding=3)
    assert torch.equal(_min_filter(image, 7), expected)


def test_the_strength_error_trains_the_strength_head_and_not_the_features() -> None:
    torch.manual_seed(0)
    estimator = DegradationEstimator(TASKS, measured=TASKS, width=4)
    image = torch.rand(2, 3, 32, 32)
    present = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    strength = torch.tensor([[25.0, math.nan, math.nan], [math.nan, 0.4, math.nan]])

    _, log_strength = estimator.outputs(image)
    log_strength.sum().backward()
    assert all(p.grad is None for p in estimator.features.parameters())
    assert all(p.grad is None for p in estimator.presence_head.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in estimator.strength_head.parameters())

    estimator.zero_grad(set_to_none=True)
    estimator.loss(image, present, strength).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in estimator.features.parameters())


def test_presence_is_learnt_balanced_per_task_and_not_where_it_is_unknown(monkeypatch) -> None:
    estimator = DegradationEstimator(TASKS, measured=TASKS, width=4)
    logits = torch.zeros(4, 3, requires_grad=True)
    monkeypatch.setattr(estimator, "outputs", lambda image: (logits, torch.zeros(4, 3)))
    present = torch.tensor([[1.0, 1.0, math.nan], [0.0, 0.0, 1.0], [0.0, math.nan, 0.0], [0.0, 0.0, 0.0]])
    loss = estimator.loss(torch.rand(4, 3, 8, 8), present, torch.full((4, 3), math.nan))
    assert float(loss) == pytest.approx(math.log(2))  # every told logit at 0 costs log 2, in any weighting
    loss.backward()
    assert (logits.grad[present.isnan()] == 0).all()
    told = ~present.isnan()
    for task in range(3):
        pulls = logits.grad[:, task][told[:, task]]
        up, down = pulls[present[:, task][told[:, task]] == 1], pulls[present[:, task][told[:, task]] == 0]
        assert float(up.sum()) == pytest.approx(-float(down.sum()))  # one image with it weighs as all without


def test_the_estimator_measures_an_image_through_a_change_view_by_view() -> None:
    from tpir.models.estimator import WINDOW

    estimator = DegradationEstimator(TASKS, measured=TASKS, width=4)
    image = torch.rand(1, 3, 40, 48)
    assert torch.equal(estimator(image, through=lambda view: view).presence, estimator(image).presence)
    assert torch.equal(
        estimator(image, through=lambda view: 1 - view).presence, estimator(1 - image).presence
    )
    seen = []
    estimator(
        torch.rand(1, 3, 2 * WINDOW + 8, 3 * WINDOW), through=lambda view: seen.append(view.shape) or view
    )
    assert seen == [(1, 3, WINDOW, WINDOW)] * 4  # a large image: each window it measures, no more


def test_an_image_smaller_than_the_last_stage_is_still_measured() -> None:
    estimator = DegradationEstimator(TASKS, measured=TASKS, width=4)
    estimate = estimator(torch.rand(1, 3, 8, 8))  # the last stage is one pixel: its spread is zero, not NaN
    assert torch.isfinite(estimate.presence).all() and torch.isfinite(estimate.strength).all()
