"""The out-of-distribution check sets: each degrades what it says, the same on every call."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tpir.data.degradations.drawn_rain import DrawnRain, add_drawn_rain
from tpir.data.degradations.noise import add_poisson_noise
from tpir.evaluation.ood import ood_sets, ood_study, ood_table


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """One clean test image and one rain pair whose target is a photo from outside training."""
    rng = np.random.default_rng(0)
    smooth = (np.linspace(40, 200, 64)[None, :, None] * np.ones((48, 1, 3))).astype(np.uint8)
    for path, pixels in (
        ("test/denoise/Clean/a.png", smooth),
        ("test/derain/Rainy/input/rain-1.png", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)),
        ("test/derain/Rainy/target/norain-1.png", smooth[:, ::-1].copy()),
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / path)
    return tmp_path


def test_the_sets_a_model_is_asked_about_and_their_images(layout: Path) -> None:
    names = [s.name for s in ood_sets(layout, ["denoise", "derain"])]
    assert names == ["Clean+drawn rain", "Clean+Poisson", "Clean+noise+JPEG", "outside+noise", "outside+rain"]
    assert [s.name for s in ood_sets(layout, ["dehaze"])] == []
    for dataset in ood_sets(layout, ["denoise", "derain"]):
        lq, clean = dataset.pair(0)
        again, _ = dataset.pair(0)
        assert lq.shape == clean.shape and torch.equal(lq, again) and not torch.equal(lq, clean)


def test_drawn_rain_brightens_and_poisson_noise_grows_with_brightness() -> None:
    grey = torch.full((3, 64, 64), 0.3)
    rainy = add_drawn_rain(grey, torch.Generator().manual_seed(0), DrawnRain(amount=1.5, veil=0.0))
    assert (rainy >= grey - 1e-6).all() and (rainy > grey + 0.1).float().mean() > 0.01
    dark = add_poisson_noise(torch.full((3, 64, 64), 0.1), 1.0, torch.Generator().manual_seed(0))
    bright = add_poisson_noise(torch.full((3, 64, 64), 0.8), 1.0, torch.Generator().manual_seed(0))
    assert float((bright - 0.8).std()) > 2 * float((dark - 0.1).std())


def test_the_study_counts_unchanged_images_and_compares_blind_with_named(layout: Path) -> None:
    sets = ood_sets(layout, ["denoise"])[:1]

    def leave_alone_unless_named(lq, prompt, task):
        return lq if "all" in prompt else (lq * 0.9 + 0.05)

    (row,) = ood_study(leave_alone_unless_named, sets, "full")
    assert row["named_unchanged"] == 0 and row["psnr_blind"] == pytest.approx(row["psnr_input"])
    header, body = ood_table([row])
    assert len(body[0]) == len(header)
