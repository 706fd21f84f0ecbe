"""Composite degradations: every subset of a stack is the same image rebuilt without the others."""

from itertools import combinations

import pytest
import torch

from tpir.data.composite import Layer, Stack, physical_order, stack_layers
from tpir.data.degradations.haze import add_haze
from tpir.data.degradations.noise import NoiseParams, add_gaussian_noise
from tpir.data.degradations.rain import add_rain_streaks
from tpir.data.tasks import get_task

TASKS = ("denoise", "derain", "dehaze")


def _clean() -> torch.Tensor:
    return torch.rand(3, 40, 48, generator=torch.Generator().manual_seed(1)) * 0.8


def test_layers_are_stacked_in_physical_order() -> None:
    assert physical_order(TASKS) == ["dehaze", "derain", "denoise"]
    layers = stack_layers(TASKS, torch.Generator().manual_seed(0))
    assert [layer.task for layer in layers] == ["dehaze", "derain", "denoise"]
    with pytest.raises(ValueError, match="physical order"):
        Stack(_clean(), tuple(reversed(layers)))


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_the_target_of_every_subset_is_the_pipeline_rebuilt_without_it(size: int) -> None:
    clean = _clean()
    stack = Stack(clean, stack_layers(TASKS, torch.Generator().manual_seed(7)))
    by_task = {layer.task: layer for layer in stack.layers}
    for removed in combinations(TASKS, size):
        expected = clean
        for task in ("dehaze", "derain", "denoise"):  # by hand, each with its own seed and parameters
            if task not in removed:
                layer = by_task[task]
                expected, _ = get_task(task).apply(
                    expected, torch.Generator().manual_seed(layer.seed), layer.params
                )
        assert torch.equal(stack.without(removed), expected), removed
    assert torch.equal(stack.without(TASKS), clean)
    assert torch.equal(stack.without(()), stack.degraded)


def test_the_kept_noise_is_exactly_the_noise_of_the_input() -> None:
    clean = _clean() * 0.5 + 0.25  # away from the clipping bounds
    stack = Stack(
        clean,
        stack_layers(["derain", "denoise"], torch.Generator().manual_seed(3), {"denoise": NoiseParams(15.0)}),
    )
    noise_of_input = stack.degraded - stack.without(["denoise"])
    noise_of_target = stack.without(["derain"]) - clean
    interior = (stack.degraded < 1) & (stack.without(["denoise"]) < 1)
    torch.testing.assert_close(noise_of_input[interior], noise_of_target[interior])
    assert 10 / 255 < float(noise_of_target.std()) < 20 / 255


def test_a_real_pair_carries_synthetic_layers_on_top() -> None:
    clean = _clean()
    rainy, _ = add_rain_streaks(clean, torch.Generator().manual_seed(5), 0.005, 21, 10.0, 0.5)
    layers = (Layer("denoise", NoiseParams(15.0), seed=11),)
    stack = Stack(clean, layers, real=("derain", rainy))
    noise = torch.Generator().manual_seed(11)
    assert torch.equal(stack.degraded, add_gaussian_noise(rainy, 15.0, noise)[0])
    assert torch.equal(stack.without(["denoise"]), rainy)  # "remove the noise": the real rainy image
    assert torch.equal(
        stack.without(["derain"]), add_gaussian_noise(clean, 15.0, torch.Generator().manual_seed(11))[0]
    )
    assert torch.equal(stack.without(["denoise", "derain"]), clean)


def test_an_absent_degradation_leaves_the_target_as_the_input() -> None:
    stack = Stack(_clean(), stack_layers(["denoise"], torch.Generator().manual_seed(2)))
    assert torch.equal(stack.without(["dehaze"]), stack.degraded)


def test_a_layer_may_not_repeat() -> None:
    layer = Layer("denoise", NoiseParams(5.0), 1)
    with pytest.raises(ValueError, match="once"):
        Stack(_clean(), (layer, layer))


def test_haze_layer_matches_the_function() -> None:
    clean = _clean()
    (layer,) = stack_layers(["dehaze"], torch.Generator().manual_seed(4))
    expected, _ = add_haze(
        clean,
        torch.Generator().manual_seed(layer.seed),
        layer.params.beta,
        layer.params.airlight,
        tint=layer.params.tint,
    )
    assert torch.equal(Stack(clean, (layer,)).degraded, expected)


def test_stating_less_than_is_there_keeps_the_rest_of_the_same_noise() -> None:
    clean = _clean() * 0.5 + 0.25  # away from the clipping bounds
    stack = Stack(
        clean, stack_layers(["denoise"], torch.Generator().manual_seed(8), {"denoise": NoiseParams(25.0)})
    )
    full_noise = stack.degraded - clean
    rest = stack.without(["denoise"], partly={"denoise": 10.0}) - clean
    unclipped = (stack.degraded > 0) & (stack.degraded < 1)
    torch.testing.assert_close(rest[unclipped], full_noise[unclipped] * 15 / 25, atol=1e-6, rtol=0)
    assert torch.equal(stack.without(["denoise"], partly={"denoise": 40.0}), clean)  # more than is there: all
    assert torch.equal(stack.without(["derain"], partly={"denoise": 10.0}), stack.degraded)  # not removed


def test_a_faint_layer_under_heavy_noise_is_hidden_and_a_strong_one_is_not() -> None:
    clean = _clean() * 0.5 + 0.25
    rain = get_task("derain").sample_params(torch.Generator().manual_seed(3))

    def stack(density: float, sigma: float) -> Stack:
        params = {"derain": rain.with_number(density), "denoise": NoiseParams(sigma)}
        return Stack(clean, stack_layers(["derain", "denoise"], torch.Generator().manual_seed(4), params))

    assert stack(0.1, 75.0).hidden(0.25) == ["derain"]
    assert stack(1.0, 5.0).hidden(0.25) == []
    assert stack(0.1, 75.0).hidden(0.0) == []  # 0 hides nothing
    alone = Stack(
        clean, stack_layers(["derain"], torch.Generator().manual_seed(4), {"derain": rain.with_number(0.1)})
    )
    assert alone.hidden(0.99) == []  # nothing lies over the outermost degradation


def test_a_stack_renders_each_layer_once_for_its_image_and_what_it_hides(monkeypatch) -> None:
    stack = Stack(_clean(), stack_layers(TASKS, torch.Generator().manual_seed(5)))
    rendered = []
    apply = Layer.apply
    monkeypatch.setattr(
        Layer, "apply", lambda layer, image: rendered.append(layer.task) or apply(layer, image)
    )
    first = stack.degraded
    stack.hidden(0.25)
    assert torch.equal(stack.degraded, first) and rendered == ["dehaze", "derain", "denoise"]


def test_the_camera_and_file_degradations_stack_in_physical_order_with_the_others() -> None:
    clean = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(7))
    layers = stack_layers(["dejpeg", "denoise", "deblur", "dehaze"], torch.Generator().manual_seed(8))
    assert [layer.task for layer in layers] == ["dehaze", "deblur", "denoise", "dejpeg"]
    stack = Stack(clean, layers)
    without_jpeg = stack.without(["dejpeg"])
    by_hand = clean
    for layer in layers[:3]:
        by_hand = layer.apply(by_hand)
    assert torch.equal(without_jpeg, by_hand)
    assert get_task("lowlight").layer < get_task("denoise").layer < get_task("dejpeg").layer
