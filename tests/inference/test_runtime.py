"""Precision of inference: the automatic choice, bf16 against fp32, and what a cast model refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tpir.inference.restorer import Restorer
from tpir.inference.runtime import (
    PrecisionError,
    cast_backbone,
    choose_precision,
    cpu_bf16_feature,
    keep_freed_memory,
    tiles_per_batch,
)
from tpir.metrics.image_quality import psnr
from tpir.models.backbone import TextGuidedBackbone
from tpir.notebook import TINY_BACKBONE, tiny_model
from tpir.viz.attention import AttentionRecorder

PROMPT = "remove the rain"
# A tiny random model in bf16 against fp32, on a 64x64 image: measured 0.0010 largest difference and
# 74 dB on a 2-core AVX-512 CPU (whose restoration moves the image by 29 dB). The bounds leave room for
# other kernels while still failing if a layer ran without float accumulation or the skip were rounded.
BF16_MAX_DIFFERENCE = 0.005
BF16_MIN_PSNR = 60.0


@pytest.mark.parametrize(
    ("feature", "expected"),
    [("AMX", "bf16"), ("AVX512_BF16", "bf16"), (None, "fp32")],
)
def test_auto_follows_the_cpu_flags(feature: str | None, expected: str) -> None:
    chosen = choose_precision("auto", "cpu", cpu_feature=lambda: feature)
    assert chosen.name == expected
    assert chosen.dtype == {"bf16": torch.bfloat16, "fp32": torch.float32}[expected]
    assert chosen.reason.startswith("auto: ")
    assert (feature or "no native bf16") in chosen.summary()


def test_an_explicit_precision_overrides_the_flags() -> None:
    assert choose_precision("fp32", "cpu", cpu_feature=lambda: "AMX").name == "fp32"
    emulated = choose_precision("bf16", "cpu", cpu_feature=lambda: None)
    assert emulated.name == "bf16"
    assert "emulated" in emulated.reason


def test_an_unknown_precision_names_the_choices() -> None:
    with pytest.raises(PrecisionError, match="'fp16': expected one of auto, fp32, bf16"):
        choose_precision("fp16", "cpu")


def test_bf16_agrees_with_fp32_on_a_tiny_model() -> None:
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    full, half = tiny_model(seed=1), tiny_model(seed=1)
    half.set_precision("bf16")
    z = full.interpret(PROMPT).z
    expected, restored = full(image, z).clamp(0, 1), half(image, z).clamp(0, 1)  # images as restored
    assert restored.dtype == torch.float32
    assert (restored - expected).abs().max().item() <= BF16_MAX_DIFFERENCE
    assert psnr(restored, expected).item() >= BF16_MIN_PSNR
    assert not torch.equal(restored, expected), "the bf16 model should not be the fp32 one"


def test_the_image_skip_stays_in_float32() -> None:
    # An untrained backbone's output convolution is zero: in any precision it must return its input
    # exactly, which a bf16 skip connection would round to 8 bits of mantissa.
    backbone = cast_backbone(TextGuidedBackbone(**TINY_BACKBONE, guidance_dim=8), torch.bfloat16)
    image = torch.rand(2, 3, 24, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        restored = backbone(image, torch.randn(2, 8))
    assert restored.dtype == torch.float32
    assert torch.equal(restored, image)
    assert backbone.prompt_projection.layers[0].weight.dtype == torch.float32  # the text signal stays fp32
    assert backbone.patch_embed.weight.dtype == torch.bfloat16


def test_a_cast_model_refuses_to_go_back_or_be_saved(tmp_path: Path) -> None:
    model = tiny_model()
    assert model.precision.name == "fp32"
    assert model.set_precision("bf16").name == "bf16"
    with pytest.raises(PrecisionError, match="load it again"):
        model.set_precision("fp32")
    with pytest.raises(PrecisionError, match="precision='fp32'"):
        model.save_pretrained(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_loading_takes_the_precision_asked_for(model_folder: Path) -> None:
    assert Restorer.from_pretrained(
        model_folder, precision="fp32"
    ).model.backbone.patch_embed.weight.dtype == (torch.float32)
    loaded = Restorer.from_pretrained(model_folder, precision="bf16")
    assert loaded.precision.name == "bf16"
    assert loaded.model.backbone.patch_embed.weight.dtype == torch.bfloat16


def test_freed_memory_is_kept_on_glibc() -> None:
    assert keep_freed_memory() is True  # CI and this project's machines run glibc Linux


def test_tiles_are_batched_on_a_gpu_only() -> None:
    assert tiles_per_batch("cpu") == 1
    assert tiles_per_batch("cuda") > 1


@pytest.mark.parametrize(
    ("cap", "native"), [("AVX2", False), ("AVX512_CORE", False), ("AVX512_CORE_BF16", True)]
)
def test_a_onednn_isa_cap_hides_bf16(monkeypatch: pytest.MonkeyPatch, cap: str, native: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert cpu_bf16_feature() == ("AVX512_BF16" if native else None)
    assert choose_precision("auto", "cpu").name == ("bf16" if native else "fp32")


def test_a_bf16_model_records_float32_attention() -> None:
    model = tiny_model()
    model.set_precision("bf16")
    with AttentionRecorder(model.model.backbone) as recorder:
        model(torch.rand(1, 3, 32, 32), model.interpret(PROMPT).z)
    records = [*recorder.channel_attention.values(), *recorder.gates.values(), *recorder.features.values()]
    assert records and all(r.dtype == torch.float32 for r in records)
    assert recorder.features["refinement.0"].numpy().shape[-2:] == (32, 32)  # plots take numpy
