"""The degradation estimator and how a prompt's reading and an image's estimate decide the output."""

import itertools

import pytest
import torch

from tpir.models.estimator import WINDOW, DegradationEstimator, Estimate
from tpir.models.steering import ABSENT, FOUND, number_share, plan, presence_share, steer
from tpir.text.parsing import PromptParser

TASKS = ["denoise", "derain", "dehaze"]
INNERMOST_FIRST = ["dehaze", "derain", "denoise"]
# Every task measured; without and with the physical order (what lets a plan measure hidden layers again).
ESTIMATOR = DegradationEstimator(TASKS, TASKS, width=4)
LAYERED = DegradationEstimator(TASKS, TASKS, width=4, order=INNERMOST_FIRST)


def _estimate(presence: list[float], strength: list[float]) -> Estimate:
    return Estimate(torch.tensor([presence]), torch.tensor([strength]))


def _plan(parser: PromptParser, prompt: str, estimate: Estimate):
    return plan(prompt, parser.parse(prompt), estimate, ESTIMATOR, parser.lexicon)


def test_a_prompt_naming_what_is_absent_changes_nothing_and_one_naming_what_is_found_all(parser) -> None:
    noisy = _estimate([0.98, 0.01, 0.35], [25.0, 0.0, 0.0])
    assert _plan(parser, "remove the rain", noisy).share == 0.0
    assert _plan(parser, "remove the rain and the noise", noisy).share == 1.0
    assert _plan(parser, "remove the haze", noisy).share == pytest.approx(0.5)  # unsure: half of it


def test_a_prompt_naming_only_what_the_model_cannot_remove_changes_nothing(parser) -> None:
    everything = _estimate([0.99, 0.99, 0.99], [25.0, 0.5, 1.0])
    assert _plan(parser, "sharpen this blurry photo", everything).share == 0.0  # deblur: not its task
    assert _plan(parser, "remove the blur and the rain", everything).share == 1.0  # the rain it can


def test_the_share_rises_with_presence_from_absent_to_found() -> None:
    presences = [0.0, ABSENT, (ABSENT + FOUND) / 2, FOUND, 0.9]
    assert [presence_share(p) for p in presences] == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])


def test_a_stated_number_keeps_its_share_of_the_estimated_strength(parser) -> None:
    noisy = _estimate([1.0, 0.0, 0.0], [25.0, 0.0, 0.0])
    shares = [_plan(parser, f"denoise with sigma {sigma}", noisy).share for sigma in (5, 23, 25, 28, 50)]
    assert shares == pytest.approx([0.2 * 1.15, 1.0, 1.0, 1.0, 2.0 / 1.15])  # 23 and 28: within 15 %
    assert _plan(parser, "please remove the noise", noisy).share == pytest.approx(1.0)  # no number: all
    # A number for one of several named degradations cannot be told apart in one change: all of it.
    assert _plan(parser, "remove the rain and the noise of sigma 5", noisy).share == pytest.approx(1.0)


def test_a_blind_prompt_names_what_is_found_but_the_kept(parser) -> None:
    rainy_noisy = _estimate([0.9, 0.8, 0.1], [15.0, 0.4, 0.0])
    blind = _plan(parser, "remove all degradation", rainy_noisy)
    assert blind.share == 1.0 and blind.prompt == "remove the noise and the rain"
    assert parser.parse(blind.prompt).removes(TASKS) == ["denoise", "derain"]  # read back as named
    assert set(blind.found) == {"denoise", "derain"}
    kept = _plan(parser, "remove everything but keep the grain", rainy_noisy)
    assert kept.prompt == "remove the rain"
    clean = _plan(parser, "remove all degradation", _estimate([0.1, 0.2, 0.05], [1.0, 0.0, 0.0]))
    assert clean.share == 0.0 and clean.found == {}
    assert "found: nothing" in clean.summary("remove all degradation")


class _Uncovered:
    """``remeasure`` of a plan: the estimate after the backbone removes what a prompt names, given per
    prompt; the prompts it was asked for, in order, in :attr:`asked`."""

    def __init__(self, after: dict[str, Estimate]) -> None:
        self.after, self.asked = after, []

    def __call__(self, prompt: str) -> Estimate:
        self.asked.append(prompt)
        return self.after[prompt]


def _replan(parser: PromptParser, prompt: str, estimate: Estimate, after: dict[str, Estimate]):
    uncovered = _Uncovered(after)
    planned = plan(prompt, parser.parse(prompt), estimate, LAYERED, parser.lexicon, uncovered)
    return planned, uncovered.asked


def test_what_lies_under_found_noise_is_measured_again_without_it(parser) -> None:
    noisy = _estimate([1.0, 0.45, 0.6], [50.0, 0.3, 1.0])  # rain and haze unsure under the noise
    denoised = {"remove the noise": _estimate([0.0, 0.05, 0.1], [1.0, 0.1, 0.2])}
    assert _plan(parser, "remove the rain", noisy).share == pytest.approx(0.25 / 0.3)  # measured once
    wrong, asked = _replan(parser, "remove the rain", noisy, denoised)
    assert wrong.share == 0.0 and asked == ["remove the noise"]
    assert _plan(parser, "remove all degradation", noisy).prompt == "remove the noise and the haze"
    blind, asked = _replan(parser, "remove all degradation", noisy, denoised)
    assert blind.prompt == "remove the noise" and blind.share == 1.0 and asked == ["remove the noise"]
    assert set(blind.found) == {"denoise"} and blind.found["denoise"] == pytest.approx((1.0, 50.0))


