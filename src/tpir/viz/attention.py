"""Opt-in recording of what the backbone attends to, and per-prompt spatial response maps.

``AttentionRecorder`` hooks named modules of a model for the length of a ``with`` block; it changes no
module's inputs or outputs, and the hooks are gone when the block ends. The helpers below turn its
records into maps of where a prompt acts (the notebooks' attention figures).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.hooks import RemovableHandle

from tpir.models.backbone import TextGuidedBackbone
from tpir.models.blocks import IMTA, ITBlock
from tpir.models.fusion import TextFusion

__all__ = ["AttentionRecorder", "list_blocks", "prompt_response_maps", "response_map"]

# Floor on a map's value range, so a constant map normalises to zeros rather than NaN.
_RANGE_EPS = 1e-12


def _to_cpu(tensor: torch.Tensor) -> torch.Tensor:
    # A copy even on CPU: a record must not alias a tensor the model could still change in place. Float32
    # whatever the model computes in (bf16 has no numpy counterpart, and plots want numpy).
    return tensor.detach().to("cpu", torch.float32, copy=True)


def list_blocks(model: nn.Module) -> list[str]:
    """Names of the model's ITBlocks, as ``model.named_modules()`` gives them.

    That is registration order, which for ``TextGuidedBackbone`` is forward order: encoder levels 1..4,
    decoder levels 3..1, then refinement.

    Args:
        model: any module holding ITBlocks.

    Returns:
        Block names, e.g. ``["encoder_level1.0", ..., "refinement.0"]``.
    """
    return [name for name, module in model.named_modules() if isinstance(module, ITBlock)]


class AttentionRecorder:
    """Records channel attention, text-fusion gates and modulation, and block outputs during forwards.

    Use as a context manager; records are detached float32 CPU copies keyed by ``model.named_modules()``
    names, and a later forward inside the same ``with`` overwrites the earlier one's::

        with AttentionRecorder(model) as recorder:
            model(lq, z)
        recorder.channel_attention["encoder_level1.0.attn"]  # (B, heads, C / heads, C / heads)

    Attributes:
        channel_attention: IMTA name -> softmax attention map, (B, heads, C / heads, C / heads), rows
            sum to 1.
        gates: TextFusion name -> gate weights ``w``, (B, C), in (0, 1). Empty without text fusion.
        features: ITBlock name -> block output, (B, C, H', W') at the block's (padded) resolution.

    Args:
        model: the module to record, e.g. a ``TextGuidedBackbone``.
        blocks: names of the ITBlocks whose outputs to keep in ``features``; None keeps all of them
            (large images make that large: one full feature map per block).

    Raises:
        ValueError: ``blocks`` names something that is not an ITBlock of ``model``.
    """

    def __init__(self, model: nn.Module, blocks: Collection[str] | None = None) -> None:
        known = list_blocks(model)
        unknown = sorted(set(blocks or ()) - set(known))
        if unknown:
            raise ValueError(f"blocks must name ITBlocks of the model (see list_blocks), got {unknown}.")
        self.model = model
        self.blocks = set(known if blocks is None else blocks)
        self.channel_attention: dict[str, torch.Tensor] = {}
        self.gates: dict[str, torch.Tensor] = {}
        self.features: dict[str, torch.Tensor] = {}
        self._scales: dict[str, torch.Tensor] = {}
        self._shifts: dict[str, torch.Tensor] = {}
        self._handles: list[RemovableHandle] = []

    @property
    def modulation(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """TextFusion name -> (scale, shift), each (B, C): ``Xc = scale * X0 + shift`` per channel."""
        return {name: (scale, self._shifts[name]) for name, scale in self._scales.items()}

    def __enter__(self) -> AttentionRecorder:
        for store in (self.channel_attention, self.gates, self.features, self._scales, self._shifts):
            store.clear()
        for name, module in self.model.named_modules():
            if isinstance(module, IMTA):
                self._hook(module.attention_map, self.channel_attention, name)
            elif isinstance(module, TextFusion):
                self._hook(module.gate_weights, self.gates, name)
                self._hook(module.scale, self._scales, name)
                self._hook(module.shift, self._shifts, name)
            elif isinstance(module, ITBlock) and name in self.blocks:
                self._hook(module, self.features, name)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, module: nn.Module, store: dict[str, torch.Tensor], name: str) -> None:
        """Store ``module``'s output under ``name`` in ``store`` on each forward."""

        def record(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            store[name] = _to_cpu(output)

        self._handles.append(module.register_forward_hook(record))


def response_map(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Channel-weighted feature energy, min-max normalised per image.

    ``R = sum_c |weights_c| * |features_c|``, then ``(R - min R) / (max R - min R)``; a constant map
    becomes zeros.

    Args:
        features: feature maps, (B, C, H, W).
        weights: per-channel weights, (B, C), e.g. a fusion's gate weights.

    Returns:
        Response maps, (B, H, W), in [0, 1].

    Raises:
        ValueError: the shapes are not (B, C, H, W) and (B, C).
    """
    if features.ndim != 4 or tuple(weights.shape) != tuple(features.shape[:2]):
        raise ValueError(
            "response_map needs features (B, C, H, W) and weights (B, C), "
            f"got {tuple(features.shape)} and {tuple(weights.shape)}."
        )
    energy = torch.einsum("bc,bchw->bhw", weights.abs(), features.abs())
    low = energy.amin(dim=(1, 2), keepdim=True)
    span = energy.amax(dim=(1, 2), keepdim=True) - low
    return (energy - low) / span.clamp_min(_RANGE_EPS)


@torch.no_grad()
def prompt_response_maps(
    model: TextGuidedBackbone,
    image: torch.Tensor,
    guidance_vectors: Mapping[str, torch.Tensor | None],
    block: str,
) -> dict[str, torch.Tensor]:
    """Where each prompt acts in one block: one forward per prompt, response upsampled to the image.

    The response is ``response_map`` of the block's output, weighted by the gate of the block's
    attention fusion (uniform weights for a model without text fusion). The block works on the padded
    image at a lower resolution; its map is upsampled bilinearly to the padded size and cropped back.

    Args:
        model: the restorer; its mode (train/eval) is left as it is.
        image: one degraded image, (1, 3, H, W), RGB in [0, 1], on the model's device.
        guidance_vectors: prompt -> its embedding ``Z``, (1, guidance_dim); None for a model built
            without guidance.
        block: an ITBlock name from ``list_blocks(model)``, e.g. ``"encoder_level1.0"``.

    Returns:
        Prompt -> response map, (H, W), in [0, 1], on the CPU.

    Raises:
        ValueError: ``image`` is not (1, 3, H, W), or ``block`` is not an ITBlock of ``model``.
    """
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image must be one RGB image of shape (1, 3, H, W), got {tuple(image.shape)}.")
    blocks = list_blocks(model)
    if block not in blocks:
        raise ValueError(f"block must be one of list_blocks(model) = {blocks}, got {block!r}.")
    height, width = image.shape[-2:]
    padded_size = TextGuidedBackbone._pad(image).shape[-2:]
    maps = {}
    for prompt, z in guidance_vectors.items():
        with AttentionRecorder(model, blocks=[block]) as recorder:
            model(image, z)
        features = recorder.features[block]
        gate = recorder.gates.get(f"{block}.attn_fusion")
        weights = torch.ones(features.shape[:2]) if gate is None else gate
        response = response_map(features.float(), weights.float()).unsqueeze(1)
        response = F.interpolate(response, size=padded_size, mode="bilinear", align_corners=False)
        # Bilinear interpolation is a convex blend; the clamp only removes rounding past [0, 1].
        maps[prompt] = response[0, 0, :height, :width].clamp(0.0, 1.0)
    return maps
