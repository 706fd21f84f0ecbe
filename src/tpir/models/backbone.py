"""TextPromptIR's restoration backbone: a four-level Restormer U-Net whose blocks read a text embedding."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tpir.models.blocks import Downsample, ITBlock, Upsample
from tpir.models.fusion import PromptProjection

_LEVELS = 4
# Three 2x downsamplings: the input side must divide by 2 ** 3.
_SIZE_MULTIPLE = 2 ** (_LEVELS - 1)


class TextGuidedBackbone(nn.Module):
    """Restormer with semantic guidance injection in every block (TextPromptIR, section 3).

    Level ``i`` (1..4) of the encoder works at ``dim * 2 ** (i - 1)`` channels; the decoder mirrors it,
    except that level 1 keeps the concatenated ``2 * dim`` channels, as do the refinement blocks. The
    output convolution starts at zero, so an untrained model returns its input.

    Args:
        dim: channels ``C`` of level 1; every width derives from it.
        num_blocks: blocks per level, levels 1..4.
        heads: attention heads per level, levels 1..4.
        num_refinement: blocks after decoder level 1.
        ffn_expansion: IGFN hidden width over its channels.
        guidance_dim: width of the prompt embedding ``Z``; None builds no guidance at all.
        guidance_width: width of the guidance vector ``g`` the fusions read.

    Raises:
        ValueError: ``num_blocks`` or ``heads`` do not have 4 entries, or a level's channels do not
            divide by its heads.
    """

    def __init__(
        self,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        heads: Sequence[int] = (1, 2, 4, 8),
        num_refinement: int = 4,
        ffn_expansion: float = 2.66,
        guidance_dim: int | None = None,
        guidance_width: int = 384,
    ) -> None:
        super().__init__()
        if len(num_blocks) != _LEVELS or len(heads) != _LEVELS:
            raise ValueError(
                f"num_blocks and heads need {_LEVELS} entries (levels 1..{_LEVELS}), "
                f"got num_blocks={tuple(num_blocks)}, heads={tuple(heads)}."
            )
        channels = [dim * 2**level for level in range(_LEVELS)]
        for index, (level_channels, level_heads) in enumerate(zip(channels, heads, strict=True), start=1):
            if level_channels % level_heads != 0:
                raise ValueError(
                    f"level {index} has {level_channels} channels (dim={dim} * {2 ** (index - 1)}), "
                    f"which do not divide by heads={level_heads}."
                )
        self.guidance_dim = guidance_dim
        fusion_width = None if guidance_dim is None else guidance_width

        def make_level(level_channels: int, level_heads: int, count: int) -> nn.ModuleList:
            return nn.ModuleList(
                ITBlock(level_channels, level_heads, ffn_expansion, fusion_width) for _ in range(count)
            )

        c1, c2, c3, c4 = channels
        self.prompt_projection = (
            None if guidance_dim is None else PromptProjection(guidance_dim, guidance_width)
        )
        self.patch_embed = nn.Conv2d(3, c1, kernel_size=3, padding=1, bias=False)

        self.encoder_level1 = make_level(c1, heads[0], num_blocks[0])
        self.down1_2 = Downsample(c1)
        self.encoder_level2 = make_level(c2, heads[1], num_blocks[1])
        self.down2_3 = Downsample(c2)
        self.encoder_level3 = make_level(c3, heads[2], num_blocks[2])
        self.down3_4 = Downsample(c3)
        self.encoder_level4 = make_level(c4, heads[3], num_blocks[3])

        self.up4_3 = Upsample(c4)
        self.reduce_level3 = nn.Conv2d(2 * c3, c3, kernel_size=1, bias=False)
        self.decoder_level3 = make_level(c3, heads[2], num_blocks[2])
        self.up3_2 = Upsample(c3)
        self.reduce_level2 = nn.Conv2d(2 * c2, c2, kernel_size=1, bias=False)
        self.decoder_level2 = make_level(c2, heads[1], num_blocks[1])
        self.up2_1 = Upsample(c2)
        # Level 1 keeps the concatenated 2C channels: no reduction, as in Restormer.
        self.decoder_level1 = make_level(2 * c1, heads[0], num_blocks[0])
        self.refinement = make_level(2 * c1, heads[0], num_refinement)

        self.output = nn.Conv2d(2 * c1, 3, kernel_size=3, padding=1)
        # Zero start: the residual branch adds nothing until it learns to, so training starts at identity.
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, lq: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Restore degraded images.

        Args:
            lq: degraded images, (B, 3, H, W), RGB in [0, 1], any H, W >= 1.
            z: the guidance vectors ``Z``, (B, guidance_dim); required iff the model was built with a
                ``guidance_dim``, and must be None otherwise.

        Returns:
            Restored images, (B, 3, H, W), RGB, not clamped.

        Raises:
            ValueError: ``lq`` is not (B, 3, H, W), or ``z`` does not match ``guidance_dim``.
        """
        g = self._project(lq, z)
        height, width = lq.shape[-2:]
        x = self._pad(lq)
        # The blocks compute in the weights' dtype (bf16 once cast for inference, see
        # tpir.inference.runtime); the image skip below stays in the input's. Channels-last (C innermost
        # in memory) makes the depth-wise and 1x1 convs much faster on CPU; every layer keeps the format.
        dtype = self.patch_embed.weight.dtype
        if g is not None:
            g = g.to(dtype)

        enc1 = self._run(
            self.encoder_level1, self.patch_embed(x.to(dtype, memory_format=torch.channels_last)), g
        )
        enc2 = self._run(self.encoder_level2, self.down1_2(enc1), g)
        enc3 = self._run(self.encoder_level3, self.down2_3(enc2), g)
        enc4 = self._run(self.encoder_level4, self.down3_4(enc3), g)

        dec3 = self.reduce_level3(torch.cat([self.up4_3(enc4), enc3], dim=1))
        dec3 = self._run(self.decoder_level3, dec3, g)
        dec2 = self.reduce_level2(torch.cat([self.up3_2(dec3), enc2], dim=1))
        dec2 = self._run(self.decoder_level2, dec2, g)
        dec1 = self._run(self.decoder_level1, torch.cat([self.up2_1(dec2), enc1], dim=1), g)
        dec1 = self._run(self.refinement, dec1, g)

        # Back to plain contiguous (B, 3, H, W), so callers may view() the result.
        return (self.output(dec1).to(x.dtype) + x)[..., :height, :width].contiguous()

    def _project(self, lq: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor | None:
        """Check the inputs and map ``z`` (B, guidance_dim) to ``g`` (B, guidance_width), or None."""
        if lq.ndim != 4 or lq.shape[1] != 3:
            raise ValueError(f"lq must be RGB images of shape (B, 3, H, W), got shape {tuple(lq.shape)}.")
        if self.prompt_projection is None:
            if z is not None:
                raise ValueError(
                    "this model was built without guidance (guidance_dim=None), so z must be None, "
                    f"got shape {tuple(z.shape)}."
                )
            return None
        expected = (lq.shape[0], self.guidance_dim)
        if z is None or tuple(z.shape) != expected:
            got = None if z is None else tuple(z.shape)
            raise ValueError(f"z must be guidance vectors of shape (B, guidance_dim)={expected}, got {got}.")
        return self.prompt_projection(z.to(self.prompt_projection.input_mean.dtype))

    @staticmethod
    def _pad(lq: torch.Tensor) -> torch.Tensor:
        """Pad (B, 3, H, W) at the bottom and right to sides that divide by 8."""
        height, width = lq.shape[-2:]
        pad_h = -height % _SIZE_MULTIPLE
        pad_w = -width % _SIZE_MULTIPLE
        if pad_h == 0 and pad_w == 0:
            return lq
        # Reflection needs the pad to be shorter than the side; tiny images repeat their border instead.
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        return F.pad(lq, (0, pad_w, 0, pad_h), mode=mode)

    @staticmethod
    def _run(level: nn.ModuleList, x: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """Run a level's blocks in order on features (B, C, H, W) with guidance (B, guidance_width)."""
        for block in level:
            x = block(x, g)
        return x
