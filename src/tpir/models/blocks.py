"""Building blocks of the text-guided Restormer: attention (IMTA), feed-forward (IGFN), resampling.

IMTA and IGFN are Restormer's MDTA and GDFN (TextPromptIR, Eqs. 6 and 7); ``ITBlock`` puts text
fusion (Eq. 5) between each LayerNorm and the layer it feeds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tpir.models.fusion import TextFusion, gate_kernel_size

__all__ = [
    "IGFN",
    "IMTA",
    "Downsample",
    "ITBlock",
    "LayerNorm2d",
    "Upsample",
    "gate_kernel_size",
]

# F.normalize's floor on a norm, so all-zero rows give zero similarity rather than NaN.
_NORM_EPS = 1e-12


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of each pixel, with a learnable scale and bias (Restormer "WithBias").

    Args:
        channels: feature channels ``C``.
        eps: added to the variance for stability.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise.

        Args:
            x: features, (B, C, H, W).

        Returns:
            Normalised features, (B, C, H, W), channels-last in memory.
        """
        # layer_norm normalises the last axis; for a channels-last x (as the backbone passes) the permuted
        # view is contiguous, so this costs no copy.
        x = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class IMTA(nn.Module):
    """Multi-head transposed attention: heads attend across channels, so cost grows linearly in pixels.

    Args:
        channels: feature channels ``C``; must divide by ``heads``.
        heads: attention heads.
    """

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        if channels % heads != 0:
            raise ValueError(
                f"IMTA needs channels divisible by heads, got channels={channels}, heads={heads}."
            )
        self.heads = heads
        # One learnable softmax temperature per head, since q and k are unit vectors.
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, 3 * channels, kernel_size=1, bias=False)
        self.qkv_dwconv = nn.Conv2d(
            3 * channels, 3 * channels, kernel_size=3, padding=1, groups=3 * channels, bias=False
        )
        self.project_out = nn.Conv2d(channels, channels, kernel_size=1, bias=False)
        # Passes the softmax map through unchanged; a named module that recorders can hook.
        self.attention_map = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend.

        Args:
            x: normalised (and fused) features, (B, C, H, W).

        Returns:
            Attention output, (B, C, H, W).
        """
        batch, channels, height, width = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        # Channel slices of a contiguous or channels-last tensor view as (B, heads, C / heads, H * W).
        shape = (batch, self.heads, channels // self.heads, height * width)
        q, k = q.reshape(shape), k.reshape(shape)
        # Cosine similarity of q and k rows (F.normalize's semantics), with the norms divided out of the
        # small (C / heads)^2 product rather than out of full-size q and k: markedly cheaper on CPU. The
        # norms as square roots of sums of squares: over the strided pixel axis, linalg.vector_norm takes
        # twice as long (fp32) or 1.6 times (bf16) on CPU. Clamped before the root, so an all-zero row
        # has a finite gradient.
        q_norm = q.square().sum(dim=-1, keepdim=True).clamp_min(_NORM_EPS**2).sqrt()
        k_norm = k.square().sum(dim=-1, keepdim=True).clamp_min(_NORM_EPS**2).sqrt()
        cosine = (q @ k.transpose(-2, -1)) / (q_norm * k_norm.transpose(-2, -1))
        attn = self.attention_map((cosine * self.temperature).softmax(dim=-1))
        # attn @ v, computed as (v^T attn^T)^T: the product comes out pixel-major, (B, heads, H * W, C /
        # heads), which is channels-last for free (one head) and keeps the next 1x1 conv fast.
        out = v.reshape(shape).transpose(-2, -1) @ attn.transpose(-2, -1)
        out = out.transpose(1, 2).reshape(batch, height, width, channels).permute(0, 3, 1, 2)
        return self.project_out(out)


class IGFN(nn.Module):
    """Gated depth-wise feed-forward network: a GELU branch gates a linear branch.

    Args:
        channels: feature channels ``C``.
        ffn_expansion: hidden width is ``int(channels * ffn_expansion)``.
    """

    def __init__(self, channels: int, ffn_expansion: float) -> None:
        super().__init__()
        hidden = int(channels * ffn_expansion)
        self.project_in = nn.Conv2d(channels, 2 * hidden, kernel_size=1, bias=False)
        self.dwconv = nn.Conv2d(
            2 * hidden, 2 * hidden, kernel_size=3, padding=1, groups=2 * hidden, bias=False
        )
        self.project_out = nn.Conv2d(hidden, channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Transform.

        Args:
            x: normalised (and fused) features, (B, C, H, W).

        Returns:
            Feed-forward output, (B, C, H, W).
        """
        # The gate and value halves of project_in and dwconv run as separate convolutions on the halves of
        # their weights: each comes out contiguous, where chunking one output leaves channel-strided
        # views that GELU and the product walk slowly on CPU.
        hidden = self.project_out.in_channels
        # The gate is finished before the value is made, and the product is in place on it: from then on
        # one hidden-size buffer is alive instead of three (gate, value and GELU's output), which lowers
        # the peak memory of a large photo.
        gate = F.gelu(self._half(x, slice(None, hidden)))
        return self.project_out(gate.mul_(self._half(x, slice(hidden, None))))

    def _half(self, x: torch.Tensor, part: slice) -> torch.Tensor:
        """One half of project_in then dwconv, (B, hidden, H, W)."""
        hidden = self.project_out.in_channels
        return F.conv2d(
            F.conv2d(x, self.project_in.weight[part]), self.dwconv.weight[part], padding=1, groups=hidden
        )


