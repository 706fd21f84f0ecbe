"""A model folder with a degradation estimator: it saves and loads with it, and its plan decides the output."""

import math
from pathlib import Path

import torch

from tpir.inference.restorer import Restorer
from tpir.models.estimator import DegradationEstimator
from tpir.models.guidance import TextGuidance
from tpir.notebook import TINY_BACKBONE
from tpir.text.classify import corpus_centroids

TASKS = ["denoise", "derain", "dehaze"]


def _steered_model(
    tiny_encoder, corpus, presence_bias: float, order=("dehaze", "derain", "denoise")
) -> Restorer:
    """A tiny random three-task model whose estimator finds each degradation with ``sigmoid(presence_bias)``
    (``order``: its tasks in physical order; empty as in folders exported before it)."""
    torch.manual_seed(0)
    guidance = TextGuidance(tiny_encoder, corpus, None, parsed_tasks=TASKS, read_numbers=False)
    estimator = DegradationEstimator(TASKS, measured=TASKS, width=4, order=order)
    with torch.no_grad():
        for head, bias in (
            (estimator.presence_head, presence_bias),
            (estimator.strength_head, math.log(20.0)),
        ):
            head[-1].weight.zero_()
            head[-1].bias.fill_(bias)
    centroids = corpus_centroids(tiny_encoder, corpus)
    model = Restorer.assemble(TASKS, TINY_BACKBONE, guidance, tiny_encoder, centroids, estimator)
    torch.nn.init.normal_(model.model.backbone.output.weight, std=0.01)  # so that restoring changes pixels
    return model


def test_the_estimator_travels_with_the_folder(tiny_encoder, corpus, tmp_path: Path) -> None:
    model = _steered_model(tiny_encoder, corpus, presence_bias=4.0)
    loaded = Restorer.from_pretrained(model.save_pretrained(tmp_path / "model"), precision="fp32")
    assert loaded.config.estimator == {
        "tasks": TASKS,
        "measured": TASKS,
        "width": 4,
        "order": ["dehaze", "derain", "denoise"],
    }
    image = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    for prompt in ("denoise with sigma 10", "remove all degradation"):
        assert torch.equal(model.restore(image, prompt), loaded.restore(image, prompt))


def test_the_stated_number_sets_the_share_of_the_change(tiny_encoder, corpus) -> None:
    model = _steered_model(tiny_encoder, corpus, presence_bias=20.0)  # found for sure, strength 20
    image = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.25
    for sigma, share in (
        (10, 0.5 * 1.15),
        (21, 1.0),
        (60, 3 / 1.15),
    ):  # the estimate is 20; 21 is within 15 %
        prompt = f"denoise with sigma {sigma}"
        backbone = model(image, model.interpret(prompt).z)
        expected = (image + share * (backbone - image)).clamp(0, 1)
        assert torch.allclose(model.restore(image, prompt), expected, atol=1e-6), sigma


def test_a_blind_prompt_on_an_image_with_nothing_found_leaves_it_as_it_is(tiny_encoder, corpus) -> None:
    model = _steered_model(tiny_encoder, corpus, presence_bias=-6.0)
    image = torch.rand(1, 3, 40, 40)
    planned = model.plan_for(image, "remove all degradation")
    assert planned.share == 0.0 and planned.found == {}
    ticks = []
    restored = model.restore_tensor(
        image, "remove all degradation", tile=16, overlap=4, progress=lambda: ticks.append(1)
    )
    assert torch.equal(restored, image) and len(ticks) == 9  # the progress still counts every tile
    wrong = model.restore(image, "remove the rain")  # named but found with chance 0.0025: nearly nothing
    assert (wrong - image).abs().max() < 1e-3


def test_a_plan_made_to_be_shown_is_not_made_again(tiny_encoder, corpus, monkeypatch) -> None:
    from tpir.data.photos import photo_from_array

    model = _steered_model(tiny_encoder, corpus, presence_bias=4.0)
    photo = photo_from_array((torch.rand(24, 24, 3) * 255).to(torch.uint8).numpy())
    calls = []
    measure = model.model.estimator.forward
    monkeypatch.setattr(model.model.estimator, "forward", lambda image: calls.append(1) or measure(image))
    planned = model.plan_for(photo.rgb[None], "remove the noise")
    shown = model.restore_photo(photo, "remove the noise", planned=planned)
    assert len(calls) == 1
    assert torch.equal(shown.rgb, model.restore_photo(photo, "remove the noise").rgb) and len(calls) == 2


def test_what_lies_under_a_found_degradation_is_measured_on_the_backbone_s_output(
    tiny_encoder, corpus, monkeypatch
) -> None:
    model = _steered_model(tiny_encoder, corpus, presence_bias=4.0)  # every degradation found, always
    image = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    measured = []
    measure = model.model.estimator.forward

    def recorded(view: torch.Tensor, through=None):
        measured.append(view if through is None else through(view))
        return measure(view, through)

    monkeypatch.setattr(model.model.estimator, "forward", recorded)
    planned = model.plan_for(image, "remove all degradation")
    # The noise is over the rain and the haze, the rain over the haze: each is removed in turn, from the
    # outermost, and what lies under it measured on the backbone's output.
    assert len(measured) == 3 and torch.equal(measured[0], image)
    for seen, prompt in zip(measured[1:], ("remove the noise", "remove the rain and the noise"), strict=True):
        assert torch.allclose(seen, model(image, model.interpret(prompt).z).clamp(0, 1), atol=1e-6), prompt
    assert planned.share == 1.0 and set(planned.found) == set(TASKS)
    measured.clear()
    model.plan_for(image, "remove the noise")  # found, with nothing over it: measured once
    assert len(measured) == 1
    old = _steered_model(tiny_encoder, corpus, presence_bias=4.0, order=())  # exported before the order
    calls = []
    measure_old = old.model.estimator.forward
    monkeypatch.setattr(
        old.model.estimator, "forward", lambda view, through=None: calls.append(through) or measure_old(view)
    )
    assert old.plan_for(image, "remove all degradation").share == 1.0 and calls == [None]  # measured once
