"""Training steps per second of a backbone size, eager and under ``torch.compile``.

For a GPU: ``python benchmarks/train_speed.py --device cuda --model paper`` measures AdamW + L1 steps at
batch 6 on 128x128 crops in bf16 autocast (the paper's recipe), prints a table and writes a JSON list of
{"name", "value", "unit"} rows like ``make bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from run import GUIDANCE_DIM, build, trainable_parameters


def steps_per_second(
    model: torch.nn.Module, device: str, batch: int, crop: int, steps: int, warmup: int, bf16: bool
) -> float:
    """Mean rate of ``steps`` optimizer steps after ``warmup`` untimed ones (compilation happens there)."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=1e-4)
    lq = torch.rand(batch, 3, crop, crop, device=device)
    gt = torch.rand(batch, 3, crop, crop, device=device)
    guidance = torch.randn(batch, GUIDANCE_DIM, device=device)
    autocast = torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = F.l1_loss(model(lq, guidance).float(), gt)
        loss.backward()
        optimizer.step()

    def synchronize() -> None:
        if device.startswith("cuda"):
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
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    parser.add_argument("--out", type=Path, default=Path("train_speed.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    results = []
    for compiled in (False, True):
        model = build(args.model).to(args.device)
        if compiled:
            model = torch.compile(model)
        rate = steps_per_second(
            model, args.device, args.batch, args.crop, args.steps, args.warmup, bf16=not args.fp32
        )
        label = "compiled" if compiled else "eager"
        name = f"{args.model}/train_steps_batch{args.batch}_{args.crop}x{args.crop}_{label}"
        results.append({"name": name, "value": round(rate, 3), "unit": "steps/s"})
        print(f"{name:<52} {rate:8.3f} steps/s", flush=True)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    for row in results:
        row |= {"machine": f"{device}, torch {torch.__version__}", "parameters": trainable_parameters(model)}
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
