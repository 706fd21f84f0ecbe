"""How inference runs on this machine: the number format of the backbone, and the allocator.

``precision="auto"`` runs the backbone in bfloat16 where the hardware computes it natively (a CPU with
AMX or AVX512_BF16, a GPU with bf16 support) and in float32 elsewhere: emulated bf16 is slower than
float32. The choice is printed by the command-line tools and kept on the model (``Restorer.precision``).

In bf16 the whole backbone is cast except the guidance MLP (tiny, and the text signal is worth its
float32), and the image's global skip connection stays float32 (``TextGuidedBackbone.forward``): bf16
keeps 8 bits of mantissa, a step of 1/256 near white, so rounding the input image itself would cost
PSNR on every image.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

PRECISIONS = ("auto", "fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}

# glibc mallopt parameters (malloc.h); values beyond 2 GiB are clamped by glibc itself.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREED_BYTES = 2**31 - 1


class PrecisionError(ValueError):
    """A precision that is not one of :data:`PRECISIONS`, or that this device cannot run."""


@dataclass(frozen=True)
class Precision:
    """The number format chosen for the backbone, and why.

    Attributes:
        name: ``fp32`` or ``bf16``; a restorer also knows ``bf16-mixed`` (fp32 weights under bf16
            autocast, as a run trained in ``bf16-mixed`` computes), which has no single dtype.
        reason: why, for people: e.g. ``auto: this CPU has AMX``.
    """

    name: str
    reason: str

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]

    def summary(self) -> str:
        """One line for the command-line tools, e.g. ``precision: bf16 (auto: this CPU has AMX)``."""
        return f"precision: {self.name} ({self.reason})"


# oneDNN instruction-set caps (ONEDNN_MAX_CPU_ISA) under which its kernels may still use each feature;
# every cap that allows AMX allows AVX512_BF16 too.
_AMX_CAPS = (
    "AVX512_CORE_AMX",
    "AVX512_CORE_AMX_FP16",
    "AVX10_1_512_AMX",
    "AVX10_1_512_AMX_FP16",
    "ALL",
    "DEFAULT",
)
_ISA_CAPS_WITH = {
    "AMX": _AMX_CAPS,
    "AVX512_BF16": ("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512", *_AMX_CAPS),
}


def cpu_bf16_feature() -> str | None:
    """The instruction-set feature that makes bf16 native on this CPU (``AMX``, ``AVX512_BF16``), or None.

    A feature that ``ONEDNN_MAX_CPU_ISA`` keeps oneDNN from using does not count (``ONEDNN_MAX_CPU_ISA=AVX2``
    runs this CPU as an AVX2-only one would).
    """
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    if torch.cpu._is_amx_tile_supported() and cap in _ISA_CAPS_WITH["AMX"]:
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported() and cap in _ISA_CAPS_WITH["AVX512_BF16"]:
        return "AVX512_BF16"
    return None


def choose_precision(
    requested: str,
    device: torch.device | str,
    cpu_feature: Callable[[], str | None] = cpu_bf16_feature,
) -> Precision:
    """The precision to run a backbone in on ``device``.

    Args:
        requested: ``auto`` (bf16 where native, else fp32), ``fp32`` or ``bf16``.
        device: where the backbone runs.
        cpu_feature: reports the CPU's native bf16 feature (tests pass a stand-in).

    Raises:
        PrecisionError: ``requested`` is unknown, or bf16 is asked for on a GPU without it.
    """
    if requested not in PRECISIONS:
        raise PrecisionError(f"precision {requested!r}: expected one of {', '.join(PRECISIONS)}.")
    device = torch.device(device)
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
        feature = torch.cuda.get_device_name(device) if native else None
    else:
        feature = cpu_feature()
        native = feature is not None
    if requested == "fp32":
        return Precision("fp32", "asked for")
    if requested == "bf16":
        if device.type == "cuda" and not native:
            raise PrecisionError(f"precision bf16: {torch.cuda.get_device_name(device)} has no bf16.")
        suffix = (
            "" if native else f"; this {device.type.upper()} has no native bf16, so it is emulated and slow"
        )
        return Precision("bf16", f"asked for{suffix}")
    if native:
        return Precision("bf16", f"auto: this {device.type.upper()} has {feature}")
    return Precision("fp32", f"auto: this {device.type.upper()} has no native bf16 (AMX or AVX512_BF16)")


def tiles_per_batch(device: torch.device | str) -> int:
    """How many tiles of a large image to restore in one forward on ``device``.

    One on a CPU: a 512-pixel tile already keeps every core busy, and a batch would multiply the peak
    memory for no gain. Four on a GPU, where one tile leaves most of the chip idle; a batch that does
    not fit is halved until it does (``Restorer.restore_tensor``).
    """
    return 4 if torch.device(device).type == "cuda" else 1


def cast_backbone(backbone: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast ``backbone`` (a ``TextGuidedBackbone``) to ``dtype``, keeping its guidance MLP in float32."""
    backbone.to(dtype)
    if getattr(backbone, "prompt_projection", None) is not None:
        backbone.prompt_projection.float()
    return backbone


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process rather than return it to the system.

    Each forward pass frees and allocates activations of hundreds of MB; glibc hands such blocks back to
    the kernel at once (they are above its mmap threshold), and the next pass faults every page in
    again, zeroed: a third of the paper-size forward on CPU. The Makefile sets the same through
    ``MALLOC_MMAP_THRESHOLD_``; this does it from inside, for ``tpir-restore`` and the Python API.

    Returns:
        Whether the allocator took the setting (False off glibc, e.g. on macOS or musl).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_FREED_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED_BYTES)
    )
