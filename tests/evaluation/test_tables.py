"""Tables in the paper's layout: column order, cells, averages, CSV split."""

import csv
import io

import pytest

from tpir.evaluation.scores import SetScores
from tpir.evaluation.tables import csv_text, markdown, output_vs_input_row, table1


def scores(name: str, task: str, psnr: float, ssim: float) -> SetScores:
    return SetScores(name, task, 3, psnr, ssim, psnr - 5, ssim - 0.2, psnr - 2)


@pytest.fixture
def results() -> list[SetScores]:
    # Deliberately out of order: the table sorts denoise by sigma, then derain, then dehaze.
    return [
        scores("SOTS", "dehaze", 20.0, 0.8),
        scores("CBSD68_sigma50", "denoise", 26.0, 0.7),
        scores("Rain100L", "derain", 30.0, 0.9),
        scores("CBSD68_sigma15", "denoise", 33.0, 0.9),
        scores("CBSD68_sigma25", "denoise", 30.0, 0.8),
    ]


def test_table1_has_the_papers_columns_and_rows(results: list[SetScores]) -> None:
    header, body = table1(results, "tpir (demo)")
    assert header == [
        "Method",
        "Denoise CBSD68 σ=15",
        "Denoise CBSD68 σ=25",
        "Denoise CBSD68 σ=50",
        "Derain Rain100L",
        "Dehaze SOTS",
        "Average",
    ]
    assert [row[0] for row in body] == ["Input", "tpir (demo)"]
    assert body[1][1:] == [
        "33.00/0.9000",
        "30.00/0.8000",
        "26.00/0.7000",
        "30.00/0.9000",
        "20.00/0.8000",
        "27.80/0.8200",
    ]
    assert body[0][1] == "28.00/0.7000"  # the input row holds the input's scores


def test_markdown_and_csv_carry_the_same_numbers(results: list[SetScores]) -> None:
    header, body = table1(results, "m")
    lines = markdown(header, body).splitlines()
    assert len(lines) == 4 and lines[1].count("---") == len(header)
    rows = list(csv.reader(io.StringIO(csv_text(header, body))))
    assert rows[0][:3] == ["Method", "Denoise CBSD68 σ=15 PSNR", "Denoise CBSD68 σ=15 SSIM"]
    assert len(rows[0]) == 1 + 2 * (len(header) - 1)
    assert rows[2][-2:] == ["27.80", "0.8200"]


def test_output_vs_input_row_follows_the_column_order(results: list[SetScores]) -> None:
    row = output_vs_input_row(results, "m")
    assert row[1:] == ["31.00", "28.00", "24.00", "28.00", "18.00", "25.80"]