def test_layers_are_uncovered_from_the_outermost_in(parser) -> None:
    everything = _estimate([1.0, 0.4, 0.3], [25.0, 0.2, 0.5])
    after = {
        "remove the noise": _estimate([0.0, 0.9, 0.45], [1.0, 0.6, 0.5]),
        "remove the rain and the noise": _estimate([0.0, 0.0, 0.8], [1.0, 0.1, 1.2]),
    }
    blind, asked = _replan(parser, "remove all degradation", everything, after)
    assert asked == ["remove the noise", "remove the rain and the noise"]
    assert parser.parse(blind.prompt).removes(TASKS) == TASKS and blind.share == 1.0
    assert blind.found["derain"] == pytest.approx((0.9, 0.6)) and blind.found["dehaze"] == pytest.approx(
        (0.8, 1.2)
    )
    # The rain's strength is measured without the noise over it: 0.3 of 0.6 keeps half of the change.
    rain, asked = _replan(parser, "remove rain of density 0.3", everything, after)
    assert asked == ["remove the noise"] and rain.share == pytest.approx(number_share(0.5))


def test_nothing_is_measured_again_where_it_cannot_change_the_plan(parser) -> None:
    noisy = _estimate([1.0, 0.45, 0.6], [50.0, 0.3, 1.0])
    for prompt in ("remove the noise", "remove the rain and the noise", "denoise with sigma 25"):
        assert _replan(parser, prompt, noisy, {})[1] == [], prompt  # the noise, found, is removed whatever
    hazy = _estimate([0.0, 0.1, 0.9], [1.0, 0.1, 1.0])
    for prompt in ("remove all degradation", "remove the haze", "remove the rain"):
        assert _replan(parser, prompt, hazy, {})[1] == [], prompt  # nothing found lies over another


def test_every_naming_prompt_is_read_as_its_categories(parser) -> None:
    for names in (["denoise"], ["dehaze", "derain"], TASKS):
        assert set(parser.parse(parser.lexicon.naming_prompt(names)).removes(TASKS)) == set(names)


def test_the_share_of_a_number_rises_with_it_and_is_whole_near_the_estimate() -> None:
    ratios = [i / 100 for i in range(5, 400)]
    shares = [number_share(r) for r in ratios]
    assert all(a <= b for a, b in itertools.pairwise(shares))
    assert number_share(1 / 1.15) == pytest.approx(1.0) and number_share(1.15) == pytest.approx(1.0)
    sweep = [number_share(sigma / 20) for sigma in (5, 10, 15, 25, 35, 50, 75)]
    assert all(a < b for a, b in itertools.pairwise(sweep))  # no two sweep numbers in the band


def test_steering_keeps_the_share_of_the_change_and_stays_in_range() -> None:
    lq, restored = torch.full((2, 3, 4, 4), 0.5), torch.full((2, 3, 4, 4), 0.7)
    out = steer(lq, restored, torch.tensor([0.0, 0.5]))
    assert torch.equal(out[0], lq[0]) and torch.allclose(out[1], torch.full((3, 4, 4), 0.6))
    assert steer(lq, restored, torch.tensor([10.0, 10.0])).max() == 1.0


def test_the_estimator_measures_any_size_and_ignores_unknown_strengths() -> None:
    estimator = DegradationEstimator(TASKS, measured=["denoise"], width=4)
    for size in ((17, 23), (2 * WINDOW + 8, 3 * WINDOW)):
        estimate = estimator(torch.rand(2, 3, *size))
        assert estimate.presence.shape == estimate.strength.shape == (2, 3)
        assert ((estimate.presence > 0) & (estimate.presence < 1)).all() and (estimate.strength > 0).all()
    image = torch.rand(2, 3, 16, 16)
    present = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    unknown = torch.full((2, 3), float("nan"))
    loss = estimator.loss(image, present, unknown)
    assert torch.isfinite(loss)
    loss.backward()
    with pytest.raises(ValueError, match="not among its tasks"):
        DegradationEstimator(TASKS, measured=["deblur"])


def test_the_estimator_learns_to_tell_noise_and_its_sigma() -> None:
    torch.manual_seed(0)
    estimator = DegradationEstimator(["denoise"], measured=["denoise"], width=8)
    optimizer = torch.optim.Adam(estimator.parameters(), lr=3e-3)
    base = torch.rand(1, 3, 8, 8)

    def batch(size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        clean = torch.nn.functional.interpolate(base.expand(size, -1, -1, -1), size=32, mode="bilinear")
        clean = (clean + 0.1 * torch.rand(size, 3, 1, 1)).clamp(0, 1)
        present = (torch.rand(size, 1) < 0.5).float()
        sigma = 5 + 70 * torch.rand(size, 1)
        noisy = clean + present[..., None, None] * sigma[..., None, None] / 255 * torch.randn_like(clean)
        return noisy, present, torch.where(present > 0, sigma, torch.nan)

    for _ in range(300):
        loss = estimator.loss(*batch(16))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    image, present, sigma = batch(64)
    with torch.no_grad():
        estimate = estimator(image)
    assert ((estimate.presence > 0.5).float() == present).float().mean() > 0.9
    found = present[:, 0] > 0
    ratio = estimate.strength[found, 0] / sigma[found, 0]
    assert (ratio - 1).abs().median() < 0.25  # within a quarter of the true sigma, typically
