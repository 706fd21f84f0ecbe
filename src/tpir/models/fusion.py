"""Semantic guidance injection (TextPromptIR, Eq. 5): text embeddings steer normalised features."""

from __future__ import annotations

import math

import torch
from torch import nn


def gate_kernel_size(channels: int) -> int:
    """Odd kernel size of the ECA-style channel gate for ``channels`` channels.

    ``k = int((log2(channels) + 1) / 2)``, bumped to the next odd number so the 1-D convolution stays
    centred: 3, 3, 5, 5 for 48, 96, 192, 384 channels.

    Args:
        channels: number of feature channels, at least 1.

    Returns:
        The odd kernel size.

    Raises:
        ValueError: ``channels`` is below 1.
    """
    if channels < 1:
        raise ValueError(f"gate_kernel_size needs at least 1 channel, got channels={channels}.")
    size = int((math.log2(channels) + 1) / 2)
    return size + 1 if size % 2 == 0 else size


class PromptProjection(nn.Module):
    """Maps a prompt embedding ``Z`` to the guidance vector ``g`` that every fusion reads.

    ``Z`` is first standardised per feature with statistics of the prompts the model is trained on
    (:meth:`set_input_statistics`; identity until set). Mean-pooled sentence embeddings share a large
    common component (the category centroids of MiniLM are close to each other), which would
    otherwise drown the part that tells the tasks apart. The statistics are buffers, so checkpoints
    and exported models carry them.

    Args:
        guidance_dim: width of the text embedding (384 for MiniLM-L6, 768 for BERT-base).
        guidance_width: width of ``g``.
    """

    def __init__(self, guidance_dim: int, guidance_width: int) -> None:
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(guidance_dim))
        self.register_buffer("input_std", torch.ones(guidance_dim))
        self.layers = nn.Sequential(
            nn.Linear(guidance_dim, guidance_width),
            nn.LeakyReLU(0.2),
            nn.Linear(guidance_width, guidance_width),
        )

    @torch.no_grad()
    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor, eps: float = 1e-6) -> None:
        """Standardise future inputs with a per-feature ``mean`` and ``std``, each (guidance_dim,)."""
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp_min(eps))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Embed the prompt.

        Args:
            z: prompt embeddings, (B, guidance_dim), any real values.

        Returns:
            Guidance vectors ``g``, (B, guidance_width).
        """
        return self.layers((z - self.input_mean) / self.input_std)


class TextFusion(nn.Module):
    """Modulates normalised features with the guidance vector (Eq. 5).

    An ECA-style gate computed from the features decides, per channel, how much of the projected text
    to let through; the gated text then predicts a per-channel scale and shift of the features.

    Args:
        channels: feature channels ``C``.
        guidance_width: width of the guidance vector ``g``.
    """

    def __init__(self, channels: int, guidance_width: int) -> None:
        super().__init__()
        size = gate_kernel_size(channels)
        self.gate = nn.Conv1d(1, 1, size, padding=size // 2, bias=False)
        self.text_proj = nn.Linear(guidance_width, channels)
        self.scale = nn.Linear(channels, channels)
        self.shift = nn.Linear(channels, channels)
        # Passes the gate weights through unchanged; a named module that recorders can hook.
        self.gate_weights = nn.Identity()
        # Start near the identity modulation (scale ~ 1, shift ~ 0): features pass through while the
        # text pathway learns, instead of being multiplied by random near-zero scales at step 0.
        nn.init.ones_(self.scale.bias)
        nn.init.zeros_(self.shift.bias)

    def forward(self, x0: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Fuse text into features.

        Args:
            x0: layer-normalised features, (B, C, H, W).
            g: guidance vectors, (B, guidance_width).

        Returns:
            Modulated features ``Xc``, (B, C, H, W).
        """
        # The gate slides over the channel axis, so channels become the 1-D sequence of one signal.
        pooled = x0.mean(dim=(2, 3)).unsqueeze(1)
        weight = self.gate_weights(torch.sigmoid(self.gate(pooled)).squeeze(1))
        gated_text = weight * self.text_proj(g)
        scale = self.scale(gated_text)[..., None, None]
        shift = self.shift(gated_text)[..., None, None]
        return torch.addcmul(shift, scale, x0)
