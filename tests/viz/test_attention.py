import pytest
import torch

from tpir.models.backbone import TextGuidedBackbone
from tpir.models.blocks import IMTA, ITBlock
from tpir.models.fusion import TextFusion
from tpir.viz.attention import AttentionRecorder, list_blocks, prompt_response_maps, response_map

GUIDANCE_DIM = 12


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _tiny_model(guidance_dim: int | None = GUIDANCE_DIM) -> TextGuidedBackbone:
    torch.manual_seed(0)
    model = TextGuidedBackbone(
        dim=8,
        num_blocks=[1, 1, 1, 1],
        heads=[1, 2, 4, 8],
        num_refinement=1,
        ffn_expansion=2.0,
        guidance_dim=guidance_dim,
        guidance_width=16,
    )
    # The output conv starts at zero (identity model); perturb it so outputs depend on every block.
    with torch.no_grad():
        model.output.weight.copy_(0.1 * _randn(*model.output.weight.shape, seed=1))
    return model


@pytest.fixture
def model() -> TextGuidedBackbone:
    return _tiny_model()


def test_recorder_captures_one_softmax_map_per_attention(model: TextGuidedBackbone) -> None:
    with AttentionRecorder(model) as recorder:
        model(torch.rand(2, 3, 16, 16), _randn(2, GUIDANCE_DIM))
    attentions = {name: m for name, m in model.named_modules() if isinstance(m, IMTA)}
    assert recorder.channel_attention.keys() == attentions.keys()
    for name, attention in attentions.items():
        channels = attention.qkv.in_channels
        maps = recorder.channel_attention[name]
        assert maps.shape == (2, attention.heads, channels // attention.heads, channels // attention.heads)
        assert maps.device.type == "cpu" and not maps.requires_grad
        assert torch.allclose(maps.sum(dim=-1), torch.ones(maps.shape[:-1]), atol=1e-5)


def test_recorder_captures_gates_modulation_and_block_outputs(model: TextGuidedBackbone) -> None:
    with AttentionRecorder(model) as recorder:
        model(torch.rand(2, 3, 12, 20), _randn(2, GUIDANCE_DIM))
    fusions = {name: m for name, m in model.named_modules() if isinstance(m, TextFusion)}
    assert recorder.gates.keys() == recorder.modulation.keys() == fusions.keys()
    for name, fusion in fusions.items():
        channels = fusion.scale.out_features
        gate = recorder.gates[name]
        assert gate.shape == (2, channels) and ((gate > 0) & (gate < 1)).all()
        assert [t.shape for t in recorder.modulation[name]] == [(2, channels), (2, channels)]
    # Hooks fire in forward order; block outputs come at the padded size (16 x 24) over 2 ** (level - 1).
    assert list(recorder.features) == list_blocks(model)
    assert recorder.features["encoder_level1.0"].shape == (2, 8, 16, 24)
    assert recorder.features["encoder_level4.0"].shape == (2, 64, 2, 3)
    assert recorder.features["refinement.0"].shape == (2, 16, 16, 24)


def test_recorded_gate_and_modulation_match_hand_computation() -> None:
    torch.manual_seed(0)
    block = ITBlock(8, 2, 2.0, guidance_width=6)
    x, g = _randn(2, 8, 5, 7), _randn(2, 6, seed=1)
    with AttentionRecorder(block) as recorder:
        out = block(x, g)
    fusion = block.attn_fusion
    pooled = block.norm1(x).mean(dim=(2, 3)).unsqueeze(1)
    gate = torch.sigmoid(fusion.gate(pooled)).squeeze(1)
    gated_text = gate * fusion.text_proj(g)
    assert torch.allclose(recorder.gates["attn_fusion"], gate)
    scale, shift = recorder.modulation["attn_fusion"]
    assert torch.allclose(scale, fusion.scale(gated_text)) and torch.allclose(shift, fusion.shift(gated_text))
    assert torch.equal(recorder.features[""], out.detach())


def test_recording_changes_no_output_and_leaves_no_hooks(model: TextGuidedBackbone) -> None:
    lq, z = torch.rand(2, 3, 16, 16), _randn(2, GUIDANCE_DIM)
    expected = model(lq, z)
    parameters = sum(p.numel() for p in model.parameters())
    with AttentionRecorder(model):
        recorded = model(lq, z)
    assert torch.equal(recorded, expected)
    assert not torch.equal(expected, lq)
    assert all(not m._forward_hooks for m in model.modules())
    assert sum(p.numel() for p in model.parameters()) == parameters


def test_hooks_are_removed_when_the_forward_fails(model: TextGuidedBackbone) -> None:
    with pytest.raises(ValueError, match="guidance"), AttentionRecorder(model):
        model(torch.rand(1, 3, 8, 8), None)
    assert all(not m._forward_hooks for m in model.modules())


def test_different_prompts_give_different_gates(model: TextGuidedBackbone) -> None:
    lq = torch.rand(1, 3, 16, 16)
    records = []
    for seed in (1, 2):
        with AttentionRecorder(model) as recorder:
            model(lq, _randn(1, GUIDANCE_DIM, seed=seed))
        records.append(recorder)
    first, second = records
    # The first gate sees only the image; every later one sees features the prompt has already changed.
    names = list(first.gates)
    assert torch.equal(first.gates[names[0]], second.gates[names[0]])
    assert all(not torch.allclose(first.gates[n], second.gates[n]) for n in names[1:])
    assert all(not torch.allclose(first.modulation[n][0], second.modulation[n][0]) for n in names)


def test_a_model_without_guidance_records_attention_but_no_fusion() -> None:
    model = _tiny_model(guidance_dim=None)
    with AttentionRecorder(model) as recorder:
        model(torch.rand(1, 3, 8, 8))
    assert recorder.gates == {} and recorder.modulation == {}
    assert len(recorder.channel_attention) == len(list_blocks(model)) == 8


def test_recorder_keeps_only_the_chosen_blocks(model: TextGuidedBackbone) -> None:
    with AttentionRecorder(model, blocks=["decoder_level2.0"]) as recorder:
        model(torch.rand(1, 3, 8, 8), _randn(1, GUIDANCE_DIM))
    assert list(recorder.features) == ["decoder_level2.0"]
    with pytest.raises(ValueError, match="list_blocks"):
        AttentionRecorder(model, blocks=["decoder_level2"])


def test_response_map_matches_hand_computation() -> None:
    features = torch.tensor([[[[1.0, -2.0]], [[3.0, 0.0]]]])  # (1, 2, 1, 2)
    weights = torch.tensor([[2.0, -1.0]])
    # Energies: 2 * 1 + 1 * 3 = 5 and 2 * 2 + 1 * 0 = 4.
    assert torch.equal(response_map(features, weights), torch.tensor([[[1.0, 0.0]]]))
    assert torch.equal(response_map(torch.ones(2, 3, 4, 4), torch.ones(2, 3)), torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, C\)"):
        response_map(torch.ones(1, 3, 4, 4), torch.ones(1, 2))


@pytest.mark.parametrize("block", ["encoder_level1.0", "encoder_level3.0"])
def test_prompt_response_maps_cover_the_image_and_differ_by_prompt(
    model: TextGuidedBackbone, block: str
) -> None:
    image = torch.rand(1, 3, 13, 10)
    prompts = {"rain": _randn(1, GUIDANCE_DIM, seed=1), "haze": _randn(1, GUIDANCE_DIM, seed=2)}
    maps = prompt_response_maps(model, image, prompts, block)
    assert list(maps) == ["rain", "haze"]
    for response in maps.values():
        assert response.shape == (13, 10)
        assert response.min() >= 0 and response.max() <= 1
    assert not torch.allclose(maps["rain"], maps["haze"])


def test_prompt_response_maps_refuse_bad_inputs(model: TextGuidedBackbone) -> None:
    z = {"rain": _randn(1, GUIDANCE_DIM)}
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        prompt_response_maps(model, torch.rand(2, 3, 8, 8), z, "encoder_level1.0")
    with pytest.raises(ValueError, match="list_blocks"):
        prompt_response_maps(model, torch.rand(1, 3, 8, 8), z, "encoder_level1")
