"""GPU training speed of the paper recipe: eager, compiled and CUDA-graph-captured, fed by the real data.

For each batch size (6, 16, 32 at 128x128) and each mode (eager; ``torch.compile``; ``torch.compile``
with mode ``reduce-overhead``, which captures each step's kernels as CUDA graphs), runs bf16-autocast
L1 + fused-AdamW steps of the backbone on batches from the training DataLoader of
``experiment=paper_all_in_one`` (worker processes, pinned memory), with the guidance of each batch's
prompts. Nothing in a timed step waits for the GPU (no ``.item()``): the clock stops after one
synchronisation at the end. Prints steps/s, images/s and the achieved TFLOP/s (3 x the FLOPs of one
forward, counted once with ``torch.utils.flop_counter.FlopCounterMode``) and writes
``benchmarks/results/gpu-<device name>.json``. ``make bench`` runs it where CUDA is.

    python benchmarks/gpu.py                                   # on the GPU
    python benchmarks/gpu.py --device cpu --model tiny --batches 2 --steps 2 --warmup 1 --modes eager
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from common import RESULTS_DIR, slug, train_config, write_results
from hydra.utils import instantiate
from torch.utils.flop_counter import FlopCounterMode

MODES = {"eager": None, "compiled": "default", "graphs": "reduce-overhead", "autotuned": "max-autotune"}


def batches(cfg, batch: int, workers: int, device: torch.device) -> Iterator[tuple]:
    """Endless (lq, gt, prompts, task ids) batches of the real training pipeline, on ``device``."""
    datamodule = instantiate(cfg.datamodule, batch_size=batch, num_workers=workers)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    loader.pin_memory = device.type == "cuda"
    for sample in itertools.chain.from_iterable(itertools.repeat(loader)):
        yield (
            sample["lq"].to(device, non_blocking=True),
            sample["gt"].to(device, non_blocking=True),
            sample["prompt"],
            sample["task"],
        )


def flops_per_image(module, cfg, device: torch.device) -> float:
    """FLOPs of one training step's forward + backward per crop: 3 x the forward's, counted once.

    The backward of a matmul or convolution costs twice its forward. It is not counted directly:
    FlopCounterMode (torch 2.13) counts the backward of a grouped convolution as if it were dense, 64 times
    too much for a 64-channel depth-wise one, which would make the depth-wise-heavy backbone look fast.
    """
    crop = cfg.datamodule.crop_size
    lq = torch.rand(1, 3, crop, crop, device=device)
    z = module.model.guidance(["remove the noise"], torch.zeros(1, dtype=torch.long, device=device))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.model.backbone(lq, z)
    return 3 * counter.get_total_flops()


def steps_per_second(module, data: Iterator[tuple], device: torch.device, steps: int, warmup: int) -> float:
    """Rate of ``steps`` training steps after ``warmup`` untimed ones (compilation happens there)."""
    optimizer = torch.optim.AdamW(module.model.backbone.parameters(), lr=2e-4, weight_decay=1e-4, fused=True)
    autocast = (
        torch.autocast(device.type, torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    )

    def step() -> None:
        lq, gt, prompts, tasks = next(data)
        z = module.model.guidance(prompts, tasks.to(device))
        with autocast:
            loss = F.l1_loss(module.model.backbone(lq, z).float(), gt)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="paper", help="a conf/model size")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", type=int, nargs="+", default=[6, 16, 32])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["eager", "compiled", "graphs"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--data", default="benchmark", help="a conf/data config (benchmark: ../shared/data)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/gpu-<name>.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    cfg = train_config("experiment=paper_all_in_one", f"model={args.model}", f"data={args.data}")
    rows = []
    flops = None
    for batch, mode in itertools.product(args.batches, args.modes):
        torch.manual_seed(0)
        module = instantiate(cfg.module, compile=False).to(device)
        if flops is None:
            flops = flops_per_image(module, cfg, device)
            rows.append(
                {
                    "name": f"{args.model}/train_gflop_per_128x128_image",
                    "value": round(flops / 1e9, 2),
                    "unit": "GFLOP",
                }
            )
        if MODES[mode] is not None:
            module.model.backbone.compile(mode=MODES[mode], dynamic=False)
        data = batches(cfg, batch, args.workers, device)
        rate = steps_per_second(module, data, device, args.steps, args.warmup)
        prefix = f"{args.model}/train_batch{batch}_128x128_{mode}"
        rows.append({"name": f"{prefix}_steps_per_s", "value": round(rate, 2), "unit": "steps/s"})
        rows.append({"name": f"{prefix}_images_per_s", "value": round(rate * batch, 1), "unit": "images/s"})
        rows.append(
            {"name": f"{prefix}_tflops", "value": round(rate * batch * flops / 1e12, 2), "unit": "TFLOP/s"}
        )
        print(f"{prefix}: {rate:.2f} steps/s", flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    write_results(
        rows, f"{name}, torch {torch.__version__}", args.out or RESULTS_DIR / f"gpu-{slug(name)}.json"
    )


if __name__ == "__main__":
    main()
