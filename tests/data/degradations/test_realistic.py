import torch

from tpir.data.degradations.realistic import (
    CHAIN_FAMILIES,
    ChainStep,
    RealisticParams,
    add_realistic_degradations,
    sample_realistic_params,
)
from tpir.metrics.image_quality import psnr


def test_the_chain_is_fixed_by_the_generator_and_keeps_the_size(astronaut: torch.Tensor) -> None:
    first, chain = add_realistic_degradations(astronaut, torch.Generator().manual_seed(4))
    again, same = add_realistic_degradations(astronaut, torch.Generator().manual_seed(4))
    other, _ = add_realistic_degradations(astronaut, torch.Generator().manual_seed(5))
    assert first.shape == astronaut.shape and chain == same and torch.equal(first, again)
    assert not torch.equal(first, other)
    assert 12 < float(psnr(first[None], astronaut[None])) < 35


def test_every_chain_blurs_shrinks_adds_noise_and_compresses_in_drawn_orders() -> None:
    generator = torch.Generator().manual_seed(0)
    chains = [sample_realistic_params(generator) for _ in range(40)]
    orders = set()
    for chain in chains:
        families = [step.family for step in chain.steps]
        assert set(families) == set(CHAIN_FAMILIES)
        assert families.count("noise") == 2 and families.count("jpeg") == 2  # two stages
        assert min(step.value for step in chain.steps if step.family == "resize") < 1  # it lost resolution
        assert min(step.value for step in chain.steps if step.family == "resize") >= 0.25
        orders.add(tuple(families[:4]))
    assert len(orders) > 5


def test_faint_steps_are_not_evident() -> None:
    faint = RealisticParams(
        (
            ChainStep("blur", 0.3),
            ChainStep("resize", 0.9, "area"),
            ChainStep("noise", 2.0, "gaussian"),
            ChainStep("jpeg", 90.0),
            ChainStep("noise", 0.1, "poisson-grey"),
        )
    )
    strong = RealisticParams(
        (
            ChainStep("blur", 2.0),
            ChainStep("resize", 0.5, "bicubic"),
            ChainStep("noise", 1.0, "poisson"),
            ChainStep("jpeg", 40.0),
        )
    )
    assert faint.evident() == dict.fromkeys(CHAIN_FAMILIES, False)
    assert strong.evident() == dict.fromkeys(CHAIN_FAMILIES, True)


def test_grey_noise_is_the_same_on_every_channel() -> None:
    flat = torch.full((3, 32, 32), 0.5)
    chain = RealisticParams((ChainStep("noise", 20.0, "gaussian-grey"),))
    noisy, _ = add_realistic_degradations(flat, torch.Generator().manual_seed(0), chain)
    assert torch.equal(noisy[0], noisy[1]) and torch.equal(noisy[1], noisy[2])
    assert 0.05 < float((noisy - flat).std()) < 0.1  # sigma 20 on 0-255
