"""CPU speed and memory benchmarks; ``make bench`` runs this (and ``gpu.py`` where CUDA is).

Prints a table and writes ``benchmarks/results/cpu-<CPU name and family>-<vector ISA>.json`` (a list of
{"name", "value", "unit", "machine"}; ``-capped`` added when an ISA cap such as
``ONEDNN_MAX_CPU_ISA=AVX2`` emulates an older CPU), so that each kind of CPU keeps its own figures:

- tiny and paper-size forward at 256x256, in fp32 and in the automatic precision
  (``tpir.inference.runtime``), and the paper-size one compiled (``torch.compile``, after its warm-up)
  where that precision is bf16 (``tpir-restore`` does not compile: what a tile gains, the warm-up
  loses end to end on a large photo);
- a paper-size training step (batch 6, 128x128 crops, fused AdamW) in fp32 and, where the CPU has native
  bf16, in ``bf16-mixed``;
- the training-data pipeline: samples/s that one worker makes;
- ``tpir-eval`` images/s with the demo model (``make demo``), fp32 and automatic;
- ``tpir-restore`` of a 12-megapixel photo with a paper-size model: seconds and peak memory, fp32 and
  automatic.

    python benchmarks/run.py --only forward          # one part: forward, train, data, eval, photo
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import (
    GUIDANCE_DIM,
    RESULTS_DIR,
    build,
    cpu_isa,
    cpu_machine,
    cpu_name,
    isa_caps,
    median_seconds,
    slug,
    train_config,
    trainable_parameters,
    write_results,
)
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from tpir.config import CONFIG_DIR
from tpir.inference.runtime import cast_backbone, choose_precision, keep_freed_memory

PARTS = ("forward", "data", "eval", "photo", "train")  # training last: it leaves the process large
DEMO_MODEL = Path("outputs/demo/model")
PHOTO_SIZE = (4000, 3000)  # 12 megapixels, width x height


def forward_rows(size: int, repeats: int) -> list[dict]:
    """Parameters and forward seconds of each size, fp32 and automatic precision (paper-size also
    compiled, where that precision is bf16)."""
    rows = []
    automatic = choose_precision("auto", "cpu")
    image, guidance = torch.rand(1, 3, size, size), torch.randn(1, GUIDANCE_DIM)
    for name in ("tiny", "paper"):
        model = build(name).eval()
        rows.append(
            {"name": f"{name}/trainable_parameters", "value": trainable_parameters(model), "unit": "count"}
        )
        for label, dtype in (("fp32", torch.float32), (f"auto={automatic.name}", automatic.dtype)):
            cast = cast_backbone(copy.deepcopy(model), dtype)
            forwards = {label: cast}
            if name == "paper" and dtype == torch.bfloat16:  # compiled fp32 is no faster on CPU
                forwards[f"{label}_compiled"] = torch.compile(cast, dynamic=False)
            for run_label, forward in forwards.items():
                with torch.inference_mode():
                    seconds = median_seconds(lambda forward=forward: forward(image, guidance), repeats)
                rows.append(
                    {
                        "name": f"{name}/forward_{size}x{size}_{run_label}",
                        "value": round(seconds, 3),
                        "unit": "s",
                    }
                )
    return rows


def train_step_seconds(precision: str, repeats: int, batch: int, crop: int) -> float:
    """Median seconds of a paper-size training step (L1, fused AdamW) in Lightning's ``precision``."""
    torch.manual_seed(0)
    model = build("paper").train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=1e-4, fused=True)
    lq, gt = torch.rand(batch, 3, crop, crop), torch.rand(batch, 3, crop, crop)
    guidance = torch.randn(batch, GUIDANCE_DIM)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16-mixed"):
            loss = F.l1_loss(model(lq, guidance).float(), gt)
        loss.backward()
        optimizer.step()

    return median_seconds(step, repeats)


def train_step_rows(repeats: int, batch: int = 6, crop: int = 128) -> list[dict]:
    """Paper-size training steps: fp32, and bf16-mixed where the CPU has native bf16."""
    precisions = ["32-true"] + (["bf16-mixed"] if choose_precision("auto", "cpu").name == "bf16" else [])
    return [
        {
            "name": f"paper/train_step_batch{batch}_{crop}x{crop}_{precision}",
            "value": round(train_step_seconds(precision, repeats, batch, crop), 2),
            "unit": "s",
        }
        for precision in precisions
    ]


def data_rows(samples: int) -> list[dict]:
    """Training samples per second one worker makes (crop 128, the paper's recipe's data)."""
    data = "benchmark" if Path("../shared/data").is_dir() else "bundled"
    cfg = train_config("experiment=paper_all_in_one", f"data={data}", "datamodule.num_workers=0")
    datamodule = instantiate(cfg.datamodule)
    datamodule.setup("fit")
    dataset = datamodule.train_set
    dataset[0]  # warm-up: first reads
    start = time.perf_counter()
    for key in range(1, samples + 1):
        dataset[key % len(dataset)]
    rate = samples / (time.perf_counter() - start)
    tasks = "+".join(datamodule.tasks)
    return [
        {
            "name": f"data/train_samples_per_s_1_worker_{data}_{tasks}_128x128",
            "value": round(rate, 1),
            "unit": "samples/s",
        }
    ]


