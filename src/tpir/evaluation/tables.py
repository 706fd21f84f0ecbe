"""Tables in the paper's layout: one column per test set, PSNR/SSIM in each cell, and their average.

Table 1 (all-in-one) has a row for the unrestored input and one per method; sweeps (Tables 3 and 4)
have one row per run. Markdown for reading, CSV and JSON for tools.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence

from tpir.data.tasks import TASKS
from tpir.evaluation.scores import SetScores

# Greek letters of the strengths tables show, by a task's test_level.
LEVEL_SYMBOLS = {"sigma": "σ"}


def task_title(task: str) -> str:
    """A task's column title (``Denoise``), as its declaration says; the name for unknown tasks."""
    return TASKS[task].title if task in TASKS else task.title()


def _split_level(name: str, task: str) -> tuple[str, float | None]:
    """``CBSD68_sigma25`` of a task with test level ``sigma`` -> (``CBSD68``, 25.0); else (name, None)."""
    level = TASKS[task].test_level if task in TASKS else None
    match = re.fullmatch(rf"(.+)_{level}([\d.]+)", name) if level else None
    return (match.group(1), float(match.group(2))) if match else (name, None)


def column_title(name: str, task: str) -> str:
    """``CBSD68_sigma25`` of task denoise -> ``Denoise CBSD68 σ=25``, ``CBSD68_q10`` of dejpeg -> ``JPEG CBSD68
    q10`` (``bundled_derain`` -> ``Derain bundled``)."""
    base, level = _split_level(name, task)
    base = base.replace(f"_{task}", "")
    if level is not None:
        symbol = LEVEL_SYMBOLS.get(TASKS[task].test_level, TASKS[task].test_level)
        base = f"{base} {symbol}={level:g}"
    for suffix, _ in TASKS[task].synthetic_tests if task in TASKS else ():
        if base.endswith(f"_{suffix}"):  # CBSD68_gauss2 -> CBSD68 gauss2
            base = f"{base.removesuffix(f'_{suffix}')} {suffix}"
    return f"{task_title(task)} {base}"


def column_order(scores: Sequence[SetScores]) -> list[SetScores]:
    """Sets in the order of the task declarations (denoising by strength, deraining, dehazing), then others."""
    order = list(TASKS)

    def key(item: SetScores) -> tuple[int, str, float]:
        task_rank = order.index(item.task) if item.task in order else len(order)
        base, level = _split_level(item.name, item.task)
        return task_rank, base, level or 0.0

    return sorted(scores, key=key)


def cell(psnr: float, ssim: float) -> str:
    return f"{psnr:.2f}/{ssim:.4f}"


def average(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def table_rows(rows: Mapping[str, Sequence[SetScores]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a table: ``rows`` maps a row name to its scores (the same sets in each)."""
    first = column_order(next(iter(rows.values())))
    header = ["Method", *(column_title(s.name, s.task) for s in first), "Average"]
    body = []
    for row_name, scores in rows.items():
        by_name = {s.name: s for s in scores}
        ordered = [by_name[s.name] for s in first]
        cells = [cell(s.psnr, s.ssim) for s in ordered]
        cells.append(cell(average([s.psnr for s in ordered]), average([s.ssim for s in ordered])))
        body.append([row_name, *cells])
    return header, body


def input_row(scores: Sequence[SetScores]) -> list[SetScores]:
    """The unrestored input as a row of its own (its scores against the target)."""
    return [
        SetScores(s.name, s.task, s.images, s.psnr_input, s.ssim_input, s.psnr_input, s.ssim_input, 0.0)
        for s in scores
    ]


def table1(scores: Sequence[SetScores], method: str) -> tuple[list[str], list[list[str]]]:
    """The paper's Table 1 layout: the input, then the method, PSNR/SSIM per set and on average."""
    return table_rows({"Input": input_row(scores), method: scores})


def output_vs_input_row(scores: Sequence[SetScores], method: str) -> list[str]:
    """PSNR of the output against the input per set (paper Fig. 7: a wrong prompt should move it little)."""
    values = [s.psnr_output_vs_input for s in column_order(scores)]
    return [f"{method}: PSNR(output, input)", *(f"{v:.2f}" for v in values), f"{average(values):.2f}"]


def markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def csv_text(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """The table as CSV, each PSNR/SSIM cell split into two columns."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    columns = [header[0]]
    for title in header[1:]:
        columns += [f"{title} PSNR", f"{title} SSIM"]
    writer.writerow(columns)
    for row in body:
        values = [row[0]]
        for text in row[1:]:
            psnr, _, ssim = text.partition("/")
            values += [psnr, ssim]
        writer.writerow(values)
    return stream.getvalue()
