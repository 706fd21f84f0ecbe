"""What the CPU and GPU benchmarks share: the backbone of a size, timing, the machine, the results file."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from tpir.config import CONFIG_DIR
from tpir.inference.runtime import cpu_bf16_feature

GUIDANCE_DIM = 384  # MiniLM, the default text encoder
RESULTS_DIR = Path(__file__).parent / "results"


def train_config(*overrides: str) -> DictConfig:
    """The stage-2 training config with ``overrides``, as ``tpir-train`` composes it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=["stage=restore", *overrides])


def build(model: str) -> torch.nn.Module:
    """The backbone of ``conf/model/<model>.yaml`` with text guidance of the default encoder's width."""
    return instantiate(train_config(f"model={model}").model)(guidance_dim=GUIDANCE_DIM)


def trainable_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def median_seconds(run: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``repeats`` calls of ``run`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_name() -> str:
    """The CPU's model name and family (``/proc/cpuinfo``; "AMD EPYC" alone names Zen 4, family 25, and Zen 5,
    family 26, which differ twofold in speed), else what ``platform`` says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        text = cpuinfo.read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        family = re.search(r"^cpu family\s*:\s*(\d+)$", text, re.MULTILINE)
        if found:
            return found.group(1).strip() + (f" family {family.group(1)}" if family else "")
    return platform.processor() or platform.machine()


def cpu_isa() -> str:
    """The vector instruction set torch runs on and the native bf16 feature, e.g. ``AVX512 + AMX``."""
    feature = cpu_bf16_feature()
    return f"{torch.backends.cpu.get_cpu_capability()} + {feature or 'no native bf16'}"


# What emulates an older CPU on a newer one (DNNL_ is oneDNN's older spelling).
ISA_CAPS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def isa_caps() -> str:
    """The ISA caps set in the environment, e.g. ``ONEDNN_MAX_CPU_ISA=AVX2``; empty when none is."""
    return ", ".join(f"{name}={os.environ[name]}" for name in ISA_CAPS if os.environ.get(name))


def cpu_machine() -> str:
    """One line naming this CPU, its vector ISA, the threads used and torch, and the ISA caps in force."""
    caps = isa_caps()
    capped = f" (capped: {caps})" if caps else ""
    return f"{cpu_name()}, {cpu_isa()}{capped}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_results(rows: Sequence[dict], machine: str, path: Path) -> None:
    """Print ``rows`` ({"name", "value", "unit"}) as a table and write them, each with ``machine``, into
    ``path`` (JSON): rows of the same name are replaced, the file's other rows kept (a partial run updates
    its part)."""
    print(f"\n{machine}\n{'measurement':<60} {'value':>12}  unit")
    for row in rows:
        print(f"{row['name']:<60} {row['value']:>12,}  {row['unit']}")
    kept = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    new = {row["name"]: row | {"machine": machine} for row in rows}
    merged = [new.pop(row["name"], row) for row in kept] + list(new.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
