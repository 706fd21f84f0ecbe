"""SPIRE's "prompt space walking": what the number a prompt states does to the output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure


def plot_strength_walk(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Per task, PSNR against clean and mean |output - input| over the stated number, one line per true
    strength (rows of ``tpir.evaluation.studies.strength_study``; free-form rows are dashed levels)."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    figure = Figure(figsize=(9, 3.2 * len(tasks)), layout="constrained")
    axes = figure.subplots(len(tasks), 2, squeeze=False)
    for (left, right), task in zip(axes, tasks, strict=True):
        for true in dict.fromkeys(r["true"] for r in rows if r["task"] == task):
            chosen = [r for r in rows if r["task"] == task and r["true"] == true]
            numeric = [r for r in chosen if r["stated"] is not None]
            stated = [r["stated"] for r in numeric]
            line = left.plot(stated, [r["psnr"] for r in numeric], marker="o", label=f"true {true:g}")[0]
            right.plot(stated, [r["mean_abs_change"] for r in numeric], marker="o", color=line.get_color())
            for r in chosen:
                if r["stated"] is None:
                    left.axhline(r["psnr"], color=line.get_color(), linestyle="--", linewidth=0.8)
            left.axvline(true, color=line.get_color(), linestyle=":", linewidth=0.8)
        left.set(title=f"{task}: PSNR vs clean (dashed: free-form)", xlabel="stated strength", ylabel="dB")
        right.set(title=f"{task}: mean |output - input|", xlabel="stated strength", ylabel="0-255")
        left.legend(fontsize=8)
    return figure
