import pytest
import torch
import torch.nn.functional as F

from tpir.models.blocks import IGFN, IMTA, Downsample, ITBlock, LayerNorm2d, Upsample, gate_kernel_size
from tpir.models.fusion import PromptProjection, TextFusion


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("channels", "size"), [(48, 3), (96, 3), (192, 5), (384, 5)])
def test_gate_kernel_size_of_the_paper_widths(channels: int, size: int) -> None:
    assert gate_kernel_size(channels) == size


@pytest.mark.parametrize("channels_last", [False, True])
def test_layer_norm_matches_hand_computation(channels_last: bool) -> None:
    torch.manual_seed(0)
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.copy_(_randn(6, seed=1))
        norm.bias.copy_(_randn(6, seed=2))
    x = _randn(2, 6, 5, 7)
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, keepdim=True, unbiased=False)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * norm.weight[:, None, None] + norm.bias[:, None, None]
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert torch.allclose(norm(x), expected, atol=1e-5)


@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("channels_last", [False, True])
def test_imta_matches_restormer_attention(heads: int, channels_last: bool) -> None:
    torch.manual_seed(0)
    attn = IMTA(4, heads)
    with torch.no_grad():
        attn.temperature.copy_(torch.arange(1.0, heads + 1.0).view(heads, 1, 1))
    x = _randn(2, 4, 5, 3)
    # Restormer's MDTA, written the plain way.
    q, k, v = attn.qkv_dwconv(attn.qkv(x)).chunk(3, dim=1)
    q, k, v = (t.reshape(2, heads, 4 // heads, 15) for t in (q, k, v))
    scores = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1) * attn.temperature
    expected = attn.project_out((scores.softmax(dim=-1) @ v).reshape(2, 4, 5, 3))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert torch.allclose(attn(x), expected, atol=1e-5)


def test_igfn_hidden_width_follows_the_expansion() -> None:
    ffn = IGFN(10, 2.66)
    assert ffn.project_in.out_channels == 2 * 26
    assert ffn.project_out.in_channels == 26
    assert ffn(_randn(1, 10, 4, 4)).shape == (1, 10, 4, 4)


@pytest.mark.parametrize("grad", [True, False])
def test_igfn_matches_restormer_gated_feed_forward_with_and_without_autograd(grad: bool) -> None:
    torch.manual_seed(0)
    ffn = IGFN(6, 2.66)
    x = _randn(2, 6, 5, 7)
    # Restormer's GDFN, written the plain way: one project_in and dwconv, chunked into gate and value.
    gate, value = ffn.dwconv(ffn.project_in(x)).chunk(2, dim=1)
    expected = ffn.project_out(F.gelu(gate) * value)
    with torch.set_grad_enabled(grad):
        assert torch.allclose(ffn(x), expected, atol=1e-6)


def test_text_fusion_matches_equation_5() -> None:
    torch.manual_seed(0)
    fusion = TextFusion(8, 5)
    x0, g = _randn(2, 8, 3, 4, seed=1), _randn(2, 5, seed=2)
    gate = torch.sigmoid(F.conv1d(x0.mean(dim=(2, 3))[:, None], fusion.gate.weight, padding=1))[:, 0]
    gated_text = gate * (g @ fusion.text_proj.weight.T + fusion.text_proj.bias)
    scale = gated_text @ fusion.scale.weight.T + fusion.scale.bias
    shift = gated_text @ fusion.shift.weight.T + fusion.shift.bias
    expected = scale[..., None, None] * x0 + shift[..., None, None]
    assert fusion.gate.kernel_size == (gate_kernel_size(8),)
    assert torch.allclose(fusion(x0, g), expected, atol=1e-5)


def test_guidance_mlp_shape() -> None:
    assert PromptProjection(16, 8)(_randn(3, 16)).shape == (3, 8)


def test_guidance_mlp_standardises_its_input_with_the_given_statistics() -> None:
    mlp = PromptProjection(4, 8)
    # Embeddings with a large shared component, as mean-pooled sentence embeddings have.
    embeddings = 5.0 + 0.1 * _randn(50, 4)
    z = embeddings[:3]
    before = mlp(z)
    mlp.set_input_statistics(embeddings.mean(0), embeddings.std(0))
    expected = mlp.layers((z - embeddings.mean(0)) / embeddings.std(0))
    torch.testing.assert_close(mlp(z), expected)
    assert not torch.allclose(mlp(z), before)
    assert {"input_mean", "input_std"} <= set(mlp.state_dict())  # checkpoints carry them


def test_unguided_block_has_no_fusion_and_ignores_guidance() -> None:
    torch.manual_seed(0)
    block = ITBlock(8, 2, 2.0, guidance_width=None)
    assert block.attn_fusion is None and block.ffn_fusion is None
    x = _randn(1, 8, 6, 6)
    assert torch.equal(block(x), block(x, _randn(1, 5)))


def test_guided_block_uses_guidance() -> None:
    torch.manual_seed(0)
    block = ITBlock(8, 2, 2.0, guidance_width=5)
    x = _randn(1, 8, 6, 6)
    assert not torch.allclose(block(x, _randn(1, 5, seed=1)), block(x, _randn(1, 5, seed=2)))
    with pytest.raises(ValueError, match=r"needs guidance g of shape \(B, guidance_width\)"):
        block(x)


def test_resampling_shapes() -> None:
    x = _randn(2, 8, 6, 4)
    assert Downsample(8)(x).shape == (2, 16, 3, 2)
    assert Upsample(8)(x).shape == (2, 4, 12, 8)


def test_imta_refuses_heads_that_do_not_divide_channels() -> None:
    with pytest.raises(ValueError, match="channels divisible by heads"):
        IMTA(6, 4)
