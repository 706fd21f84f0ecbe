"""``module.compile``: a compiled training step computes what the eager one does."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from tpir.models.blocks import ITBlock
from tpir.models.lit_module import compile_mode

CHANNELS, GUIDANCE = 8, 16


def step(block: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[float, torch.Tensor]:
    """One fused-AdamW training step; the loss before it and the weights after it."""
    x, target, g = batch
    optimizer = torch.optim.AdamW(block.parameters(), lr=1e-3, fused=True)
    loss = F.l1_loss(block(x, g), target)
    loss.backward()
    optimizer.step()
    return loss.item(), torch.cat([p.detach().flatten() for p in block.parameters()])


@pytest.mark.slow
def test_compiled_and_eager_steps_agree() -> None:
    # One text-guided block, the unit the backbone repeats: compiling the whole U-Net, forward and
    # backward, takes minutes on two cores; one block takes seconds and runs the same kernels.
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        eager = ITBlock(CHANNELS, heads=2, ffn_expansion=2.66, guidance_width=GUIDANCE)
    compiled = copy.deepcopy(eager)
    initial = torch.cat([p.detach().flatten() for p in eager.parameters()])
    compiled.compile(mode=compile_mode(True), dynamic=False)
    batch = (
        torch.rand(2, CHANNELS, 16, 16, generator=generator).contiguous(memory_format=torch.channels_last),
        torch.rand(2, CHANNELS, 16, 16, generator=generator),
        torch.randn(2, GUIDANCE, generator=generator),
    )
    eager_loss, eager_weights = step(eager, batch)
    compiled_loss, compiled_weights = step(compiled, batch)
    assert compiled_loss == pytest.approx(eager_loss, rel=1e-5)
    torch.testing.assert_close(compiled_weights, eager_weights, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(eager_weights, initial), "the step should move the weights"


@pytest.mark.parametrize(("value", "mode"), [(True, "default"), ("reduce-overhead", "reduce-overhead")])
def test_compile_modes_are_named(value: bool | str, mode: str) -> None:
    assert compile_mode(value) == mode


def test_an_unknown_compile_mode_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"module\.compile='fast': expected false, true or one of default, "):
        compile_mode("fast")
