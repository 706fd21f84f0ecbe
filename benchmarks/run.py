"""Speed and size benchmarks of the restoration backbone; `make bench` runs this.

Prints a table and writes ``benchmarks/results.json``: a list of {"name", "value", "unit"}.
Sizes come from the ``model`` configs, so the numbers follow any change there.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from tpir.config import CONFIG_DIR

GUIDANCE_DIM = 384  # MiniLM, the default text encoder


def build(model: str) -> torch.nn.Module:
    """The backbone of ``conf/model/<model>.yaml`` with text guidance of the default encoder's width."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["stage=restore", f"model={model}"])
    return instantiate(cfg.model)(guidance_dim=GUIDANCE_DIM)


def trainable_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def median_seconds(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_seconds(model: torch.nn.Module, size: int, repeats: int) -> float:
    model.eval()
    image, guidance = torch.rand(1, 3, size, size), torch.randn(1, GUIDANCE_DIM)
    with torch.inference_mode():
        return median_seconds(lambda: model(image, guidance), repeats)


def train_step_seconds(model: torch.nn.Module, batch: int, crop: int, repeats: int) -> float:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=1e-4)
    lq, gt = torch.rand(batch, 3, crop, crop), torch.rand(batch, 3, crop, crop)
    guidance = torch.randn(batch, GUIDANCE_DIM)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.l1_loss(model(lq, guidance), gt).backward()
        optimizer.step()

    return median_seconds(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="side of the square test image")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    results = []
    for name in ("tiny", "paper"):
        model = build(name)
        results.append(
            {"name": f"{name}/trainable_parameters", "value": trainable_parameters(model), "unit": "count"}
        )
        seconds = forward_seconds(model, args.size, args.repeats)
        results.append(
            {"name": f"{name}/forward_{args.size}x{args.size}", "value": round(seconds, 4), "unit": "s"}
        )
    seconds = train_step_seconds(build("tiny"), batch=6, crop=128, repeats=args.repeats)
    results.append({"name": "tiny/train_step_batch6_128x128", "value": round(seconds, 4), "unit": "s"})
    machine = (
        f"{platform.machine()} ({torch.backends.cpu.get_cpu_capability()}), "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    for row in results:
        row["machine"] = machine
    print(f"{'measurement':<36} {'value':>14}  unit")
    for row in results:
        print(f"{row['name']:<36} {row['value']:>14,}  {row['unit']}")
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
