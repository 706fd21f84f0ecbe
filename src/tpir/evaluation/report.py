"""The demo's report: the results table, the gain per test set, and a picture of one example per set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from tpir.data.evaluation_sets import EvaluationSet
from tpir.evaluation.protocol import Restore, apply_protocol
from tpir.evaluation.tables import markdown
from tpir.utils import atomic_path, write_text_atomic
from tpir.viz.grids import comparison_grid

EXAMPLE_HEIGHT = 240  # pixels of each picture in examples.png


def example_rows(restore: Restore, sets: Sequence[EvaluationSet], protocol: str) -> Image.Image:
    """First image of each set as input / restored / target with its prompt; one row per set."""
    rows = []
    for dataset in sets:
        sample = dataset[0]
        lq, gt = (apply_protocol(sample[k], protocol) for k in ("lq", "gt"))
        with torch.inference_mode():
            restored = restore(lq[None], sample["prompt"], dataset.task)[0].cpu()
        scale = EXAMPLE_HEIGHT / lq.shape[-2]
        size = (EXAMPLE_HEIGHT, max(1, round(lq.shape[-1] * scale)))
        images = {
            f"input ({dataset.name})": lq,
            "restored": restored,
            "target": gt,
        }
        resized = {
            k: torch.nn.functional.interpolate(v[None], size=size, mode="area")[0] for k, v in images.items()
        }
        rows.append(comparison_grid(resized, sample["prompt"]))
    canvas = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    top = 0
    for row in rows:
        canvas.paste(row, (0, top))
        top += row.height
    return canvas


def write_report(results: dict, restore: Restore, sets: Sequence[EvaluationSet], folder: str | Path) -> Path:
    """Write ``report.md`` and ``examples.png`` into ``folder``; returns the report's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    picture = example_rows(restore, sets, results["protocol"])
    with atomic_path(folder / "examples.png") as partial:
        picture.save(partial, format="PNG")
    table = results["table"]
    gains = [
        f"- {s['name']} ({s['task']}, {s['images']} images): {s['psnr_input']:.2f} dB -> {s['psnr']:.2f} dB "
        f"({s['psnr'] - s['psnr_input']:+.2f} dB)"
        for s in results["sets"]
    ]
    text = "\n".join(
        [
            "# tpir demo report",
            "",
            f"Model: {results['method']}; {table['title']}.",
            "PSNR (dB) / SSIM on RGB in [0, 1], restored against the clean target.",
            "",
            markdown(table["header"], table["rows"]),
            "Gain per test set:",
            "",
            *gains,
            "",
            "One example per set (input / restored / target, the prompt underneath):",
            "",
            "![examples](examples.png)",
            "",
        ]
    )
    return write_text_atomic(folder / "report.md", text)