def eval_rows(limit: int) -> list[dict]:
    """``tpir-eval`` images/s with the demo model on the benchmark data, ``limit`` images a set."""
    from tpir.cli.eval import score

    if not DEMO_MODEL.is_dir():
        print(f"skipping eval: no demo model at {DEMO_MODEL} (run `make demo`)")
        return []
    data = "benchmark" if Path("../shared/data").is_dir() else "bundled"
    rows = []
    for precision in ("fp32", "auto"):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(
                config_name="eval",
                overrides=[
                    f"model_dir={DEMO_MODEL}",
                    f"data={data}",
                    f"limit={limit}",
                    f"precision={precision}",
                ],
            )
        start = time.perf_counter()
        results = score(cfg)
        seconds = time.perf_counter() - start
        images = sum(s["images"] for s in results["sets"])
        name = f"eval/demo_model_images_per_s_{data}_{precision}={results['precision']}"
        rows.append({"name": name, "value": round(images / seconds, 2), "unit": "images/s"})
    return rows


def paper_model_folder(folder: Path) -> Path:
    """A paper-size model folder with random weights and a tiny text encoder (speed does not need more)."""
    from tpir.inference.restorer import Restorer
    from tpir.models.guidance import TextGuidance
    from tpir.text.corpus import InstructionCorpus
    from tpir.text.encoder import TextEncoder, corpus_words, tiny_random_bert

    backbone_config = OmegaConf.to_container(train_config("model=paper").model)
    backbone_config.pop("_target_"), backbone_config.pop("_partial_", None)
    encoder = TextEncoder.from_bundle(
        tiny_random_bert(corpus_words(InstructionCorpus.load()), hidden_size=32)
    )
    restorer = Restorer.assemble(["denoise"], backbone_config, TextGuidance(encoder), encoder)
    return restorer.save_pretrained(folder)


# Runs tpir-restore in a child and reports its own peak resident memory: VmHWM, which starts afresh at
# exec (ru_maxrss would count the pages of the parent the child was forked from).
_MEASURED_RESTORE = """
import json, re, sys, time
from pathlib import Path
from tpir.cli.restore import main
start = time.perf_counter()
status = main(sys.argv[1:])
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"status": status, "seconds": time.perf_counter() - start, "peak_bytes": peak_kib * 1024}))
"""


def photo_rows(tile: int) -> list[dict]:
    """Seconds and peak memory of ``tpir-restore`` on a 12-MP photo with a paper-size model, per precision."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        folder = paper_model_folder(scratch / "model")
        width, height = PHOTO_SIZE
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(scratch / "photo.png", compress_level=1)
        for precision in ("fp32", "auto"):
            command = [
                sys.executable,
                "-c",
                _MEASURED_RESTORE,
                str(scratch / "photo.png"),
                "--prompt",
                "remove the noise",
                "--model",
                str(folder),
                "--out-dir",
                str(scratch / precision),
                "--tile",
                str(tile),
                "--precision",
                precision,
                "--quiet",
                "--device",
                "cpu",
            ]
            finished = subprocess.run(command, capture_output=True, text=True, check=True)
            chosen = next(line for line in finished.stdout.splitlines() if line.startswith("precision: "))
            measured = json.loads(finished.stdout.splitlines()[-1])
            label = f"{precision}={chosen.split()[1]}"
            name = f"photo/paper_model_12MP_tile{tile}_{label}"
            rows.append({"name": f"{name}_seconds", "value": round(measured["seconds"], 1), "unit": "s"})
            rows.append(
                {
                    "name": f"{name}_peak_memory",
                    "value": round(measured["peak_bytes"] / 2**30, 2),
                    "unit": "GiB",
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--size", type=int, default=256, help="side of the square forward input")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tile", type=int, default=512, help="tpir-restore --tile for the 12-MP photo")
    parser.add_argument(
        "--out", type=Path, default=None, help="default: benchmarks/results/cpu-<CPU>-<ISA>.json"
    )
    args = parser.parse_args()
    keep_freed_memory()
    torch.manual_seed(0)
    measure = {
        "forward": lambda: forward_rows(args.size, args.repeats),
        "train": lambda: train_step_rows(args.repeats),
        "data": lambda: data_rows(samples=200),
        "eval": lambda: eval_rows(limit=8),
        "photo": lambda: photo_rows(args.tile),
    }
    out = (
        args.out
        or RESULTS_DIR / f"cpu-{slug(cpu_name())}-{slug(cpu_isa())}{'-capped' if isa_caps() else ''}.json"
    )
    for part in args.only or PARTS:  # written part by part: a long run keeps what it measured
        write_results(measure[part](), cpu_machine(), out)


if __name__ == "__main__":
    main()
