import pytest
import torch

from tpir.models.backbone import TextGuidedBackbone

GUIDANCE_DIM = 16
TINY = {"dim": 8, "num_blocks": (1, 1, 1, 1), "heads": (1, 1, 2, 2), "num_refinement": 1, "guidance_width": 8}


def _tiny(guidance_dim: int | None = GUIDANCE_DIM) -> TextGuidedBackbone:
    torch.manual_seed(0)
    return TextGuidedBackbone(**TINY, guidance_dim=guidance_dim)


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _guidance(model: TextGuidedBackbone, batch: int, seed: int = 0) -> torch.Tensor | None:
    if model.guidance_dim is None:
        return None
    return torch.randn(batch, model.guidance_dim, generator=torch.Generator().manual_seed(seed))


def _perturb_output(model: TextGuidedBackbone) -> None:
    """Give the zero-initialised output conv small random values, so the body reaches the output."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.output.parameters():
            param.copy_(0.1 * torch.randn(param.shape, generator=generator))


@pytest.mark.parametrize("guidance_dim", [GUIDANCE_DIM, None])
@pytest.mark.parametrize(
    "shape", [(1, 3, 16, 16), (2, 3, 24, 40), (1, 3, 17, 23), (2, 3, 5, 3), (1, 3, 1, 1)]
)
def test_output_keeps_the_input_shape(guidance_dim: int | None, shape: tuple[int, ...]) -> None:
    model = _tiny(guidance_dim)
    _perturb_output(model)
    lq = _rand(*shape)
    out = model(lq, _guidance(model, shape[0]))
    assert out.shape == shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("guidance_dim", [GUIDANCE_DIM, None])
def test_untrained_model_returns_its_input(guidance_dim: int | None) -> None:
    model = _tiny(guidance_dim)
    lq = _rand(2, 3, 19, 12)
    assert torch.allclose(model(lq, _guidance(model, 2)), lq, atol=1e-6)


def test_guidance_steers_the_output() -> None:
    model = _tiny()
    _perturb_output(model)
    lq = _rand(1, 3, 16, 16)
    first = model(lq, _guidance(model, 1, seed=1))
    second = model(lq, _guidance(model, 1, seed=2))
    assert (first - second).abs().max() > 1e-4


def test_unguided_model_has_no_guidance_and_is_deterministic() -> None:
    def names(model: TextGuidedBackbone) -> list[str]:
        return [name for name, _ in model.named_parameters() if "fusion" in name or "guidance" in name]

    assert names(_tiny()), "the guided model should own fusion and guidance parameters"
    model = _tiny(None)
    assert names(model) == []
    _perturb_output(model)
    lq = _rand(1, 3, 16, 16)
    assert torch.equal(model(lq), model(lq))


@pytest.mark.parametrize("guidance_dim", [GUIDANCE_DIM, None])
def test_every_parameter_gets_a_gradient(guidance_dim: int | None) -> None:
    model = _tiny(guidance_dim)
    _perturb_output(model)
    model(_rand(2, 3, 16, 16), _guidance(model, 2)).square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_paper_size_parameter_count() -> None:
    model = TextGuidedBackbone(guidance_dim=384)
    count = sum(param.numel() for param in model.parameters() if param.requires_grad)
    assert 35_000_000 < count < 45_000_000


def test_bad_lq_shapes_are_refused() -> None:
    model = _tiny()
    with pytest.raises(
        ValueError, match=r"lq must be RGB images of shape \(B, 3, H, W\), got shape \(3, 8, 8\)"
    ):
        model(_rand(3, 8, 8), _guidance(model, 1))
    with pytest.raises(
        ValueError, match=r"lq must be RGB images of shape \(B, 3, H, W\), got shape \(1, 4, 8, 8\)"
    ):
        model(_rand(1, 4, 8, 8), _guidance(model, 1))


def test_bad_guidance_is_refused() -> None:
    model = _tiny()
    lq = _rand(2, 3, 8, 8)
    with pytest.raises(
        ValueError,
        match=r"z must be guidance vectors of shape \(B, guidance_dim\)=\(2, 16\), got None",
    ):
        model(lq)
    with pytest.raises(ValueError, match=r"=\(2, 16\), got \(1, 16\)"):
        model(lq, torch.zeros(1, GUIDANCE_DIM))
    with pytest.raises(ValueError, match=r"=\(2, 16\), got \(2, 15\)"):
        model(lq, torch.zeros(2, GUIDANCE_DIM - 1))
    with pytest.raises(ValueError, match=r"built without guidance \(guidance_dim=None\), so z must be None"):
        _tiny(None)(lq, torch.zeros(2, GUIDANCE_DIM))


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="num_blocks and heads need 4 entries"):
        TextGuidedBackbone(dim=8, num_blocks=(1, 1, 1))
    with pytest.raises(
        ValueError, match=r"level 2 has 12 channels \(dim=6 \* 2\), which do not divide by heads=5"
    ):
        TextGuidedBackbone(dim=6, heads=(1, 5, 1, 1))