class ITBlock(nn.Module):
    """Text-guided transformer block: IMTA then IGFN, each pre-normalised, fused with text and residual.

    Args:
        channels: feature channels ``C``.
        heads: attention heads of the IMTA.
        ffn_expansion: IGFN hidden width over ``channels``.
        guidance_width: width of the guidance vector ``g``; None builds no fusion, and the block then
            ignores ``g`` (the "w.o. SGI" ablation).
    """

    def __init__(self, channels: int, heads: int, ffn_expansion: float, guidance_width: int | None) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(channels)
        self.attn = IMTA(channels, heads)
        self.norm2 = LayerNorm2d(channels)
        self.ffn = IGFN(channels, ffn_expansion)
        self.attn_fusion = None if guidance_width is None else TextFusion(channels, guidance_width)
        self.ffn_fusion = None if guidance_width is None else TextFusion(channels, guidance_width)

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the block.

        Args:
            x: features, (B, C, H, W).
            g: guidance vectors, (B, guidance_width); ignored when the block has no fusion.

        Returns:
            Features, (B, C, H, W).
        """
        x = x + self.attn(self._fuse(self.attn_fusion, self.norm1(x), g))
        return x + self.ffn(self._fuse(self.ffn_fusion, self.norm2(x), g))

    @staticmethod
    def _fuse(fusion: TextFusion | None, x0: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        if fusion is None:
            return x0
        if g is None:
            raise ValueError("this ITBlock fuses text, so it needs guidance g of shape (B, guidance_width).")
        return fusion(x0, g)


class Downsample(nn.Module):
    """Halves the resolution and doubles the channels: 3x3 conv to C / 2, then PixelUnshuffle(2).

    Args:
        channels: input channels ``C`` (even).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels // 2, kernel_size=3, padding=1, bias=False)
        self.unshuffle = nn.PixelUnshuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Downsample.

        Args:
            x: features, (B, C, H, W) with even H and W.

        Returns:
            Features, (B, 2C, H / 2, W / 2).
        """
        return self.unshuffle(self.conv(x))


class Upsample(nn.Module):
    """Doubles the resolution and halves the channels: 3x3 conv to 2C, then PixelShuffle(2).

    Args:
        channels: input channels ``C`` (even).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1, bias=False)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample.

        Args:
            x: features, (B, C, H, W).

        Returns:
            Features, (B, C / 2, 2H, 2W).
        """
        return self.shuffle(self.conv(x))
